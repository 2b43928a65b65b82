import './fakeTreeVscode';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { silentLogger } from '../../../src/common/logger';
import { profileFromCollapsed } from '../../../src/profile/model';
import { ProfileStore } from '../../../src/profile/profileStore';
import { SessionManager } from '../../../src/session/sessionManager';
import { profileItem, SessionsView } from '../../../src/views/sessionsView';
import type { TreeItem } from './fakeTreeVscode';

const DIR = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'recorded', 'profile');
const profile = profileFromCollapsed(readFileSync(path.join(DIR, 'cpu-service.raw.txt'), 'utf8'), { workspaceRoots: ['/work/wt-profile/test/fixtures'] });

describe('Sessions view: kept CPU profiles', () => {
  it('a profile row reads "CPU profile · time · samples · duration", opens its flame graph on click, and offers export / delete', () => {
    const store = new ProfileStore();
    const kept = store.add({ owner: { kind: 'session', pid: 42, startedAt: 1 }, label: 'cpu_service.py (pid 42)',
      startedAt: new Date(2026, 10, 26, 12, 3, 44).getTime(), durationMs: 10_000, rate: 100, profile });
    const item = profileItem(kept) as unknown as TreeItem;
    assert.equal(item.label, 'CPU profile · 12:03:44 · 158 samples · 10 s');
    assert.equal(item.contextValue, 'cpuProfile');
    assert.equal(item.iconPath?.id, 'flame');
    assert.match(String(item.tooltip), /hottest: score_order \(82\.91% self\)/);
    assert.deepEqual(item.command, { command: 'pyflight.openKeptProfile', title: 'Open Flame Graph', arguments: [{ kind: 'profile', profile: kept }] });
    const pkg = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', '..', '..', 'package.json'), 'utf8'));
    const onRow = pkg.contributes.menus['view/item/context'].filter((m: { when: string }) => /viewItem == cpuProfile/.test(m.when)).map((m: { command: string }) => m.command);
    for (const c of ['pyflight.exportKeptProfileSpeedscope', 'pyflight.exportKeptProfileCollapsed', 'pyflight.deleteKeptProfile', 'pyflight.compareProfiles']) assert.ok(onRow.includes(c), c);
  });

  it('the view refreshes when a profile is kept or deleted', () => {
    const store = new ProfileStore();
    const manager = new SessionManager(silentLogger, () => ({}));
    const view = new SessionsView(manager, store);
    let fired = 0;
    view.onDidChangeTreeData(() => fired++);
    const kept = store.add({ owner: { kind: 'group', masterPid: 7 }, label: 'gunicorn master 7', startedAt: 0, durationMs: 1000, profile });
    store.delete(kept.id);
    assert.equal(fired, 2);
    view.dispose();
  });
});
