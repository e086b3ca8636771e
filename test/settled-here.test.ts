// What a run counts for a job when this process's workers know more than Redis (src/tracker.ts withSettledHere).
import { describe, expect, it } from 'vitest';
import type { TaskResult } from '../src/queue.js';
import { withSettledHere } from '../src/tracker.js';

const deleted = (id: string): TaskResult => ({ id, result: 'deleted' });
const gone = (id: string): TaskResult => ({ id, result: 'gone' });
const kept = (id: string): TaskResult => ({ id, result: 'skipped', reason: 'changed-before-delete' });

describe('withSettledHere', () => {
  it.each([
    ['nothing known here: Redis as it is', [deleted('a'), gone('b')], undefined, [deleted('a'), gone('b')]],
    ['a task this process deleted, read "already gone" by a redone attempt, counts as deleted', [gone('a'), deleted('b')], [deleted('a')], [deleted('a'), deleted('b')]],
    ['Redis lost the job: what this process settled is all there is', [], [deleted('a'), kept('b')], [deleted('a'), kept('b')]],
    ['a later attempt\'s outcome in Redis wins over an earlier one here that was not a deletion', [deleted('a')], [gone('a')], [deleted('a')]],
    ['tasks only one side knows are all kept', [gone('c')], [deleted('a')], [gone('c'), deleted('a')]],
  ] as const)('%s', (_name, fromRedis, here, expected) => {
    expect(withSettledHere(fromRedis, here)).toEqual(expected);
  });
});
