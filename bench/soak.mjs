// `npm run bench -- soak`: 100 attach/detach and 100 watch start/stop cycles on one target
// (test/fixtures/heartbeat.py), then what is left: PyFlight processes, file descriptors of this
// process (the extension host's stand-in), probes in the target, and the watched function's cost
// after / before. The same routine as the faults lane's soak test (test/support/soak.ts).
import { build } from 'esbuild';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const ATTACH = Number(process.env.BENCH_SOAK_ATTACH ?? 100);
const WATCH = Number(process.env.BENCH_SOAK_WATCH ?? 100);

export async function benchSoak() {
  // Bundled under out/test/<dir>/ like the test bundles: test/support finds the repo root from there.
  const outfile = join(root, 'out', 'test', 'bench', 'soak.js');
  await build({
    stdin: {
      contents: "export { soak } from './test/support/soak'; export { startBeatingTarget, removeHeartbeatDirs } from './test/support/faults';"
        + " export { stopAllTargets } from './test/support/fixtures';",
      resolveDir: root, loader: 'ts', sourcefile: 'soak-entry.ts',
    },
    bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile, logLevel: 'warning',
  });
  const { soak, startBeatingTarget, removeHeartbeatDirs, stopAllTargets } = await import(outfile);
  const target = await startBeatingTarget();
  try {
    const { orphans, ...result } = await soak(target, { attach: ATTACH, watch: WATCH });
    if (orphans.length) console.error(`soak: left behind:\n${orphans.join('\n')}`);
    return { ...result, goal: 'orphan_processes 0, leaked_fds 0, probes_left 0, cost_ratio about 1' };
  } finally {
    await stopAllTargets();
    removeHeartbeatDirs();
  }
}
