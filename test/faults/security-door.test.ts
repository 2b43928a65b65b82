// Security lane, the door (issue 18): PyFlight's agent answers only the target's user or root, opens
// no TCP port, and an agent loaded with code execution off refuses code itself, whoever asks. The
// refusals are proven with a raw client of the protocol (test/support/door_client.py, stdlib only:
// what any local program could write), not through PyFlight's UI.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { silentLogger } from '../../src/common/logger';
import { Session } from '../../src/session/session';
import { doorCall, listeningTcpPorts, OTHER_USER, otherUserPython } from '../support/door';
import { assertTargetHealthy, removeHeartbeatDirs, startBeatingTarget, type BeatingTarget } from '../support/faults';
import { CLI, FIXTURES, ROOT, stopAllTargets, VENV_PYTHON } from '../support/fixtures';

const DOOR_CLIENT = path.join(ROOT, 'test', 'support', 'door_client.py');
const isRoot = process.getuid?.() === 0;

interface RawAnswer { status: number | null; frames: string[]; lines: Record<string, unknown>[] }

/** One request with the raw client; `asNobody` runs it as uid 65534 (with Debian's python: /root is closed to others). */
function raw(socket: string, target: string, param = '', asNobody = false): RawAnswer {
  const argv = [DOOR_CLIENT, socket, target, param];
  const run = asNobody
    ? spawnSync('setpriv', [...OTHER_USER, '/usr/bin/python3', ...argv], { encoding: 'utf8', timeout: 30_000 })
    : spawnSync(VENV_PYTHON, argv, { encoding: 'utf8', timeout: 30_000 });
  const lines = run.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { status: run.status, lines, frames: lines.filter((l) => 'frame' in l).map((l) => String(l.frame)) };
}

/** The refusal a raw request got: {code, message, hint}, or a failure naming what came back instead. */
function refusal(answer: RawAnswer): { code: string; message: string; hint?: string } {
  const frame = answer.frames.find((f) => f.startsWith('PYFLIGHT-REFUSED '));
  assert.ok(frame, `not refused: ${JSON.stringify(answer.lines).slice(0, 600)}`);
  return JSON.parse(frame.slice('PYFLIGHT-REFUSED '.length)) as { code: string; message: string; hint?: string };
}

function call(name: string, ...args: unknown[]): string {
  return JSON.stringify({ call: name, args });
}

