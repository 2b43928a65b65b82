// The interpreters PyFlight is tested on (README "Requirements per interpreter"): CPython 3.10–3.13
// as pyenv builds them and the distribution's own /usr/bin/python3 (Debian's is stripped). Found on
// this machine, never assumed: one that is absent is reported with a reason, not silently left out.
// Each gets a cached venv with flight-profiler, installed the way PyFlight installs it for a user
// (installFlightProfiler: `<python> -m pip install flight-profiler==…` in the target's environment).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { silentLogger } from '../../src/common/logger';
import { FLIGHT_PROFILER_REQUIREMENT, installFlightProfiler } from '../../src/preflight/installProfiler';
import { ROOT } from './fixtures';

export interface MatrixInterpreter {
  /** "CPython 3.12.1 (pyenv)", "Debian python3 3.11.2 (/usr/bin/python3, stripped)". */
  label: string;
  /** For directory names: "3.12.1", "system-3.11.2". */
  key: string;
  /** The base interpreter, or undefined when absent (then `absent` says why). */
  base?: string;
  version?: string;
  absent?: string;
}

/** The CPython minors the suite runs on (capabilities.json marks these "tested"). */
export const MATRIX_MINORS = ['3.10', '3.11', '3.12', '3.13'];

/** pyenv's root: $PYENV_ROOT, `pyenv root`, or ~/.pyenv. */
export function pyenvRoot(): string {
  if (process.env.PYENV_ROOT) return process.env.PYENV_ROOT;
  const asked = spawnSync('pyenv', ['root'], { encoding: 'utf8' });
  if (asked.status === 0 && asked.stdout.trim()) return asked.stdout.trim();
  return path.join(os.homedir(), '.pyenv');
}

function versionOf(python: string): string | undefined {
  const run = spawnSync(python, ['-c', 'import platform; print(platform.python_version())'], { encoding: 'utf8', timeout: 30_000 });
  return run.status === 0 ? run.stdout.trim() : undefined;
}

/** No .symtab section in the ELF file: `nm` finds nothing, as in Debian's /usr/bin/python3. */
export function isStripped(file: string): boolean {
  const run = spawnSync('readelf', ['-S', '-W', file], { encoding: 'utf8' });
  return run.status === 0 && !/\s\.symtab\s/.test(run.stdout);
}

/** Every interpreter of the matrix, present or not (in MATRIX_MINORS order, then the system's). */
export function matrixInterpreters(): MatrixInterpreter[] {
  const root = pyenvRoot();
  const versionsDir = path.join(root, 'versions');
  const installed = existsSync(versionsDir) ? readdirSync(versionsDir) : [];
  const out: MatrixInterpreter[] = [];
  for (const minor of MATRIX_MINORS) {
    const patches = installed.filter((v) => new RegExp(`^${minor.replace('.', '\\.')}\\.\\d+$`).test(v))
      .sort((a, b) => Number(b.split('.')[2]) - Number(a.split('.')[2]));
    const found = patches.map((v) => ({ v, python: path.join(versionsDir, v, 'bin', `python${minor}`) })).find((c) => existsSync(c.python));
    if (!found) {
      out.push({ label: `CPython ${minor} (pyenv)`, key: minor, absent: `no ${minor}.x under ${versionsDir}` });
      continue;
    }
    out.push({ label: `CPython ${found.v} (pyenv)`, key: found.v, base: found.python, version: found.v });
  }
  const system = '/usr/bin/python3';
  if (!existsSync(system)) {
    out.push({ label: 'system python3', key: 'system', absent: `${system} does not exist` });
  } else {
    const real = realpathSync(system);
    const version = versionOf(real);
    const debian = existsSync('/etc/debian_version') ? 'Debian ' : '';
    const stripped = isStripped(real) ? ', stripped' : '';
    if (!version) out.push({ label: `${debian}python3 (${system})`, key: 'system', absent: `${system} does not run` });
    else out.push({ label: `${debian}python3 ${version} (${system}${stripped})`, key: `system-${version}`, base: real, version });
  }
  return out;
}

/** pyenv's newest CPython whose minor is one of `minors` ("3.9", "3.8"), or why there is none. */
function newestPyenv(minors: string[]): MatrixInterpreter {
  const versionsDir = path.join(pyenvRoot(), 'versions');
  const installed = existsSync(versionsDir) ? readdirSync(versionsDir) : [];
  const found = installed.filter((v) => minors.some((m) => v.startsWith(`${m}.`) && /^\d+\.\d+\.\d+$/.test(v)))
    .sort((a, b) => b.localeCompare(a, undefined, { numeric: true }))
    .map((v) => ({ v, python: path.join(versionsDir, v, 'bin', `python${v.split('.').slice(0, 2).join('.')}`) })).find((c) => existsSync(c.python));
  return found ? { label: `CPython ${found.v} (pyenv)`, key: found.v, base: found.python, version: found.v }
    : { label: `CPython ${minors.join(' or ')} (pyenv)`, key: minors[0], absent: `no ${minors.map((m) => `${m}.x`).join(' or ')} under ${versionsDir}` };
}

/** A CPython outside the tested set that flight-profiler still has a build for: pyenv's newest 3.9 or 3.8. */
export const untestedInterpreter = (): MatrixInterpreter => newestPyenv(['3.9', '3.8']);

/** A CPython flight-profiler has no build for (PyFlight refuses it whole): pyenv's newest 3.7 or 3.6. */
export const tooOldInterpreter = (): MatrixInterpreter => newestPyenv(['3.7', '3.6']);

/**
 * A venv of `interp` with flight-profiler, made once under .cache/venv-matrix/<key> (kept while its
 * `ready` stamp names the requirement PyFlight installs). Returns its bin/python.
 */
export async function profilerVenv(interp: MatrixInterpreter): Promise<string> {
  if (!interp.base) throw new Error(`${interp.label} is absent: ${interp.absent}`);
  const dir = path.join(ROOT, '.cache', 'venv-matrix', interp.key);
  const python = path.join(dir, 'bin', 'python');
  const stamp = path.join(dir, 'ready');
  if (existsSync(python) && existsSync(stamp) && readFileSync(stamp, 'utf8') === FLIGHT_PROFILER_REQUIREMENT) return python;
  mkdirSync(path.dirname(dir), { recursive: true });
  const made = spawnSync(interp.base, ['-m', 'venv', '--clear', dir], { encoding: 'utf8', timeout: 300_000 });
  if (made.status !== 0) throw new Error(`${interp.base} -m venv ${dir} failed: ${made.stderr}`);
  const lines: string[] = [];
  try {
    await installFlightProfiler(python, silentLogger, (line) => lines.push(line));
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${lines.slice(-20).join('\n')}`);
  }
  writeFileSync(stamp, FLIGHT_PROFILER_REQUIREMENT);
  return python;
}
