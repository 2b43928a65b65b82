// Idempotent set-up for every npm script: npm packages, the project .venv (flight-profiler,
// py-spy, pytest, pinned in python/requirements.txt), the build, and (with --e2e) the offline
// VS Code workbench. Quick when already done: each step keeps a stamp of what it installed.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const stamps = join(root, '.cache', 'stamps');
mkdirSync(stamps, { recursive: true });

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    console.error(`setup: \`${cmd} ${args.join(' ')}\` failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
}

function hashOf(...files) {
  const h = createHash('sha256');
  for (const f of files) h.update(existsSync(join(root, f)) ? readFileSync(join(root, f)) : '');
  return h.digest('hex');
}

function step(name, inputs, check, action) {
  const stamp = join(stamps, name);
  const want = hashOf(...inputs);
  if (check() && existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return;
  console.log(`setup: ${name}…`);
  action();
  writeFileSync(stamp, want);
}

/** A Python that flight-profiler supports (3.8–3.14) to create the venv with. */
function findPython() {
  for (const candidate of [process.env.PYFLIGHT_PYTHON, 'python3', 'python'].filter(Boolean)) {
    const r = spawnSync(candidate, ['-c', 'import sys; print(sys.version_info[:2] >= (3, 8) and sys.version_info[:2] < (3, 15))'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() === 'True') return candidate;
  }
  console.error('setup: need Python 3.8–3.14 as python3 on PATH (or set PYFLIGHT_PYTHON).');
  process.exit(1);
}

// The lock file alone: it records package.json's dependencies too, and editing the extension's
// contributions (commands, settings) must not reinstall node_modules.
step('npm', ['package-lock.json'], () => existsSync(join(root, 'node_modules', '.bin', 'esbuild')), () =>
  run('npm', [existsSync(join(root, 'package-lock.json')) ? 'ci' : 'install', '--no-audit', '--no-fund']));

const venvPython = join(root, '.venv', 'bin', 'python');
step('venv', ['python/requirements.txt'], () => existsSync(venvPython), () => {
  if (!existsSync(venvPython)) run(findPython(), ['-m', 'venv', join(root, '.venv')]);
  run(venvPython, ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', '-r', 'python/requirements.txt']);
});

// PyTorch (CPU) for the torch fixture and tests, apart from the other pins: it is big (~18 s to
// install from local disk here) and only the tests need it; PyFlight itself never imports torch.
const hasTorch = () => existsSync(venvPython)
  && spawnSync(venvPython, ['-c', 'import importlib.util as u, sys; sys.exit(u.find_spec("torch") is None)']).status === 0;
step('torch', ['python/requirements-torch.txt'], hasTorch, () =>
  run(venvPython, ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', '-r', 'python/requirements-torch.txt']));

run(process.execPath, [join(root, 'scripts', 'build.mjs')]);

if (process.argv.includes('--e2e')) {
  const r = spawnSync('bash', [join(root, 'test', 'e2e', 'setup.sh')], { cwd: root, stdio: 'inherit' });
  // 3 = cannot set up here (e.g. not root and Chromium missing): the caller decides what to skip.
  if (r.status !== 0) process.exit(r.status ?? 1);
}
