// Entry for the benchmark bundle: the engine's public surface, without vscode.
export { Session } from '../src/session/session';
export { ProbeStore } from '../src/probes/probeStore';
export { profileFromCollapsed } from '../src/profile/model';
export { layoutFrames } from '../src/profile/flameLayout';
export { recordCpuProfile } from '../src/profile/record';
// The interpreter matrix (`npm run bench -- matrix`): the test suite's own discovery and venvs.
export { matrixInterpreters, profilerVenv } from '../test/support/interpreters';
export { localHost } from '../src/host/localHost';
