/** Every command id in one place; package.json `contributes.commands` must match (a unit test checks). */
export const CommandId = {
  attach: 'pyflight.attach',
  detach: 'pyflight.detach',
  detachWorkers: 'pyflight.detachWorkers',
  recordCpuProfile: 'pyflight.recordCpuProfile',
  openProfile: 'pyflight.openProfile',
  openKeptProfile: 'pyflight.openKeptProfile',
  exportKeptProfileSpeedscope: 'pyflight.exportKeptProfileSpeedscope',
  exportKeptProfileCollapsed: 'pyflight.exportKeptProfileCollapsed',
  deleteKeptProfile: 'pyflight.deleteKeptProfile',
  compareProfiles: 'pyflight.compareProfiles',
  recordWorkersProfile: 'pyflight.recordWorkersProfile',
  toggleProfileHeat: 'pyflight.toggleProfileHeat',
  memorySummary: 'pyflight.memorySummary',
  memoryDiff: 'pyflight.memoryDiff',
  chooseSession: 'pyflight.chooseSession',
  showStacks: 'pyflight.showStacks',
  showStacksNative: 'pyflight.showStacksNative',
  showAsyncTasks: 'pyflight.showAsyncTasks',
  exportStacks: 'pyflight.exportStacks',
  resolveModule: 'pyflight.resolveModule',
  refreshStacks: 'pyflight.refreshStacks',
  showLog: 'pyflight.showLog',
  copyValue: 'pyflight.copyValue',
  watchThisFunction: 'pyflight.watchThisFunction',
  traceThisFunction: 'pyflight.traceThisFunction',
  recordThisFunction: 'pyflight.recordThisFunction',
  watchFunction: 'pyflight.watchFunction',
  traceFunction: 'pyflight.traceFunction',
  recordFunction: 'pyflight.recordFunction',
  stopProbe: 'pyflight.stopProbe',
  restartProbe: 'pyflight.restartProbe',
  clearWatches: 'pyflight.clearWatches',
  clearTraces: 'pyflight.clearTraces',
  clearRecords: 'pyflight.clearRecords',
  stopAllProbes: 'pyflight.stopAllProbes',
  showProbes: 'pyflight.showProbes',
  ttReplay: 'pyflight.ttReplay',
  ttDelete: 'pyflight.ttDelete',
  toggleGil: 'pyflight.toggleGil',
  showGilAlerts: 'pyflight.showGilAlerts',
  watchFindingFunction: 'pyflight.watchFindingFunction',
} as const;
export type CommandId = (typeof CommandId)[keyof typeof CommandId];

/** Context keys used in `when` clauses. */
export const ContextKey = {
  hasSession: 'pyflight.hasSession',
  hasStacks: 'pyflight.hasStacks',
} as const;

export const ViewId = {
  sessions: 'pyflight.sessions',
  stacks: 'pyflight.stacks',
  watch: 'pyflight.watch',
  trace: 'pyflight.trace',
  timeTunnel: 'pyflight.timeTunnel',
} as const;
