// Containers from the host (issue 18): a target in its own PID, mount and network namespaces, as
// Docker and Kubernetes start one, started here with util-linux's unshare, works for every command
// from the host: PyFlight reaches its door through /proc/<pid>/root, maps thread ids to the host's,
// reads native stacks from inside its PID namespace, and loads its agent once.
import assert from 'node:assert/strict';
import { cliSync as cli, jsonOf as json } from '../support/cli';
import { listeningTcpPorts } from '../support/door';
import { agentCopies, namespacesUnavailable, nsTids, startNamespaced, stopNamespaced } from '../support/namespaces';

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
    if (namespacesUnavailable) {
      console.log(`    (skipped: ${namespacesUnavailable})`);
      this.skip();
    }
  });
  afterEach(() => stopNamespaced());

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

      const perf = json<{ samples: number }>(cli('perf', pid, '-d', '2', '--idle', '--json'));
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
    // cpu_service.py: its requests burn CPU in score_order (busy_service.py mostly sleeps: nothing to find).
    const target = await startNamespaced(VARIANTS[1].flags, false, undefined, 'cpu_service.py');
    const run = cli('diagnose', String(target.pid), 'requests are slow', '--kind', 'slow', '--budget', '20', '--json');
    assert.equal(run.status, 0, run.stdout + run.stderr);
    const report = JSON.parse(run.stdout.trim().split('\n').pop()!) as { findings: { title: string; location: { function: string } | null }[] };
    assert.ok(report.findings.slice(0, 2).some((f) => /score_order/.test(`${f.title} ${f.location?.function}`)), run.stdout.slice(0, 1500));
  });
});