async function until<T>(what: string, read: () => T | undefined, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('faults: security — the door (a root target, its agent loaded with code execution off)', function () {
  this.timeout(180_000);
  let target: BeatingTarget;
  let session: Session;
  let door: string; // the socket's path as the target sees it
  let viaProc: string; // the same socket through /proc/<pid>/root (root's way in, whatever the target's mount namespace)
  const agentLog: string[] = [];

  before(async function () {
    if (!isRoot) {
      console.log('    (skipped: the security lane needs root, to start a root target and a uid-65534 client with setpriv)');
      this.skip();
    }
    target = await startBeatingTarget();
    session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0, allowCode: false });
    await session.attach();
    await session.loadAgent();
    assert.equal(session.attachResult!.kind, 'door');
    door = session.attachResult!.door!;
    viaProc = `/proc/${target.pid}/root${door}`;
  });

  after(async () => {
    await session?.detach();
    await stopAllTargets();
    removeHeartbeatDirs();
  });

  /** The agent's log lines so far (draining it: kept here for later tests). */
  function readAgentLog(): string[] {
    agentLog.push(...doorCall<string[]>(target.pid, 'agent.log'));
    return agentLog;
  }

  it('the door is a socket in a 0700 directory of the target user, mode 0600; no TCP port of the target listens', () => {
    const dir = statSync(path.dirname(viaProc));
    assert.equal(dir.mode & 0o777, 0o700);
    assert.equal(dir.uid, 0);
    assert.equal(statSync(viaProc).mode & 0o777, 0o600);
    assert.deepEqual(listeningTcpPorts(target.pid), []);
  });

  it('uid 65534 at the real path: the directory refuses it (EACCES); nothing reaches the agent', () => {
    const answer = raw(door, 'status', '', true);
    assert.deepEqual(answer.lines, [{ connect: 'PermissionError', errno: 13 }]);
    assert.equal(answer.status, 4);
  });

  it('uid 65534 with the directory and socket opened for a moment: the peer-credential check closes the connection, no frame; the agent logs the refusal', async () => {
    const dirPath = path.dirname(viaProc);
    chmodSync(dirPath, 0o711);
    chmodSync(viaProc, 0o666);
    let answers: RawAnswer[];
    try {
      answers = [raw(door, 'status', '', true), raw(door, 'getglobal', ' __main__ HEARTBEAT', true),
        raw(door, 'pyflight', call('agent.status'), true)];
    } finally {
      chmodSync(viaProc, 0o600);
      chmodSync(dirPath, 0o700);
    }
    for (const answer of answers) {
      assert.deepEqual(answer.frames, [], `an answer came back: ${JSON.stringify(answer.lines)}`);
      assert.equal(answer.status, 3, JSON.stringify(answer.lines));
    }
    await until('the refusals in the agent log', () =>
      readAgentLog().filter((l) => l.includes('refused a connection from uid 65534')).length >= 3 ? true : undefined);
    assert.equal(statSync(dirPath).mode & 0o777, 0o700, 'modes restored');
  });

  it('code execution off: the agent itself refuses getglobal -e, vmtool forceGc and -e, watch --expr, trace -f, tt -p, reload and live.api; flight-profiler\'s console always', () => {
    // flight-profiler's console is refused with code execution on too: it frees the stream it swaps
    // in for every thread while they may be printing (python/tests/test_door_policy.py).
    const console = refusal(raw(viaProc, 'console', ''));
    assert.equal(console?.code, 'UNSAFE_IN_TARGET');
    assert.match(console!.hint ?? "", /Open Console/);
    const requests: [string, string][] = [
      ['getglobal', ' __main__ HEARTBEAT -e "__import__(\'os\').getpid()"'],
      ['vmtool', ' -a forceGc'],
      ['vmtool', ' -a getInstances -c __main__ Ledger -e "len(instances)"'],
      ['watch', 'on __main__ beat --expr "__import__(\'os\').getpid()" -n 1'],
      ['trace', 'on __main__ beat -f "True" -n 1'],
      ['tt', 'on -i 1000 -p'],
      ['reload', '__main__ beat'],
      ['pyflight', call('live.api', 'eval', { expression: '1+1' })],
      ['pyflight', call('reads.instances', '__main__', 'Ledger', 1, 1, false, false, 'len(instances)')],
    ];
    for (const [what, param] of requests) {
      const answer = raw(viaProc, what, param);
      const refused = what === 'pyflight'
        ? (JSON.parse(answer.frames[0] ?? '{}') as { error?: { code: string; message: string } }).error
        : refusal(answer);
      assert.equal(refused?.code, 'CODE_EXECUTION_OFF', `${what} ${param}: ${JSON.stringify(answer.lines)}`);
      assert.match(refused!.message, /code execution off/);
      assert.equal(answer.frames.length, 1, `${what}: one refusal frame, nothing else`);
    }
  });

  it('…while observation works: plain getglobal, stack, mem, instances without an expression, and PyFlight\'s own watch (its renderer call)', async () => {
    const value = raw(viaProc, 'getglobal', ' __main__ HEARTBEAT -r');
    assert.equal(value.frames.length, 1);
    assert.match(value.frames[0], /^<pickle \d+ bytes>$/, 'a value came back');
    assert.equal((await session.getglobal({ module: '__main__', field: 'HEARTBEAT', raw: true })).value, `'${target.heartbeatFile}'`);
    const stacks = await session.call('stack', {});
    assert.ok(stacks.threads.some((t) => t.name === 'MainThread' && t.frames.length > 0));
    const mem = await session.call('memSummary', { limit: 5 });
    assert.equal(mem.rows.length, 5);
    const instances = await session.call('getInstances', { module: '__main__', class: 'Ledger' }).catch((e: { code?: string }) => e);
    assert.ok(!('code' in instances) || instances.code === 'NO_INSTANCES', `listing instances is observation: ${JSON.stringify(instances)}`);
    const probe = session.startProbe('watch', { module: '__main__', method: 'beat', limit: 2 });
    const records: { arguments?: string | null; returnValue?: string | null }[] = [];
    probe.onDidRecord((r) => records.push(r as never));
    const summary = await probe.done;
    assert.equal(summary.reason, 'limit', JSON.stringify(summary));
    assert.equal(records.length, 2);
    assert.match(String(records[0].arguments), /^n=\d+$/, 'the arguments, rendered in the target by PyFlight\'s own function');
  });

  it('…and PyFlight\'s code-running commands say CODE_EXECUTION_OFF with a next step (eval, Force GC, replay, a watch expression)', async () => {
    const codes: [string, () => Promise<unknown>][] = [
      ['eval', () => session.call('eval', { expression: '1+1' })],
      ['forceGc', () => session.call('forceGc', {})],
      ['consoleOpen', () => session.call('consoleOpen', { id: 'security-test' })],
      ['reloadApply', () => session.call('reloadApply', { module: '__main__', function: 'beat' })],
      ['getInstances -e', () => session.call('getInstances', { module: '__main__', class: 'Ledger', expr: 'len(instances)' })],
    ];
    const expressionWatch = session.startProbe('watch', { module: '__main__', method: 'beat', expr: 'args[0] * 3', limit: 1 });
    codes.push(['watch --expr', () => expressionWatch.done]);
    for (const [what, run] of codes) {
      await assert.rejects(run(), (e: { code?: string; hint?: string }) => {
        assert.equal(e.code, 'CODE_EXECUTION_OFF', what);
        assert.ok(e.hint && /restart the process/i.test(e.hint), `${what}: ${e.hint}`);
        return true;
      }, what);
    }
    // A session that would allow code finds this agent and learns its policy: it refuses before sending anything.
    assert.equal(session.attachResult!.allowCode, false);
    const other = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0, allowCode: true });
    try {
      await other.attach();
      await other.loadAgent();
      assert.deepEqual([other.attachResult!.reused, other.attachResult!.allowCode], [true, false]);
      assert.throws(() => other.requireCodeExecution('Evaluate'), (e: { code?: string; message?: string }) =>
        e.code === 'CODE_EXECUTION_OFF' && /loaded with code execution off/.test(e.message ?? ''));
    } finally {
      await other.detach();
    }
    await assertTargetHealthy(target);
  });

  it('a module the process never imported (`this`) is refused for every command that names one; nothing prints the Zen of Python', async () => {
    for (const [what, param] of [['getglobal', ' this s'], ['watch', 'on this ThisClass method -n 1'], ['trace', 'on this f -n 1'],
      ['vmtool', ' -a getInstances -c this X']] as [string, string][]) {
      assert.equal(refusal(raw(viaProc, what, param)).code, 'MODULE_NOT_FOUND', `${what} ${param}`);
    }
    await assert.rejects(session.getglobal({ module: 'this', field: 's' }), { code: 'MODULE_NOT_FOUND' });
    assert.equal(doorCall<boolean>(target.pid, 'reads.imported', 'this'), false);
    await new Promise((r) => setTimeout(r, 300)); // the target's output pipe, read by this process
    assert.doesNotMatch(target.output(), /Beautiful is better than ugly/);
  });
});

