import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROBE_KINDS, PROBE_METHODS, probeKind } from '../../src/probes/probeKinds';
import { formatProbeOptions, parseProbeOptions } from '../../src/probes/probeOptions';

const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8'));

describe('probe kinds (one table)', () => {
  it('lists every kind once, each row naming its own method', () => {
    assert.deepEqual([...PROBE_METHODS].sort(), Object.keys(PROBE_KINDS).sort());
    for (const method of PROBE_METHODS) assert.equal(probeKind(method).method, method);
  });

  it('names commands, views and settings that package.json contributes', () => {
    const commands = new Set(pkg.contributes.commands.map((c: { command: string }) => c.command));
    const views = new Set(Object.values(pkg.contributes.views).flat().map((v) => (v as { id: string }).id));
    const settings = Object.keys(pkg.contributes.configuration.properties ?? {});
    for (const method of PROBE_METHODS) {
      const kind = probeKind(method);
      for (const id of Object.values(kind.commands)) assert.ok(commands.has(id), `${method}: ${id}`);
      assert.ok(views.has(kind.viewId), `${method}: ${kind.viewId}`);
      const setting = `pyflight.${kind.limitSetting}`;
      assert.ok(settings.includes(setting), `${method}: ${setting}`);
    }
  });

  it('prefills the editor options from a location and the default limit, and parses them back', () => {
    for (const method of PROBE_METHODS) {
      const text = formatProbeOptions(method, probeKind(method).atLocation({ module: '__main__', class: 'Worker', method: 'handle', limit: 7 }));
      assert.equal(text, '__main__ Worker handle -n 7');
      assert.deepEqual(parseProbeOptions(method, text), { module: '__main__', class: 'Worker', method: 'handle', limit: 7 });
    }
  });

  it('says an option is unknown with the name users type', () => {
    assert.throws(() => parseProbeOptions('ttRecord', 'a b -e'), /Unknown option -e for tt\./);
  });
});
