import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CommandId, ViewId } from '../../src/common/commandIds';
import { SETTINGS } from '../../src/common/settings';

const pkg = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8'));

describe('package.json contributions', () => {
  it('declares exactly the commands in CommandId, each in the PyFlight category', () => {
    const declared = pkg.contributes.commands.map((c: { command: string }) => c.command).sort();
    assert.deepEqual(declared, Object.values(CommandId).sort());
    // Editor context-menu items carry "PyFlight: " in the title itself (menus drop the category).
    for (const c of pkg.contributes.commands) assert.ok(c.category === 'PyFlight' || c.title.startsWith('PyFlight: '), c.command);
  });

  it('declares the views in ViewId inside the PyFlight container', () => {
    assert.deepEqual(pkg.contributes.views.pyflight.map((v: { id: string }) => v.id).sort(), Object.values(ViewId).sort());
    assert.equal(pkg.contributes.viewsContainers.activitybar[0].id, 'pyflight');
  });

  it('menus only reference declared commands', () => {
    const declared = new Set(Object.values(CommandId) as string[]);
    for (const [menu, items] of Object.entries(pkg.contributes.menus as Record<string, Array<{ command: string }>>)) {
      for (const item of items) assert.ok(declared.has(item.command), `${menu}: ${item.command}`);
    }
  });

  it('declares exactly the settings of common/settings.ts, with the same types and defaults', () => {
    const declared = Object.fromEntries(Object.entries(pkg.contributes.configuration.properties as Record<string, { type: string; default: unknown }>)
      .map(([key, spec]) => [key, { type: spec.type, default: spec.default }]));
    const table = Object.fromEntries(Object.entries(SETTINGS).map(([key, spec]) => [`pyflight.${key}`, { type: spec.type, default: spec.default }]));
    assert.deepEqual(declared, table);
  });

  it('runs beside the target (workspace extension) on a VS Code we test against', () => {
    assert.deepEqual(pkg.extensionKind, ['workspace']);
    assert.equal(pkg.engines.vscode, '^1.100.0');
    assert.equal(pkg.devDependencies['@types/vscode'], '1.100.0');
  });
});
