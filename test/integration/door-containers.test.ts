// Containers from the host (issue 18): a target in its own PID, mount and network namespaces, as
// Docker and Kubernetes start one, started here with util-linux's unshare, works for every command
// from the host: PyFlight reaches its door through /proc/<pid>/root, maps thread ids to the host's,
// reads native stacks from inside its PID namespace, and loads its agent once.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { CLI, FIXTURES, ROOT, VENV_PYTHON } from '../support/fixtures';
import { listeningTcpPorts } from '../support/door';

const isRoot = process.getuid?.() === 0;
const hasUnshare = existsSync('/usr/bin/unshare') && existsSync('/usr/bin/nsenter');

interface NsTarget { pid: number; launcher: ChildProcess; output: () => string }
const started: NsTarget[] = [];

/**
 * busy_service.py under `unshare` with these namespaces; `privateTmp` mounts a tmpfs on its /tmp (a
 * container's or PrivateTmp's own /tmp). Resolves with the python's host pid once it prints READY.
 */
async function startNamespaced(flags: string[], privateTmp: boolean): Promise<NsTarget> {
  const python = [VENV_PYTHON, 'busy_service.py'];
  // With a tmpfs on /tmp, a shell mounts it inside the new mount namespace, then becomes python.
  // A checkout under /tmp (a CI clone) would vanish under the tmpfs: it is bound back in through /mnt.
  const keep = ROOT.startsWith('/tmp/')
    ? ` && mkdir -p ${ROOT} && mount --bind /mnt/${ROOT.slice('/tmp/'.length)} ${ROOT} && umount /mnt` : '';
  const mountTmp = ROOT.startsWith('/tmp/') ? `mount --bind /tmp /mnt && mount -t tmpfs tmpfs /tmp${keep}` : 'mount -t tmpfs tmpfs /tmp';
  const command = privateTmp ? ['sh', '-c', `${mountTmp} && exec ${python.join(' ')}`] : python;
  const launcher = spawn('unshare', [...flags, '--propagation', 'private', ...command], { cwd: FIXTURES, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  launcher.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  launcher.stderr!.on('data', (c: Buffer) => { out += c.toString(); });
  const target: NsTarget = { pid: 0, launcher, output: () => out };
  started.push(target);
  const end = Date.now() + 20_000;
  while (!/READY \d+/.test(out)) {
    if (launcher.exitCode !== null) throw new Error(`unshare exited ${launcher.exitCode}: ${out}`);
    if (Date.now() > end) throw new Error(`namespaced target not ready: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  // With --fork the python is unshare's child; without, unshare (then sh) became the python.
  const children = readFileSync(`/proc/${launcher.pid}/task/${launcher.pid}/children`, 'utf8').trim();
  target.pid = flags.includes('--fork') ? Number(children.split(/\s+/)[0]) : launcher.pid!;
  assert.match(readFileSync(`/proc/${target.pid}/cmdline`, 'utf8'), /busy_service\.py/);
  return target;
}

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 180_000, cwd: ROOT });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function json<T>(run: { status: number | null; stdout: string; stderr: string }): T {
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as T;
}

/** The distinct agent library copies mapped in the process. */
function agentCopies(pid: number): string[] {
  return [...new Set(readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter((l) => l.includes('flight_profiler_agent'))
    .map((l) => l.split(/\s+/).slice(5).join(' ')))];
}

/** {tid in the namespace: host tid} of the target's threads. */
function nsTids(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of spawnSync('ls', [`/proc/${pid}/task`], { encoding: 'utf8' }).stdout.trim().split(/\s+/).map(Number)) {
    const ns = /^NSpid:\s+(.+)$/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))![1].trim().split(/\s+/).map(Number);
    out.set(ns[ns.length - 1], tid);
  }
  return out;
}

type Stack = { threads: { tid: number; nsTid?: number; name: string | null; nativeFrames?: { function: string }[]; frames: { function: string }[] }[] };

const VARIANTS: { name: string; flags: string[]; privateTmp: boolean; pidNs: boolean }[] = [
  { name: 'unshare --fork --pid --mount-proc', flags: ['--fork', '--kill-child', '--pid', '--mount-proc'], privateTmp: false, pidNs: true },
  { name: 'unshare --fork --pid --mount-proc --net', flags: ['--fork', '--kill-child', '--pid', '--mount-proc', '--net'], privateTmp: false, pidNs: true },
  { name: 'unshare --mount with a private /tmp', flags: ['--mount'], privateTmp: true, pidNs: false },
  { name: 'all of them (pid, mount-proc, net, a private /tmp): a container as Docker starts one', flags: ['--fork', '--kill-child', '--pid', '--mount-proc', '--net'], privateTmp: true, pidNs: true },
];

describe('containers: a target in its own namespaces, from the host', function () {
  this.timeout(300_000);
  before(function () {
    if (!isRoot || !hasUnshare) {
      console.log(`    (skipped: ${!isRoot ? 'starting namespaced targets with unshare needs root' : 'util-linux unshare/nsenter are not installed'})`);
      this.skip();
    }
  });
  afterEach(async () => {
    for (const t of started.splice(0)) {
      if (t.pid) spawnSync('kill', ['-KILL', String(t.pid)]);
      t.launcher.kill('SIGKILL');
    }
  });

  for (const variant of VARIANTS) {
    it(`${variant.name}: stack (names, host tids), native stack, watch twice (one agent), getglobal, eval, perf; processes marks it`, async () => {
      const target = await startNamespaced(variant.flags, variant.privateTmp);
      const pid = String(target.pid);
      const map = nsTids(target.pid);

      const stack = json<Stack>(cli('stack', pid, '--json'));
      const worker = stack.threads.find((t) => t.name === 'request-worker');
      assert.ok(worker, JSON.stringify(stack.threads.map((t) => [t.tid, t.name])));
      assert.ok(stack.threads.some((t) => t.tid === target.pid && t.name === 'MainThread'), 'the main thread, by its host tid');
      for (const t of stack.threads) {
        assert.ok([...map.values()].includes(t.tid), `tid ${t.tid} is a host tid of the process`);
        if (variant.pidNs) assert.equal(map.get(t.nsTid!), t.tid, 'nsTid maps to tid');
      }

      const native = json<Stack>(cli('stack', pid, '--native', '--json'));
      const nativeWorker = native.threads.find((t) => t.name === 'request-worker');
      assert.ok(nativeWorker?.nativeFrames?.some((f) => /pthread|clone/.test(f.function)), JSON.stringify(nativeWorker).slice(0, 500));

      for (let i = 0; i < 2; i++) {
        const watch = cli('watch', pid, 'shop.orders', 'total_price', '-n', '1', '--json', '--timeout', '60');
        assert.equal(watch.status, 0, watch.stdout + watch.stderr);
        assert.match(watch.stdout, /total_price/);
      }
      assert.equal(agentCopies(target.pid).length, 1, `one agent: ${agentCopies(target.pid).join(', ')}`);
      assert.deepEqual(listeningTcpPorts(target.pid), [], 'no TCP port in its network namespace');

      const value = json<{ value: string }>(cli('getglobal', pid, 'shop.orders', '__name__', '--json'));
      assert.equal(value.value, '"shop.orders"');
      const evaluated = json<{ ok: boolean; value: string }>(cli('eval', pid, "__import__('os').getpid()", '--json'));
      assert.equal(evaluated.value, variant.pidNs ? '1' : pid, 'the process knows itself by its own namespace\'s pid');

      const perf = json<{ samples: number }>(cli('perf', pid, '-d', '2', '--json'));
      assert.ok(perf.samples > 0);

      const listed = json<{ pid: number; container?: { namespaces: string[]; nsPid?: number } }[]>(cli('processes', '--json'));
      const row = listed.find((p) => p.pid === target.pid);
      assert.ok(row?.container, `marked as in a container: ${JSON.stringify(row)}`);
      assert.ok(row.container.namespaces.includes(variant.pidNs ? 'pid' : 'mnt'), JSON.stringify(row.container));
      if (variant.pidNs) assert.equal(row.container.nsPid, 1);
      assert.ok(target.output().includes('READY'), 'still the same process');
    });
  }

  it('diagnose (slow) from the host on a target in its own pid and network namespaces', async () => {
    const target = await startNamespaced(VARIANTS[1].flags, false);
    const run = cli('diagnose', String(target.pid), 'requests are slow', '--kind', 'slow', '--budget', '20', '--json');
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /handle_request|compute_checksum/);
  });
});
