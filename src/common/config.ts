import * as vscode from 'vscode';

/** Typed access to the `pyflight.*` settings declared in package.json. */
export interface PyFlightConfig {
  pythonPath: string;
  attachTimeoutSeconds: number;
  showAgentThreads: boolean;
  showStdlibFrames: boolean;
  showAllProcesses: boolean;
}

export function readConfig(): PyFlightConfig {
  const c = vscode.workspace.getConfiguration('pyflight');
  return {
    pythonPath: c.get<string>('pythonPath', ''),
    attachTimeoutSeconds: c.get<number>('attachTimeoutSeconds', 30),
    showAgentThreads: c.get<boolean>('stacks.showAgentThreads', false),
    showStdlibFrames: c.get<boolean>('stacks.showStdlibFrames', true),
    showAllProcesses: c.get<boolean>('processPicker.showAllProcesses', true),
  };
}
