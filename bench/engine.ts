// Entry for the benchmark bundle: the engine's public surface, without vscode.
export { Session } from '../src/session/session';
export { ProbeStore } from '../src/probes/probeStore';
export { profileFromCollapsed } from '../src/profile/model';
export { layoutFrames } from '../src/profile/flameLayout';
export { recordCpuProfile } from '../src/profile/record';
