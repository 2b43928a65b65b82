import assert from 'node:assert/strict';
import { HELPER_METHODS, PROBE_AGENT_TARGET, type MethodSpec } from '../../src/protocol/methods';

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
});
