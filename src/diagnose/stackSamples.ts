/**
 * Repeated stack samples, read from outside (the helper's `stack`): what routing, the hang playbook
 * and the slow playbook's look at waits share. Each sample is reported as a step.
 */
import { ErrorCode, PyFlightError } from '../common/errors';
import { plural } from '../format/probeText';
import type { StackResult } from '../protocol/helper';
import type { HelperCaller } from '../protocol/methods';
import type { DiagnoseStep } from './playbookTypes';

/** What taking stack samples needs of a session. */
export interface StackTarget extends HelperCaller {
  pid: number;
}

export const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
  const done = () => { clearTimeout(timer); signal?.removeEventListener('abort', done); resolve(); };
  const timer = setTimeout(done, ms);
  signal?.addEventListener('abort', done, { once: true });
});

export function checkAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new PyFlightError(ErrorCode.Cancelled, 'The diagnosis was stopped.', 'Run it again when ready.');
}

/** Takes `count` more samples `gapMs` apart into `into` (which may hold earlier ones) and returns it. */
export async function sampleStacks(target: StackTarget, count: number, gapMs: number, signal: AbortSignal | undefined, onStep: DiagnoseStep,
  into: StackResult[] = []): Promise<StackResult[]> {
  for (let i = 0; i < count; i++) {
    checkAborted(signal);
    if (into.length) await sleep(gapMs, signal);
    into.push(await target.call('stack', {}, { signal }));
    onStep(`Stack sample ${into.length}: ${summarizeSample(into[into.length - 1])}`);
  }
  return into;
}

function summarizeSample(s: StackResult): string {
  const count = (a: string) => s.threads.filter((t) => t.activity === a).length;
  return `${plural(s.threads.length, 'thread')} — ${count('running')} running, ${count('blocked')} blocked on locks, ${count('waiting')} waiting, ${count('sleeping')} sleeping`;
}
