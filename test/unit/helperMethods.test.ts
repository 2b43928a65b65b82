import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { HELPER_METHODS, PROBE_AGENT_TARGET, type MethodSpec } from '../../src/protocol/methods';
import { METHODS_JSON, PROTOCOL_DOC, methodsJson, withMethodsTable } from '../../src/protocol/methodsRender';

const root = path.resolve(__dirname, '..', '..', '..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

const rows = Object.entries(HELPER_METHODS) as Array<[string, MethodSpec]>;

describe('helper methods (one table: src/protocol/methods.ts)', () => {
  it('says for every method what it needs, and documents it', () => {
    for (const [method, spec] of rows) {
      assert.ok(['nothing', 'open', 'agent'].includes(spec.needs), method);
      assert.ok(spec.doc.params && spec.doc.end, method);
    }
  });

  it('checks first only with a method that needs no agent', () => {
    for (const [method, spec] of rows.filter(([, s]) => s.checkFirst)) {
      const check = (HELPER_METHODS as Record<string, MethodSpec>)[spec.checkFirst!];
      assert.equal(check?.needs, 'open', `${method} checks first with ${spec.checkFirst}`);
    }
  });

  it('loads the agent for a param only on a method that runs without it', () => {
    for (const [method, spec] of rows.filter(([, s]) => s.agentWith)) assert.equal(spec.needs, 'open', method);
  });

  it('turns probes off with the agent command of their row; every probe streams and may log', () => {
    assert.deepEqual(PROBE_AGENT_TARGET, { watch: 'watch', trace: 'trace', ttRecord: 'tt' });
    for (const [method, spec] of rows.filter(([, s]) => s.probe)) assert.ok(spec.stream && spec.logging && spec.needs === 'agent', method);
  });

  // The other sides read the table through these two files; the Python lane checks that the
  // helper has one handler per row (python/tests/test_methods.py).
  it('is what the Python helper reads (methods.json is current: run `node scripts/build.mjs`)', () => {
    assert.equal(read(METHODS_JSON), methodsJson());
    const json = JSON.parse(read(METHODS_JSON)).methods as Record<string, { needs: string; logging: boolean }>;
    assert.deepEqual(Object.keys(json), rows.map(([name]) => name));
  });

  it('is the methods table of docs/helper-protocol.md (current: run `node scripts/build.mjs`)', () => {
    const doc = read(PROTOCOL_DOC);
    assert.equal(doc, withMethodsTable(doc));
    for (const [method] of rows) assert.ok(doc.includes(`| \`${method}\` |`), method);
  });
});
