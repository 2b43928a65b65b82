// `npm run bench -- activation`: the time VS Code would spend activating PyFlight — loading
// dist/extension.js and running its activate() — measured in a fresh Node process per round with a
// stub `vscode` module (every API a no-op that hands back more stubs), so it counts our own code
// only, not the host's. Also the bundle's and the .vsix's sizes.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

/** Run in the child: installs the stub, then times require + activate. */
const CHILD = `
const Module = require('node:module');
const ROOT = process.argv[1];
const stubCache = new Map();
function stub(path) {
  if (stubCache.has(path)) return stubCache.get(path);
  const target = function () {};
  const fields = new Map(); // what our code assigns (item.name = …), read back as assigned
  const proxy = new Proxy(target, {
    set(t, p, value) { fields.set(p, value); return true; },
    get(t, p) {
      if (fields.has(p)) return fields.get(p);
      if (p === 'then') return undefined; // not a promise
      if (p === Symbol.toPrimitive) return () => 0;
      if (p === Symbol.iterator) return function* () {};
      if (p in t && p !== 'name' && p !== 'length') return t[p];
      return stub(path + '.' + String(p));
    },
    // config.get(key, fallback) gives the fallback, so settings read as their defaults
    apply(t, self, args) { return path.endsWith('.get') && args.length > 1 ? args[1] : stub(path + '()'); },
    construct() { return stub(path + ':new' + Math.random()); },
  });
  stubCache.set(path, proxy);
  return proxy;
}
// A plain object with one stub per name vscode exports (from @types/vscode): esbuild's import-*
// helper copies own properties, which a Proxy over a function does not list.
const bundleText = require('node:fs').readFileSync(require('node:path').join(ROOT, 'dist', 'extension.js'), 'utf8');
const api = require('node:fs').readFileSync(require('node:path').join(ROOT, 'node_modules', '@types', 'vscode', 'index.d.ts'), 'utf8');
const vscode = {};
for (const m of api.matchAll(/^\\s*export (?:namespace|class|enum|const|function|let) ([A-Za-z_]\\w*)/gm)) vscode[m[1]] = stub('vscode.' + m[1]);
const load = Module._load;
Module._load = function (request, ...rest) { return request === 'vscode' ? vscode : load.call(this, request, ...rest); };
const context = { subscriptions: [], extensionPath: ROOT, extensionUri: stub('uri'), globalState: stub('gs'),
  workspaceState: stub('ws'), globalStorageUri: stub('gsu'), storageUri: undefined, logUri: stub('lu'),
  asAbsolutePath: (p) => require('node:path').join(ROOT, p) };
// Node's own modules are loaded already in a real extension host (it uses them itself), so they
// are loaded before the clock starts: what is timed is compiling and running our bundle.
for (const m of new Set(Array.from(bundleText.matchAll(/require\\("(node:[\\w/]+)"\\)/g), (x) => x[1]))) require(m);
const t0 = performance.now();
const ext = require(require('node:path').join(ROOT, 'dist', 'extension.js'));
const t1 = performance.now();
ext.activate(context);
const t2 = performance.now();
const lazyLoaded = Object.keys(require.cache).some((f) => f.endsWith(require('node:path').join('dist', 'execa.js')));
process.stdout.write(JSON.stringify({ load: t1 - t0, activate: t2 - t1, disposables: context.subscriptions.length, lazyLoaded }));
process.exit(0);
`;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export function benchActivation(rounds = 9) {
  const runs = [];
  for (let i = 0; i < rounds; i++) {
    const r = spawnSync(process.execPath, ['-e', CHILD, root], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error('activation harness failed: ' + r.stderr.slice(-800));
    runs.push(JSON.parse(r.stdout));
  }
  if (runs[0].disposables < 10) throw new Error(`activate() registered only ${runs[0].disposables} disposables`);
  // dist/execa.js is meant for the first spawn, not activation (src/common/execa.ts).
  if (runs.some((r) => r.lazyLoaded)) throw new Error('activation loaded dist/execa.js: something spawns a process during activate()');
  const load = median(runs.map((r) => r.load));
  const activate = median(runs.map((r) => r.activate));
  return {
    activation_ms: Number(median(runs.map((r) => r.load + r.activate)).toFixed(1)),
    load_ms: Number(load.toFixed(1)),
    activate_call_ms: Number(activate.toFixed(1)),
    rounds,
    how: 'fresh Node process per round, node: built-ins preloaded (the host has them): require(dist/extension.js) + activate() with a no-op vscode stub (our code only, not the host\'s)',
    goal: '<= 30 ms',
  };
}

export function packageSizes() {
  const bundle = join(root, 'dist', 'extension.js');
  const lazy = join(root, 'dist', 'execa.js');
  const vsix = readdirSync(root).filter((f) => f.endsWith('.vsix')).map((f) => join(root, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  return {
    bundle_kb: existsSync(bundle) ? Math.round(statSync(bundle).size / 1024) : null,
    // Shipped beside the bundle and loaded on the first process spawn, not at activation.
    lazy_kb: existsSync(lazy) ? Math.round(statSync(lazy).size / 1024) : null,
    vsix_kb: vsix ? Math.round(statSync(vsix).size / 1024) : null,
    goal: 'bundle <= 300 KB, vsix <= 3 MB',
  };
}
