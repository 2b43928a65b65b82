// `node scripts/seq.mjs [--runs N] [--only 3.12] [--out FILE]`: the full CLI sequence (check, stack,
// stack --native, watch, trace, tt record, mem diff, gilstat, getglobal, diagnose) against a busy
// service (test/fixtures/busy_service.py) on every CPython this machine has (the pyenv versions
// 3.10–3.13 and Debian's /usr/bin/python3), N runs each on a fresh target. Each interpreter gets a
// cached venv under .cache/matrix with flight-profiler (python/requirements.txt's pin). Per run it
// records each command's exit code, whether the target is alive after each, how it ended (signal)
// and every line the target wrote to stdout / stderr; prints a markdown table and writes JSON.
// Evidence for issue 17 (docs/flight-profiler-notes.md, "The interpreter sequence").
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const argv = process.argv.slice(2);
const opt = (name, fallback) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : fallback; };
const runs = Number(opt('--runs', '3'));
const only = opt('--only');
const out = opt('--out', join(root, '.cache', 'seq-results.json'));
const pin = /^flight-profiler==\S+/m.exec(readFileSync(join(root, 'python/requirements.txt'), 'utf8'))[0];

/** The interpreters present: pyenv's 3.10–3.13 (PYENV_ROOT or ~/.pyenv) and Debian's python3. */
function interpreters() {
  const found = [];
  const versions = join(process.env.PYENV_ROOT ?? join(homedir(), '.pyenv'), 'versions');
  for (const minor of ['3.10', '3.11', '3.12', '3.13']) {
    const v = existsSync(versions) ? readdirSync(versions).filter((d) => d.startsWith(minor + '.')).sort().pop() : undefined;
    if (v) found.push({ name: v, dir: `py${v}`, python: join(versions, v, 'bin', 'python') });
    else console.log(`seq: CPython ${minor} not found under ${versions}: skipped`);
  }
  if (existsSync('/usr/bin/python3')) {
    const v = spawnSync('/usr/bin/python3', ['-c', 'import platform; print(platform.python_version())'], { encoding: 'utf8' }).stdout.trim();
    found.push({ name: `system ${v}`, dir: `sys${v.split('.').slice(0, 2).join('.')}`, python: '/usr/bin/python3' });
  }
  return found.filter((i) => !only || i.name.includes(only));
}

function venvOf(interp) {
  const dir = join(root, '.cache', 'matrix', interp.dir);
  const py = join(dir, 'bin', 'python');
  const ok = existsSync(py) && spawnSync(py, ['-c', 'import flight_profiler'], { stdio: 'ignore' }).status === 0;
  if (!ok) {
    mkdirSync(join(root, '.cache', 'matrix'), { recursive: true });
    for (const [cmd, args] of [[interp.python, ['-m', 'venv', dir]], [py, ['-m', 'pip', 'install', '-q', pin]]]) {
      const r = spawnSync(cmd, args, { stdio: 'inherit' });
      if (r.status !== 0) throw new Error(`seq: ${cmd} ${args.join(' ')} failed`);
    }
  }
  return py;
}

function startTarget(py) {
  return new Promise((resolve, reject) => {
    const child = spawn(py, ['-u', join(root, 'test/fixtures/busy_service.py')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const t = { child, stdout: '', stderr: '', exit: undefined };
    child.stdout.on('data', (d) => {
      t.stdout += d;
      if (t.stdout.includes('READY')) resolve(t);
    });
    child.stderr.on('data', (d) => { t.stderr += d; });
    child.on('exit', (code, signal) => { t.exit = { code, signal }; reject(new Error(`target exited early: ${code ?? signal}\n${t.stderr}`)); });
  });
}

function cli(args, timeoutMs = 120_000) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [join(root, 'dist/cli.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
    child.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code: code ?? signal, stdout, stderr, ms: Date.now() - started }); });
  });
}

const alive = (t) => t.exit === undefined;
const sequence = (pid) => [
  ['check', ['check', pid]],
  ['stack', ['stack', pid]],
  ['stack --native', ['stack', pid, '--native']],
  ['watch', ['watch', pid, '__main__', 'handle_request', '-n', '3', '--timeout', '20']],
  ['trace', ['trace', pid, '__main__', 'handle_request', '-n', '2', '--timeout', '20']],
  ['tt record', ['tt', pid, 'record', '__main__', 'handle_request', '-n', '2', '--timeout', '20']],
  ['mem diff', ['mem', 'diff', pid, '--interval', '2']],
  ['gilstat', ['gilstat', pid, '--duration', '3', '--json']],
  ['getglobal', ['getglobal', pid, 'shop.orders', '_quantities']],
  ['diagnose', ['diagnose', pid, 'memory grows', '--kind', 'memory', '--budget', '40']],
];

const results = [];
for (const interp of interpreters()) {
  const py = venvOf(interp);
  for (let run = 1; run <= runs; run++) {
    const t = await startTarget(py);
    t.child.removeAllListeners('exit');
    t.child.on('exit', (code, signal) => { t.exit = { code, signal }; });
    const pid = String(t.child.pid);
    const steps = [];
    for (const [name, args] of sequence(pid)) {
      if (!alive(t)) { steps.push({ name, skipped: 'target dead' }); continue; }
      const r = await cli(args);
      await new Promise((res) => setTimeout(res, 300));
      steps.push({ name, exit: r.code, ms: r.ms, alive: alive(t), message: r.code ? (r.stderr.trim().split('\n').slice(-2).join(' ') || r.stdout.slice(-300)) : undefined });
      process.stdout.write(`seq ${interp.name} run ${run}: ${name} exit ${r.code} ${r.ms} ms${alive(t) ? '' : ' TARGET DEAD ' + JSON.stringify(t.exit)}\n`);
    }
    const survived = alive(t);
    if (survived) t.child.kill('SIGTERM');
    await new Promise((res) => (t.exit ? res() : t.child.once('exit', res)));
    const lines = (s) => s.split('\n').filter((l) => l.trim() !== '');
    const stdoutLines = lines(t.stdout).filter((l) => !/^READY \d+$/.test(l));
    results.push({ interpreter: interp.name, run, survived, death: survived ? undefined : t.exit, steps,
      stdoutLines, stderrLines: lines(t.stderr).filter((l) => !(survived && /Terminated|KeyboardInterrupt/.test(l))) });
  }
}
writeFileSync(out, JSON.stringify(results, null, 2));
console.log('\n| interpreter | run | alive at end | failed commands | target stderr lines | target stdout lines (besides READY) |');
console.log('|---|---|---|---|---|---|');
for (const r of results) {
  const failed = r.steps.filter((s) => s.exit || s.skipped).map((s) => `${s.name} (${s.skipped ?? 'exit ' + s.exit})`).join(', ') || '—';
  console.log(`| ${r.interpreter} | ${r.run} | ${r.survived ? 'yes' : `no (${r.death.signal ?? 'exit ' + r.death.code})`} | ${failed} | ${r.stderrLines.length} | ${r.stdoutLines.length} |`);
}
console.log(`\nseq: details in ${out}`);
