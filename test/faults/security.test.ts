// Security: nothing PyFlight starts listens beyond loopback, and no user or target string reaches
// a shell. (Webview CSP: test/unit/webview/webviewCsp.test.ts.)
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import { silentLogger } from '../../src/common/logger';
import { localHost } from '../../src/host/localHost';
import { instancesCommand } from '../../src/memory/memModel';
import { recordCpuProfile } from '../../src/profile/record';
import { Session } from '../../src/session/session';
import { ROOT, stopAllTargets, VENV_PYTHON } from '../support/fixtures';
import { assertNoLeftovers, descendantsOf, removeHeartbeatDirs, startBeatingTarget } from '../support/faults';

/** Socket inodes a process holds (its /proc/<pid>/fd links `socket:[inode]`). */
function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}


/** Listening TCP sockets of `pid`, seen in its own network namespace: "address:port" in /proc's hex. */
function listeningSockets(pid: number): { address: string; port: number }[] {
  const inodes = socketInodes(pid);
  const out: { address: string; port: number }[] = [];
  for (const table of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== '0A' || !inodes.has(cols[9])) continue; // 0A = LISTEN
      const [address, port] = cols[1].split(':');
      out.push({ address, port: parseInt(port, 16) });
    }
  }
  return out;
}

describe('faults: security', function () {
  this.timeout(120_000);
  after(async () => {
    await stopAllTargets();
    await assertNoLeftovers();
    removeHeartbeatDirs();
  });

  it('nothing PyFlight starts listens on TCP: the agent in the target (its door is a Unix socket), the helper, py-spy, this process', async () => {
    const target = await startBeatingTarget();
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    await session.attach();
    await session.loadAgent();
    const probe = session.startProbe('watch', { module: '__main__', class: 'Ledger', method: 'add', limit: 100_000 });
    await new Promise<void>((resolve) => probe.onDidRecord(() => resolve()));
    const abort = new AbortController();
    const profiling = recordCpuProfile({ pid: target.pid, host: localHost, preflightResult: { interpreter: { python: VENV_PYTHON } } }, {}, abort.signal);
    await new Promise((r) => setTimeout(r, 500)); // py-spy is running now
    try {
      const ours = [...new Set([target.pid, session.helperPid!, process.pid, ...descendantsOf(process.pid)])];
      const listening = ours.flatMap((pid) => listeningSockets(pid).map((s) => ({ pid, ...s })));
      assert.equal(session.attachResult!.kind, 'door');
      assert.deepEqual(listening, [], 'a TCP socket listens');
    } finally {
      abort.abort();
      await profiling;
      probe.stop();
      await probe.done;
      await session.detach();
    }
  });

  it('no shell: processes are started with argument vectors only (source scan of src/ and the helper)', () => {
    const files = [
      ...readdirSync(path.join(ROOT, 'src'), { recursive: true }).map(String).filter((f) => f.endsWith('.ts')).map((f) => path.join(ROOT, 'src', f)),
      ...['pyflight_helper', 'pyflight_agent'].flatMap((pkg) => readdirSync(path.join(ROOT, 'python', pkg), { recursive: true }).map(String)
        .filter((f) => f.endsWith('.py')).map((f) => path.join(ROOT, 'python', pkg, f))),
    ];
    // Node: a shell option, exec/execSync (they take a command line), a terminal's sendText, sh -c.
    // Python: shell=True, os.system, os.popen. (The helper's exec() runs Python inside the target: not a shell.)
    const nodeShell = /shell:\s*true|\bexecSync\b|import\s*\{[^}]*\bexec\b[^}]*\}\s*from\s*'node:child_process'|\.sendText\s*\(|spawn(Sync)?\(\s*'(ba)?sh'/;
    const pythonShell = /shell\s*=\s*True|\bos\.system\b|\bos\.popen\b|subprocess\.getoutput|subprocess\.getstatusoutput/;
    const hits = files.filter((f) => (f.endsWith('.py') ? pythonShell : nodeShell).test(readFileSync(f, 'utf8'))).map((f) => path.relative(ROOT, f));
    assert.deepEqual(hits, []);
  });

  it('the one command line PyFlight shows (list instances with vmtool) takes only a dotted class name', () => {
    assert.equal(instancesCommand('shop.orders.Order', 42)?.cli, 'pyflight vmtool 42 getInstances -c shop.orders Order -n 10');
    for (const hostile of ['x"; rm -rf ~; "', '$(touch /tmp/p)', '`id`', 'a b', 'a.b;c', "a'b", 'a\nb']) {
      assert.equal(instancesCommand(hostile, 42), undefined, hostile);
    }
  });
});
