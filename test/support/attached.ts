import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { silentLogger } from '../../src/common/logger';
import { Session, type SessionOptions } from '../../src/session/session';
import { CLI, ROOT, startForeignHelper, startTarget, stopAllTargets, TEST_OWNER_VAR, type Target } from './fixtures';

/** A fixture service started and attached (read-only) before the suite's tests; detached and stopped after them. */
export function useAttachedService(argv: string[], options: Partial<SessionOptions> = {}): { readonly service: Target; readonly session: Session } {
  let service: Target | undefined;
  let session: Session | undefined;
  before(async () => {
    service = await startTarget(argv);
    session = new Session(service.pid, { log: silentLogger, livenessIntervalMs: 500, ...options });
    await session.attach();
  });
  after(async () => {
    await session?.detach();
    await stopAllTargets();
  });
  return { get service() { return service!; }, get session() { return session!; } };
}

/** Another user's PyFlight helper alive during the suite, as on a shared machine: what the tests
 * check must neither count nor touch it. Call it before useAttachedService so it runs first. */
export function useForeignHelper(): { readonly pid: number } {
  let foreign: ReturnType<typeof startForeignHelper> | undefined;
  before(() => { foreign = startForeignHelper(); });
  after(async () => { await foreign?.stop(); });
  return { get pid() { return foreign!.pid; } };
}

let cliRuns = 0;

/** `pyflight <args> --json` as a user runs it, tagged so the test can find the helpers it started. */
export function pyflightJson(args: string[], ownerPrefix: string): { status: number | null; json: any; stderr: string; owner: string } {
  const owner = `${ownerPrefix}-${process.pid}-${++cliRuns}`;
  const r = spawnSync(process.execPath, [CLI, ...args, '--json'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000,
    env: { ...process.env, PYFLIGHT_HELPER_PATH: path.join(ROOT, 'python'), [TEST_OWNER_VAR]: owner } });
  let json: any;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    assert.fail(`not JSON (exit ${r.status}): ${r.stdout}\n${r.stderr}`);
  }
  return { status: r.status, json, stderr: r.stderr, owner };
}
