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
  await new Promise((r) => setTimeout(r, 1000)); // let the queue build up
  console.log(`demo: checkout service running as pid ${pid}; its stacks, read by PyFlight:\n`);
  const cli = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), 'stack', String(pid)], { stdio: 'inherit' });
  console.log('\ndemo: four http-worker threads wait in reserve_inventory (`with INVENTORY_LOCK`) while');
  console.log('demo: price-refresher holds that lock in recalculate_prices — that is why checkouts are slow.');
  stopService();
  process.exit(cli.status ?? 1);
}

const { startWorkbench } = await import(join(root, 'test', 'e2e', 'lib', 'codeServer.mjs'));
const workbench = await startWorkbench({ workspace: join(root, 'demo'), port: Number(process.env.PYFLIGHT_DEMO_PORT ?? 8130) });
console.log(`\ndemo: checkout service pid ${pid} is slow.`);
console.log(`demo: open ${workbench.url} , click the PyFlight icon, "Attach to a Python process", pick`);
console.log('demo: checkout_service.py, then "Show Stacks". Press Ctrl+C here to stop everything.');
const shutdown = async () => { await workbench.stop(); stopService(); process.exit(0); };
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
