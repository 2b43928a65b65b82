/**
 * Every `pyflight.*` setting package.json declares: its type and its default, written here once.
 * `common/config.ts` reads them in the extension (`setting('gil.maxThreads')`); the CLI and the
 * engine, which have no settings, take the same defaults from here. vscode-free.
 * test/unit/contributions.test.ts fails when package.json and this table differ.
 */
interface SettingSpec {
  /** As package.json declares it ("integer": a whole number). */
  type: 'boolean' | 'string' | 'number' | 'integer';
  default: boolean | string | number;
}

export const SETTINGS = {
  'chat.useLanguageModel': { type: 'boolean', default: true },
  'pythonPath': { type: 'string', default: '' },
  'profile.rate': { type: 'integer', default: 100 },
  'profile.showInEditor': { type: 'boolean', default: true },
  'confirmAgentLoad': { type: 'boolean', default: true },
  'attachTimeoutSeconds': { type: 'number', default: 30 },
  'agent.allowCode': { type: 'boolean', default: true },
  'stacks.showAgentThreads': { type: 'boolean', default: false },
  'stacks.showStdlibFrames': { type: 'boolean', default: true },
  'processPicker.showAllProcesses': { type: 'boolean', default: true },
  'watch.maxRecords': { type: 'number', default: 500 },
  'watch.defaultLimit': { type: 'number', default: 10 },
  'trace.defaultLimit': { type: 'number', default: 10 },
  'tt.defaultLimit': { type: 'number', default: 50 },
  'memory.diffIntervalSeconds': { type: 'integer', default: 10 },
  'memory.limit': { type: 'integer', default: 30 },
  'gil.waitThresholdMs': { type: 'integer', default: 10 },
  'gil.holdThresholdMs': { type: 'integer', default: 10 },
  'gil.intervalSeconds': { type: 'integer', default: 5 },
  'gil.maxThreads': { type: 'integer', default: 500 },
  'hoverValues': { type: 'boolean', default: true },
  'confirmCodeExecution': { type: 'boolean', default: true },
  'reload.codeLens': { type: 'boolean', default: true },
} as const satisfies Record<string, SettingSpec>;

/** A setting's name after `pyflight.`: `'gil.maxThreads'`. */
export type SettingKey = keyof typeof SETTINGS;

type ValueOf<T extends SettingSpec['type']> = T extends 'boolean' ? boolean : T extends 'string' ? string : number;

/** What reading the setting gives: `number` for `'gil.maxThreads'`. */
export type SettingValue<K extends SettingKey> = ValueOf<(typeof SETTINGS)[K]['type']>;

/** The default package.json declares, for readers without VS Code settings (the CLI, the engine). */
export function settingDefault<K extends SettingKey>(key: K): SettingValue<K> {
  return SETTINGS[key].default as SettingValue<K>;
}
