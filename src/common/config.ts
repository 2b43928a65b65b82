import * as vscode from 'vscode';

/** Typed access to the `pyflight.*` settings declared in package.json. */
export interface PyFlightConfig {
  pythonPath: string;
  attachTimeoutSeconds: number;
  allowCode: boolean;
  showAgentThreads: boolean;
  showStdlibFrames: boolean;
  showAllProcesses: boolean;
  watchMaxRecords: number;
  watchDefaultLimit: number;
  traceDefaultLimit: number;
  ttDefaultLimit: number;
}

export function readConfig(): PyFlightConfig {
  const c = vscode.workspace.getConfiguration('pyflight');
  return {
    pythonPath: c.get<string>('pythonPath', ''),
    attachTimeoutSeconds: c.get<number>('attachTimeoutSeconds', 30),
    allowCode: c.get<boolean>('agent.allowCode', true),
    showAgentThreads: c.get<boolean>('stacks.showAgentThreads', false),
    showStdlibFrames: c.get<boolean>('stacks.showStdlibFrames', true),
    showAllProcesses: c.get<boolean>('processPicker.showAllProcesses', true),
    watchMaxRecords: c.get<number>('watch.maxRecords', 500),
    watchDefaultLimit: c.get<number>('watch.defaultLimit', 10),
    traceDefaultLimit: c.get<number>('trace.defaultLimit', 10),
    ttDefaultLimit: c.get<number>('tt.defaultLimit', 50),
  };
}
