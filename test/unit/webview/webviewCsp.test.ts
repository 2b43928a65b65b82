// Every webview runs under the strict CSP of webviewHtml (nonce, nothing remote, no inline code) and
// renders target strings as text. The HTML is built by the real webviewHtml with a minimal Webview
// (asWebviewUri, cspSource) and a `vscode` that provides only Uri.joinPath.
import assert from 'node:assert/strict';
import Module from 'node:module';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');

// `vscode` for webviewHtml.ts: Uri.joinPath only (another unit test's fake may be installed: keep the rest of it).
type Loader = (request: string, ...rest: unknown[]) => unknown;
const moduleWithLoad = Module as unknown as { _load: Loader };
const load = moduleWithLoad._load;
const fakeUri = { joinPath: (base: { path: string }, ...parts: string[]) => ({ path: path.posix.join(base.path, ...parts) }) };
moduleWithLoad._load = function (this: unknown, request: string, ...rest: unknown[]) {
  if (request !== 'vscode') return load.call(this, request, ...rest);
  let real: Record<string, unknown> = {};
  try {
    real = load.call(this, request, ...rest) as Record<string, unknown>;
  } catch {
    // no vscode in plain mocha
  }
  const uri = real.Uri as { joinPath?: unknown } | undefined;
  return { ...real, Uri: typeof uri?.joinPath === 'function' ? uri : fakeUri };
};

// Loaded after the hook (esbuild initialises a required module when the require runs).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { webviewHtml } = require('../../../src/webview/webviewHtml') as typeof import('../../../src/webview/webviewHtml');

const CSP_SOURCE = 'https://file+.vscode-resource.vscode-cdn.net';
const webview = {
  cspSource: CSP_SOURCE,
  asWebviewUri: (uri: { path: string }) => `${CSP_SOURCE}${uri.path}`,
};

/** The webview apps: webview/<app>/main.ts, bundled to dist/webview/<app>.js. */
const apps = readdirSync(path.join(ROOT, 'webview')).filter((a) => existsSync(path.join(ROOT, 'webview', a, 'main.ts')));

function cspOf(html: string): Map<string, string[]> {
  const content = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1];
  assert.ok(content, 'no CSP meta tag');
  return new Map(content.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
}

describe('webviews: strict CSP, text only', () => {
  it('there are webview apps to check (flamegraph, memory)', () => {
    assert.ok(apps.includes('flamegraph') && apps.includes('memory'), apps.join(', '));
  });

  for (const app of apps) {
    it(`${app}: default-src 'none', scripts only by nonce, nothing inline or remote`, () => {
      const html = webviewHtml(webview as never, { path: '/ext' } as never, app, 'title');
      const csp = cspOf(html);
      assert.deepEqual(csp.get('default-src'), ["'none'"]);
      const nonce = /^'nonce-([A-Za-z0-9+/=]{16,})'$/.exec(csp.get('script-src')?.[0] ?? '')?.[1];
      assert.ok(nonce && csp.get('script-src')!.length === 1, `script-src: ${csp.get('script-src')}`);
      for (const [directive, values] of csp) {
        for (const value of values) {
          assert.ok(!/unsafe-(inline|eval|hashes)/.test(value), `${directive} allows ${value}`);
          assert.ok(value === CSP_SOURCE || value === 'data:' || value.startsWith("'"), `${directive} allows a remote or broad source: ${value}`);
        }
      }
      const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
      assert.equal(scripts.length, 1);
      assert.ok(scripts[0][1].includes(`nonce="${nonce}"`), scripts[0][1]);
      assert.equal(scripts[0][2].trim(), '', 'inline script');
      assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i, 'inline style or handler');
      assert.ok(html.includes(`src="${CSP_SOURCE}/ext/dist/webview/${app}.js"`), 'the app bundle from dist/webview');
      // A fresh nonce every time.
      assert.notEqual(cspOf(webviewHtml(webview as never, { path: '/ext' } as never, app, 't')).get('script-src')?.[0], `'nonce-${nonce}'`);
    });
  }

  it('a hostile title (a process name) is escaped text', () => {
    const html = webviewHtml(webview as never, { path: '/ext' } as never, 'memory', '<img src=x onerror=alert(1)> "q" \'a\' &');
    assert.match(html, /<title>&lt;img src=x onerror=alert\(1\)&gt; &quot;q&quot; &#39;a&#39; &amp;<\/title>/);
  });

  it('the apps put target strings into the page as text: no innerHTML, outerHTML, insertAdjacentHTML or document.write', () => {
    const sources = (dir: string): string[] => readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.ts')).map((f) => path.join(dir, f));
    for (const file of sources(path.join(ROOT, 'webview'))) {
      assert.doesNotMatch(readFileSync(file, 'utf8'), /\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write/, file);
    }
  });

  it('every panel gets its HTML from webviewHtml (no other webview.html assignment)', () => {
    const files = readdirSync(path.join(ROOT, 'src'), { recursive: true }).map(String).filter((f) => f.endsWith('.ts'));
    const assigning = files.filter((f) => /\.webview\.html\s*=/.test(readFileSync(path.join(ROOT, 'src', f), 'utf8')));
    assert.deepEqual(assigning, [path.join('webview', 'webviewHtml.ts')]);
  });
});
