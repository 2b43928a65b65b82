// `npm run package`: builds, then packs the extension into pyflight-<version>.vsix with @vscode/vsce
// (what .vscodeignore lets through: the bundles, the Python helper with methods.json and capabilities.json, README and its screenshots).
// The e2e lane and `npm run demo` install the same .vsix (ensureVsix), so what is tested is what ships.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const vsce = join(root, 'node_modules', '.bin', 'vsce');

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${[cmd, ...args].join(' ')} failed (${r.status ?? r.signal}):\n${(r.stdout ?? '') + (r.stderr ?? '')}`.slice(-3000));
  return r.stdout;
}

function newestMtime(path) {
  const s = statSync(path, { throwIfNoEntry: false });
  if (!s) return 0;
  if (!s.isDirectory()) return s.mtimeMs;
  let newest = 0;
  for (const f of readdirSync(path, { recursive: true })) {
    const m = statSync(join(path, String(f)), { throwIfNoEntry: false });
    if (m?.isFile() && m.mtimeMs > newest) newest = m.mtimeMs;
  }
  return newest;
}

/** Packs the built extension (dist/ must exist) into `out`; returns `out`. */
export function packageVsix(out) {
  if (!existsSync(vsce)) throw new Error('@vscode/vsce is not installed: run `npm run setup`');
  if (!existsSync(join(root, 'dist', 'extension.js'))) throw new Error('dist/extension.js missing: run `npm run build`');
  mkdirSync(dirname(out), { recursive: true });
  // --no-dependencies: esbuild bundled them. --no-rewrite-relative-links: the README's screenshots
  // ship inside the .vsix and VS Code shows them from there (there is no public repository URL).
  run(vsce, ['package', '--no-dependencies', '--no-rewrite-relative-links', '--allow-missing-repository', '--out', out]);
  return out;
}

/** out/pyflight.vsix, packed again only when something it holds is newer. */
export function ensureVsix() {
  const out = join(root, 'out', 'pyflight.vsix');
  const inputs = ['dist', 'python/pyflight_helper', 'python/pyflight_agent', 'media', 'package.json', 'README.md', 'LICENSE', '.vscodeignore'];
  const newest = Math.max(...inputs.map((p) => newestMtime(join(root, p))));
  if (!existsSync(out) || statSync(out).mtimeMs < newest) packageVsix(out);
  return out;
}

if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) {
  run(process.execPath, [join(root, 'scripts', 'build.mjs')]);
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const out = packageVsix(join(root, `pyflight-${version}.vsix`));
  console.log(`package: ${out} (${Math.round(statSync(out).size / 1024)} KB)`);
}