describe('faults: security — PyFlight run as a non-root user on that user\'s own target', function () {
  this.timeout(240_000);
  after(async () => {
    await stopAllTargets();
  });

  it('watch, stack --native, getglobal and eval work as uid 65534 on its own process; the door is its own', async function () {
    if (!isRoot || !existsSync('/usr/bin/setpriv')) {
      console.log('    (skipped: needs root to start a target and PyFlight as uid 65534 with setpriv)');
      this.skip();
    }
    const python = otherUserPython();
    const child = spawn('setpriv', [...OTHER_USER, python, 'busy_service.py'], { cwd: FIXTURES, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const pid = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /READY (\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        child.once('exit', (code) => reject(new Error(`target exited ${code}: ${out}`)));
      });
      const cli = (...args: string[]) => spawnSync('setpriv', [...OTHER_USER, 'env', 'HOME=/tmp', process.execPath, CLI, ...args],
        { encoding: 'utf8', timeout: 120_000, env: { ...process.env, PYFLIGHT_HELPER_PATH: path.join(ROOT, 'python') } });
      const watch = cli('watch', String(pid), 'shop.orders', 'total_price', '-n', '1', '--json', '--timeout', '60');
      assert.equal(watch.status, 0, watch.stdout + watch.stderr);
      assert.match(watch.stdout, /"total_price\(items=\[1, 2, 3\]\)"|\[1, 2, 3\]/);
      const stacks = cli('stack', String(pid), '--native', '--json');
      assert.equal(stacks.status, 0, stacks.stdout + stacks.stderr);
      const threads = (JSON.parse(stacks.stdout) as { threads: { name: string; nativeFrames?: unknown[] }[] }).threads;
      assert.ok(threads.some((t) => t.name === 'request-worker' && (t.nativeFrames?.length ?? 0) > 0), stacks.stdout.slice(0, 400));
      const value = cli('getglobal', String(pid), 'shop.orders', '__name__', '--json');
      assert.equal(value.status, 0, value.stdout + value.stderr);
      const evaluated = cli('eval', String(pid), '6*7', '--json');
      assert.equal(evaluated.status, 0, evaluated.stdout + evaluated.stderr);
      assert.match(evaluated.stdout, /"42"/);
      const doorDir = doorCall<{ door: string }>(pid, 'agent.status').door;
      const st = statSync(`/proc/${pid}/root${path.dirname(doorDir)}`);
      assert.deepEqual([st.uid, st.mode & 0o777], [65534, 0o700], "the door's directory is the target user's");
    } finally {
      child.kill('SIGKILL');
    }
  });
});
