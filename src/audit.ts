// The audit trail: one structured event per deletion (and per task already gone, and per permanent
// failure) with everything needed to answer "who deleted this and why", as log events and, with
// JANITOR_AUDIT_FILE, as JSON lines appended to a file.
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Logger } from './logger.js';
import type { RunObserver } from './observer.js';
import { watchTaskOutcomes, type TaskOutcome } from './outcomes.js';
import { labelOf } from './queue.js';
import { scopeOf } from './scope.js';
import { formatDuration } from './units.js';

/** One audit line. Field names are a contract with whoever reads the file: add, never rename. */
export interface AuditEvent {
  readonly time: string;
  readonly event: 'task deleted' | 'task already gone' | 'task deletion failed';
  readonly runId: string;
  readonly jobId: string;
  readonly provider: string;
  readonly region: string | null;
  readonly project: string;
  /** The configured target the task was listed under (the project, or `region:project[/instance]`). */
  readonly target: string;
  readonly instanceId?: string;
  readonly taskId: string;
  /** The task's name or type, as the provider lists it. */
  readonly label: string | null;
  readonly state: string;
  /** The timestamp field the age was measured from and its value when listed. */
  readonly agedFrom: { readonly field: string; readonly at: string };
  readonly ageMs: number;
  readonly age: string;
  /** The rule that selected the task. */
  readonly rule: { readonly states: readonly string[]; readonly retentionMs: number; readonly retention: string };
  readonly requestId: string | null;
  readonly attempts: number;
  /** For a failure: the provider's code and message. */
  readonly code?: string;
  readonly error?: string;
}

export interface AuditTrail {
  readonly observer: RunObserver;
  close(): void;
}

/** Thrown when JANITOR_AUDIT_FILE cannot be opened for appending. */
export class AuditFileError extends Error {}

/** Opens the audit file (when given) for appending; every event is written with its own write(2). */
export function createAuditTrail(options: { readonly logger: Logger; readonly file: string | undefined }): AuditTrail {
  let fd: number | undefined;
  if (options.file !== undefined) {
    try {
      fd = openSync(options.file, 'a', 0o640);
    } catch (err) {
      throw new AuditFileError(`JANITOR_AUDIT_FILE: cannot open ${JSON.stringify(options.file)} for appending (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); expected a writable file path`);
    }
  }
  const log = options.logger.child({ audit: true });
  const record = (outcome: TaskOutcome) => {
    const event = auditEventFor(outcome);
    if (!event) return;
    log.info(event, `audit: ${event.event}`);
    if (fd === undefined) return;
    try {
      // No buffering in the process: once the event is logged, the line is in the kernel's hands.
      writeSync(fd, `${JSON.stringify(event)}\n`);
    } catch (err) {
      log.error({ err, file: options.file, taskId: event.taskId }, 'audit file write failed');
    }
  };
  return {
    observer: { workerStarted: (worker, pc) => watchTaskOutcomes(worker, pc, record) },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

const EVENTS = { deleted: 'task deleted', gone: 'task already gone', failed: 'task deletion failed' } as const;

/** The audit event of one settled task; none for a task the re-check kept. */
export function auditEventFor(outcome: TaskOutcome): AuditEvent | undefined {
  if (outcome.result === 'skipped') return undefined;
  const { task, provider } = outcome;
  const scope = scopeOf(provider.scopes, outcome.target);
  const ageMs = outcome.settledAt.getTime() - Date.parse(task.agedFrom.at);
  const split = outcome.result === 'failed' && outcome.detail !== undefined ? splitProviderError(outcome.detail) : undefined;
  const failure = split && { ...split, ...(outcome.code ? { code: outcome.code } : {}) };
  return {
    time: outcome.settledAt.toISOString(),
    event: EVENTS[outcome.result],
    runId: outcome.runId,
    jobId: outcome.jobId,
    provider: provider.name,
    region: scope?.region ?? provider.region ?? null,
    project: scope?.project ?? outcome.target,
    target: outcome.target,
    ...(scope?.instanceId ? { instanceId: scope.instanceId } : {}),
    taskId: task.id,
    label: labelOf(task) ?? null,
    state: task.states.join('+'),
    agedFrom: task.agedFrom,
    ageMs,
    age: formatDuration(ageMs),
    rule: { states: provider.states, retentionMs: provider.retentionMs, retention: formatDuration(provider.retentionMs) },
    requestId: outcome.requestId ?? null,
    attempts: outcome.attempts,
    ...(failure ? { ...(failure.code ? { code: failure.code } : {}), error: failure.message } : {}),
  };
}

/**
 * Provider errors read `CODE: message` (or `HTTP 503: message`); several joined by `; `. The first
 * code is the one reported; the message is kept whole.
 */
export function splitProviderError(text: string): { readonly code?: string; readonly message: string } {
  const match = /^((?:HTTP \d{3})|[A-Za-z][\w.-]*): /.exec(text);
  return match?.[1] ? { code: match[1], message: text } : { message: text };
}
