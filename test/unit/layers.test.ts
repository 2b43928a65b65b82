import assert from 'node:assert/strict';
import * as path from 'node:path';
import { circles, importGraph, runtimeClosure } from '../support/importGraph';

const root = path.resolve(__dirname, '..', '..', '..');
const edges = importGraph(root, ['src', 'webview']);

/**
 * The floors of the house (docs/architecture.md shows the same map). A folder imports its own floor
 * and the floors below it; a new folder gets a floor here.
 */
const FLOORS: ReadonlyArray<readonly string[]> = [
  ['src/common', 'src/protocol', 'src/host', 'webview/shared'],
  ['src/format', 'src/helper', 'src/preflight', 'src/processes'],
  ['src/session'],
  ['src/probes', 'src/gil', 'src/profile', 'src/memory', 'src/torch', 'src/inspect', 'src/live', 'src/webview',
    'webview/flamegraph', 'webview/memory', 'webview/torchtrace'],
  ['src/diagnose', 'src/views', 'src/commands'],
  ['src/cli', 'src/lmTools', 'src/mcp'],
  ['src/extension.ts'],
];

/** Imports from a lower floor to a higher one that are accepted, each with its reason (at most one). */
const UPWARD_ALLOWED: ReadonlyArray<string> = [];

/** None: the playbooks' shared types live in diagnose/playbookTypes.ts, below every playbook. */
const KNOWN_CIRCLES: string[][] = [];

/** What the CLI and the engine load: never `vscode` (they run in plain Node). */
const VSCODE_FREE = ['src/cli', 'src/mcp', 'src/session', 'src/helper', 'src/host', 'src/preflight', 'src/protocol', 'src/format', 'src/diagnose'];
/** The chat participant and its refinement are the diagnosis engine's VS Code side. */
const VSCODE_SIDE = new Set(['src/diagnose/chatParticipant.ts', 'src/diagnose/chatRefine.ts']);

const inside = (file: string, folder: string) => file === folder || file.startsWith(`${folder}/`);
const floorOf = (file: string) => FLOORS.findIndex((floor) => floor.some((folder) => inside(file, folder)));
const ours = (file: string) => inside(file, 'src') || inside(file, 'webview');

describe('layers: the import graph', () => {
  it('reads the imports (a sanity check of the scan itself)', () => {
    assert.ok(edges.length > 500, `${edges.length} imports`);
    assert.ok(edges.some((e) => e.from === 'src/session/session.ts' && e.to === 'src/helper/helperProcess.ts' && !e.typeOnly));
    assert.ok(edges.some((e) => e.from === 'src/extension.ts' && e.to === 'vscode' && !e.typeOnly));
  });

  it('puts every folder on a floor', () => {
    const homeless = [...new Set(edges.flatMap((e) => [e.from, e.to]).filter((f) => ours(f) && floorOf(f) < 0))];
    assert.deepEqual(homeless, []);
  });

  it('never imports from a lower floor to a higher one', () => {
    const upward = edges.filter((e) => ours(e.to) && floorOf(e.to) > floorOf(e.from)).map((e) => `${e.from} → ${e.to}`);
    assert.deepEqual(upward, UPWARD_ALLOWED);
    assert.ok(UPWARD_ALLOWED.length <= 1);
  });

  it('keeps webview bundles out of host source (they share only webview/shared)', () => {
    const reaching = edges.filter((e) => inside(e.from, 'webview') && inside(e.to, 'src')).map((e) => `${e.from} → ${e.to}`);
    assert.deepEqual(reaching, []);
  });

  it('has no circle between folders, nor between files', () => {
    const folderOf = (file: string) => (ours(file) ? file.split('/').slice(0, 2).join('/') : undefined);
    assert.deepEqual(circles(edges, folderOf), []);
    assert.deepEqual(circles(edges, (file) => (ours(file) ? file : undefined)), KNOWN_CIRCLES);
  });

  it('the CLI, MCP server, session, helper, preflight, protocol, format and diagnosis engine never load vscode at run time', () => {
    const files = [...new Set(edges.map((e) => e.from))]
      .filter((f) => VSCODE_FREE.some((folder) => inside(f, folder)) && !VSCODE_SIDE.has(f));
    assert.ok(files.length > 30, `${files.length} files`);
    for (const file of files) {
      const loaded = runtimeClosure(edges, file);
      const via = [...loaded].filter((f) => edges.some((e) => e.from === f && e.to === 'vscode' && !e.typeOnly));
      assert.deepEqual(via, [], `${file} loads vscode through ${via.join(', ')}`);
    }
  });
});
