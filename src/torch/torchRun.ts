/**
 * Running a torch command end to end, vscode-free: a fresh output directory PyFlight owns, the
 * session's request, then the summary read from the produced file. The CLI, the editor and the
 * diagnosis call these.
 */
import { readFile, rmdir } from 'node:fs/promises';
import { ErrorCode, PyFlightError } from '../common/errors';
import type { TargetHost, TargetProcess } from '../host/targetHost';
import type { TorchMemoryResult, TorchProfileParams, TorchProfileResult } from '../protocol/helper';
import type { HelperCaller } from '../protocol/methods';
import { summarizeTrace, type TorchTraceSummary } from './traceSummary';

export type TorchLocation = Omit<TorchProfileParams, 'outputDir'>;

/** What these need of a session (a `Session` is one). */
export interface TorchTarget extends HelperCaller, TargetProcess {}

/**
 * A new directory (mode 0700) under `base` (default the OS temp dir) for one run's file. The target
 * writes into a private directory in its own /tmp and the helper moves the file here, so neither the
 * target's cwd nor a shared path is touched.
 */
export function freshOutputDir(host: TargetHost, base?: string): Promise<string> {
  return host.privateDir('pyflight-torch-', base);
}

export interface TorchProfileRun {
  result: TorchProfileResult;
  summary: TorchTraceSummary;
}

export async function profileTorchCall(target: TorchTarget, where: TorchLocation, options: { outputDir?: string; signal?: AbortSignal;
  onWaiting?: () => void; onProgress?: (stage: string, detail?: string | null) => void; limit?: number } = {}): Promise<TorchProfileRun> {
  const outputDir = options.outputDir ?? await freshOutputDir(target.host);
  const result = await removeIfEmptyOnFailure(outputDir, !options.outputDir,
    target.call('torchProfile', { ...where, outputDir }, { signal: options.signal, onWaiting: options.onWaiting, onProgress: options.onProgress }));
  return { result, summary: await readTraceSummary(result.file, options.limit) };
}

export async function readTraceSummary(file: string, limit?: number): Promise<TorchTraceSummary> {
  let trace: unknown;
  try {
    trace = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new PyFlightError(ErrorCode.Internal, `The torch profile ${file} is not a readable Chrome trace: ${(error as Error).message}.`,
      'Open it in chrome://tracing or https://ui.perfetto.dev to see what it holds.');
  }
  return summarizeTrace(trace, limit);
}

export async function torchMemoryRun(target: TorchTarget, what: { record?: TorchLocation }, options: { outputDir?: string;
  signal?: AbortSignal; onWaiting?: () => void; limit?: number } = {}): Promise<TorchMemoryResult> {
  const outputDir = options.outputDir ?? await freshOutputDir(target.host);
  return removeIfEmptyOnFailure(outputDir, !options.outputDir, target.call('torchMemory', { ...(what.record ? { record: true, ...what.record } : {}), outputDir, limit: options.limit }, { signal: options.signal, onWaiting: options.onWaiting }));
}

/** A run that fails leaves no empty directory behind (rmdir refuses a non-empty one). */
async function removeIfEmptyOnFailure<T>(dir: string, ours: boolean, run: Promise<T>): Promise<T> {
  try {
    return await run;
  } catch (error) {
    if (ours) await rmdir(dir).catch(() => undefined);
    throw error;
  }
}
