// Builds everything with esbuild: the extension bundle, the headless CLI, webview bundles and the
// test bundles. Quick when nothing changed (esbuild is fast; no incremental state is kept).
import { build } from 'esbuild';
import { readdirSync, existsSync, chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const watchMode = process.argv.includes('--watch');
const common = { bundle: true, sourcemap: true, logLevel: 'warning', absWorkingDir: root };

function filesUnder(dir, suffix) {
  const abs = join(root, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(suffix))
    .map((f) => join(dir, f));
}

/** Leaves `require('execa')` in the extension bundle as `require('./execa.js')`, the file built below. */
const execaBesideTheBundle = {
  name: 'execa-beside-the-bundle',
  setup(b) { b.onResolve({ filter: /^execa$/ }, () => ({ path: './execa.js', external: true })); },
};

const nodeTargets = [
  // The extension: `vscode` is provided by the host.
  // Minified: the bundle is what every window loads at activation (half the size, a third faster
  // to load; bench/activation.mjs); the source map keeps stack traces readable.
  // execa is its own file, required on first use (src/common/execa.ts): activation spawns nothing.
  { entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js', external: ['vscode'], minify: true, plugins: [execaBesideTheBundle] },
  { stdin: { contents: "export { execa } from 'execa';", resolveDir: root }, outfile: 'dist/execa.js', minify: true },
  // The headless CLI: same engine, must never import `vscode`.
  { entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } },
  // The engine alone, for bench/ (ESM scripts importing the sessions without the CLI's main()).
  { entryPoints: ['bench/engine.ts'], outfile: 'out/bench/engine.js' },
];
// Tests: one bundle per file so mocha can load them as plain CommonJS.
const testEntries = [...filesUnder('test/unit', '.test.ts'), ...filesUnder('test/integration', '.test.ts'),
  ...filesUnder('test/faults', '.test.ts'), ...filesUnder('test/matrix', '.test.ts')];

const builds = [
  ...nodeTargets.map((t) => ({ ...common, platform: 'node', format: 'cjs', target: 'node20', ...t })),
  // Desktop VS Code tests (npm run test:vscode; needs network to download VS Code).
  { ...common, platform: 'node', format: 'cjs', target: 'node20', entryPoints: ['test/vscode/runTests.ts', 'test/vscode/suite/index.ts'],
    outdir: 'out/test/vscode', outbase: 'test/vscode', external: ['vscode', 'mocha', '@vscode/test-electron'] },
  ...(testEntries.length
    ? [{ ...common, platform: 'node', format: 'cjs', target: 'node20', entryPoints: testEntries,
        outdir: 'out/test', outbase: 'test', external: ['vscode', 'mocha'] }]
    : []),
  ...(existsSync(join(root, 'webview')) ? readdirSync(join(root, 'webview')) : [])
    .filter((app) => app !== 'shared' && existsSync(join(root, 'webview', app, 'main.ts')))
    .map((app) => ({ ...common, platform: 'browser', format: 'iife', target: 'es2022',
      entryPoints: [`webview/${app}/main.ts`], outfile: `dist/webview/${app}.js` })),
];

/**
 * The helper method table (src/protocol/methods.ts) is the one source of the protocol: the Python
 * helper registers and guards its handlers from methods.json, and docs/helper-protocol.md shows its
 * table. Both are written here (only when they change) and committed, so a checkout runs without a
 * build and the .vsix ships the JSON; test/unit/helperMethods.test.ts fails when they are stale.
 */
async function writeMethodTable() {
  const bundled = await build({ ...common, entryPoints: ['src/protocol/methodsRender.ts'], platform: 'node', format: 'esm',
    sourcemap: false, write: false });
  const render = await import(`data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString('base64')}`);
  const write = (file, text) => {
    const abs = join(root, file);
    if (!existsSync(abs) || readFileSync(abs, 'utf8') !== text) writeFileSync(abs, text);
  };
  write(render.METHODS_JSON, render.methodsJson());
  write(render.PROTOCOL_DOC, render.withMethodsTable(readFileSync(join(root, render.PROTOCOL_DOC), 'utf8')));
}

// A test bundle whose source was deleted or renamed must not run again from out/ (the lanes glob it).
const wanted = new Set(testEntries.map((f) => join('out', f.replace(/\.ts$/, '.js'))));
for (const lane of ['unit', 'integration', 'faults']) {
  for (const f of filesUnder(`out/test/${lane}`, '.test.js')) if (!wanted.has(f)) rmSync(join(root, f), { force: true });
}

await Promise.all([writeMethodTable(), ...builds.map((b) => build(b))]);
if (existsSync(join(root, 'dist/cli.js'))) chmodSync(join(root, 'dist/cli.js'), 0o755);
if (!watchMode) console.log(`build: ${builds.length} bundles in ${Math.round(process.uptime() * 1000)} ms`);
