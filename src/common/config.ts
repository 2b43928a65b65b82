import * as vscode from 'vscode';
import { settingDefault, type SettingKey, type SettingValue } from './settings';

/** The user's value of a `pyflight.*` setting, or its default (the one in common/settings.ts). */
export function setting<K extends SettingKey>(key: K): SettingValue<K> {
  return vscode.workspace.getConfiguration('pyflight').get<SettingValue<K>>(key, settingDefault(key));
}

/** Stores a value in the user's settings (a "Don't Ask Again" answer, a toggle). */
export async function updateSetting<K extends SettingKey>(key: K, value: SettingValue<K>): Promise<void> {
  await vscode.workspace.getConfiguration('pyflight').update(key, value, vscode.ConfigurationTarget.Global);
}

/** Whether a configuration change touched this setting. */
export function affectsSetting(event: vscode.ConfigurationChangeEvent, key: SettingKey): boolean {
  return event.affectsConfiguration(`pyflight.${key}`);
}
