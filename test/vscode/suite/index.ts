import assert from 'node:assert/strict';
import Mocha from 'mocha';
import * as vscode from 'vscode';

/** Runs inside the VS Code extension host. */
export async function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: 60_000 });
  mocha.suite.addTest(new Mocha.Test('PyFlight activates and registers its commands', async () => {
    const extension = vscode.extensions.getExtension('pyflight.pyflight');
    assert.ok(extension, 'extension not found');
    await extension.activate();
    const commands = await vscode.commands.getCommands(true);
    for (const id of ['pyflight.attach', 'pyflight.showStacks', 'pyflight.detach']) assert.ok(commands.includes(id), id);
  }));
  await new Promise<void>((resolve, reject) => mocha.run((failures) => (failures ? reject(new Error(`${failures} failed`)) : resolve())));
}
