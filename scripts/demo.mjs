// `npm run demo`: starts the demo service (demo/checkout_service.py — checkouts are slow because
// workers wait on a lock held by a price refresher), then a real VS Code workbench (code-server)
// with PyFlight installed, and prints the URL. `npm run demo -- --headless` prints the service's
// stacks from the command line instead and exits.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const headless = process.argv.includes('--headless');

const setup = spawnSync(process.execPath, [join(root, 'scripts', 'setup.mjs'), ...(headless ? [] : ['--e2e'])], { cwd: root, stdio: 'inherit' });
if (setup.status !== 0) {
  if (setup.status === 3) console.error('demo: the workbench cannot be set up here (see above); try `npm run demo -- --headless`.');
  process.exit(setup.status ?? 1);
}

const service = spawn(join(root, '.venv', 'bin', 'python'), [join(root, 'demo', 'checkout_service.py')], {
  cwd: join(root, 'demo'), stdio: ['ignore', 'pipe', 'inherit'],
});
const pid = await new Promise((resolve, reject) => {
  let out = '';
  service.stdout.on('data', (d) => {
    out += d;
    const m = /READY (\d+)/.exec(out);
    if (m) resolve(Number(m[1]));
  });
  service.once('exit', (code) => reject(new Error(`demo service exited (${code}): ${out}`)));
});
const stopService = () => { if (service.exitCode === null) service.kill('SIGKILL'); };
process.on('exit', stopService);

if (headless) {
  const cli = (...args) => spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), ...args, String(pid)], { encoding: 'utf8' });
  // The first attach injects the agent, which holds the GIL while it starts: sample after that.
  const warmup = cli('check');
  if (warmup.status !== 0) {
    process.stderr.write(warmup.stdout + warmup.stderr);
    stopService();
    process.exit(1);
  }
  cli('stack', '--json');
  await new Promise((r) => setTimeout(r, 500));
  const shown = cli('stack');
  console.log(`demo: checkout service running as pid ${pid}; its stacks, read by PyFlight:\n`);
  process.stdout.write(shown.stdout || shown.stderr);
  // One snapshot can fall between two checkouts (on a busy machine it often does): up to 10 samples,
  // 300 ms apart, and the verdict from the one with the most workers waiting, as PyFlight read it.
  let best;
  let taken = 0;
  const waitingIn = (s) => s.threads.filter((t) => t.name.startsWith('http-worker') && t.blockedOn?.expression === 'INVENTORY_LOCK');
  for (; taken < 10; taken++) {
    const r = cli('stack', '--json');
    if (r.status !== 0) break;
    const sample = JSON.parse(r.stdout);
    if (!best || waitingIn(sample).length > waitingIn(best).length) best = sample;
    if (waitingIn(best).length === 4) { taken++; break; }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  const waiting = best ? waitingIn(best) : [];
  const holder = best?.threads.find((t) => t.holding?.some((h) => h.expression === 'INVENTORY_LOCK'));
  const calls = (t) => t.frames.slice(0, 3).reverse().map((f) => f.function.split('.').pop()).join(' → ');
  if (waiting.length) {
    console.log(`\ndemo: ${waiting.length} of 4 http-worker threads wait for INVENTORY_LOCK in reserve_inventory${taken > 1 ? ` (the most seen in ${taken} samples)` : ''};`);
    console.log(`demo: ${holder ? `${holder.name} holds it, in ${calls(holder)}` : `held by ${waiting[0].blockedOn.heldBy?.join(', ') || 'a thread PyFlight could not name'}`} — which is why checkouts are slow.`);
  } else {
    console.log(`\ndemo: in ${taken} samples no http-worker thread was waiting for INVENTORY_LOCK (a busy machine can hide it).`);
    console.log(`demo: run it again, or ask for a diagnosis: node dist/cli.js diagnose ${pid} "checkouts hang"`);
  }
  stopService();
  process.exit(shown.status ?? 1);
}

const { startWorkbench } = await import(join(root, 'test', 'e2e', 'lib', 'codeServer.mjs'));
const workbench = await startWorkbench({ workspace: join(root, 'demo'), port: Number(process.env.PYFLIGHT_DEMO_PORT ?? 8130) });
process.on('exit', () => workbench.killNow());
console.log(`\ndemo: the checkout service (pid ${pid}) is slow. Open this URL in a browser:\n\n    ${workbench.url}\n`);
console.log('demo: then click the PyFlight icon (paper plane) → "Attach to a Python process" → pick');
console.log('demo: checkout_service.py → "Show Stacks". Right-click inside reserve_inventory → "Trace This Function".');
console.log('demo: Ctrl+C here stops the workbench and the service.');
const shutdown = async () => {
  await workbench.stop();
  stopService();
  workbench.remove();
  process.exit(0);
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
// `npm run demo` stopped by something that signals npm alone (`timeout`, a supervisor): npm passes the
// signal to its shell, not to this script, which would be left running with the workbench and the
// service. Orphaned, it stops them itself.
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) void shutdown(); }, 1000).unref();
await new Promise(() => {}); // serve until interrupted
