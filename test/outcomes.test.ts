// One outcome per task for the audit trail and the metrics, whatever the job's attempts did.
import { EventEmitter } from 'node:events';
import type { Job, Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { reportAttemptSettled, watchTaskOutcomes, type TaskOutcome } from '../src/outcomes.js';
import type { DeleteJobData, DeleteJobResult } from '../src/queue.js';

const config = loadConfig({ JANITOR_PROVIDERS: 'iotda', IOTDA_REGION: 'cn-north-4', IOTDA_PROJECT_ID: '0123456789abcdef0123456789abcdef', HUAWEICLOUD_AUTH_TOKEN: 't' });
const task = (id: string) => ({ id, states: ['Success'], agedFrom: { field: 'create_time', at: '2026-01-01T00:00:00.000Z' } });

function jobOf(data: Partial<DeleteJobData>, over: Record<string, unknown> = {}): Job<DeleteJobData> {
  return { id: 'job-1', attemptsMade: 0, data: { provider: 'iotda', target: 'p', runId: 'r', tasks: [task('a'), task('b'), task('c')], ...data }, ...over } as unknown as Job<DeleteJobData>;
}

describe('task outcomes', () => {
  it('reports a task once although a later attempt settles it again (its progress was lost with Redis), and never as failed afterwards', () => {
    const worker = new EventEmitter() as unknown as Worker<DeleteJobData, DeleteJobResult>;
    const seen: TaskOutcome[] = [];
    watchTaskOutcomes(worker, config.providers[0] as never, (o) => seen.push(o));
    // Attempt 1 deletes a; its progress never reached Redis. Attempt 2 reads a as gone and deletes b.
    reportAttemptSettled(worker, jobOf({}), [{ id: 'a', result: 'deleted', requestId: 'q1' }]);
    reportAttemptSettled(worker, jobOf({}, { attemptsMade: 1 }), [{ id: 'a', result: 'gone' }, { id: 'b', result: 'deleted' }]);
    // The job fails for good on c; Redis knows only b as settled.
    (worker as unknown as EventEmitter).emit('failed', jobOf({ done: [{ id: 'b', result: 'deleted' }], failures: [{ id: 'c', code: 'IOTDA.000005', message: 'IOTDA.000005: Forbidden.' }] }, { attemptsMade: 2, finishedOn: Date.now() }), new Error('IOTDA.000005: Forbidden.; HTTP 500: boom'));
    expect(seen.map((o) => [o.task.id, o.result, o.attempts, o.code])).toEqual([['a', 'deleted', 1, undefined], ['b', 'deleted', 2, undefined], ['c', 'failed', 2, 'IOTDA.000005']]);
    expect(seen.at(-1)?.detail).toBe('IOTDA.000005: Forbidden.');
  });
});
