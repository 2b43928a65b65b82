/**
 * `pyflight torch <pid> profile <module> [class] <method> [--out DIR] [--json]`,
 * `pyflight torch <pid> memory --snapshot [--json]`,
 * `pyflight torch <pid> memory --record <module> [class] <method> [--json]`.
 * Profile and record wait for the next call of the function (Ctrl+C stops waiting and removes the
 * wrapper); the file goes to a fresh directory (or --out DIR), its path and a summary to stdout.
 */
import { mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import type { Logger } from '../common/logger';
import { profileTorchCall, torchMemoryRun } from '../torch/torchRun';
import { memorySummaryLines, profileSummaryLines } from '../torch/torchText';
import { location, parsePid, usageError, type ParsedArgs } from './args';
import type { WithSession } from './withSession';

/** --out DIR (created if needed); without it a fresh directory per run (torch/torchRun.ts). */
async function outputDir(args: ParsedArgs): Promise<string | undefined> {
  const out = args.values.get('--out');
  if (!out) return undefined;
  const dir = path.resolve(out);
  await mkdir(dir, { recursive: true });
  return dir;
}

export async function runTorch(args: ParsedArgs, log: Logger, withSession: WithSession): Promise<unknown> {
  const [pidText, action, ...words] = args.positional;
  const pid = parsePid(pidText);
  const json = args.flags.has('json');
  const nested = args.values.get('-nm');
  const waiting = (what: string) => () => process.stderr.write(`pyflight: waiting for the next call of ${what} (Ctrl+C to stop)…\n`);
  if (action === 'profile') {
    const where = { ...location(words), ...(nested ? { nested } : {}) };
    const label = [where.module, where.class, where.method].filter(Boolean).join(' ');
    const dir = await outputDir(args);
    const run = await withSession(pid, args, log, (s, stop) => profileTorchCall(s, where, { outputDir: dir, signal: stop, onWaiting: waiting(label) }));
    return json ? { ...run.result, summary: run.summary } : profileSummaryLines(run.result, run.summary, label).join('\n');
  }
  if (action === 'memory') {
    const record = args.flags.has('record');
    if (record === args.flags.has('snapshot')) throw usageError('torch memory takes --snapshot, or --record <module> [class] <method>.');
    const where = record ? { ...location(words), ...(nested ? { nested } : {}) } : undefined;
    const label = where ? [where.module, where.class, where.method].filter(Boolean).join(' ') : '';
    const dir = await outputDir(args);
    const result = await withSession(pid, args, log, (s, stop) => torchMemoryRun(s, { record: where },
      { outputDir: dir, signal: stop, onWaiting: waiting(label) }));
    return json ? result : memorySummaryLines(result, record ? `record of one call of ${label}` : 'snapshot').join('\n');
  }
  throw usageError('torch takes profile <module> [class] <method>, memory --snapshot or memory --record <module> [class] <method>.');
}
