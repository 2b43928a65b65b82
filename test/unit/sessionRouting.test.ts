import assert from 'node:assert/strict';
import { commandLineFiles, routeSession, type FileMatch, type RouteRequest } from '../../src/session/sessionRouting';
import { sessionStateText } from '../../src/session/sessionText';
import { silentLogger } from '../../src/common/logger';
import { SessionManager } from '../../src/session/sessionManager';

/** A process: the files it *is* (its script, what its agent says it imported), the folders it may claim, its server. */
interface Fake { pid: number; is: string[]; folder?: string; group?: string }
const a: Fake = { pid: 101, is: ['/srv/a/checkout.py', '/srv/shared/util.py'], folder: '/srv' };
const b: Fake = { pid: 202, is: ['/srv/b/billing.py', '/srv/shared/util.py'], folder: '/srv' };
const c: Fake = { pid: 303, is: ['/srv/shared/util.py'] };

/** A request that answers from the fakes and whose picker records what it was offered (and which one first). */
function request(sessions: Fake[], extra: Partial<RouteRequest<Fake>> = {}) {
  const offered: Array<{ pids: number[]; preselected?: number }> = [];
  const asked: number[] = [];
  const req: RouteRequest<Fake> = {
    sessions,
    matchFile: async (s, file): Promise<FileMatch> => {
      asked.push(s.pid);
      return s.is.includes(file) ? 'is' : s.folder && file.startsWith(`${s.folder}/`) ? 'folder' : 'no';
    },
    unitOf: (s) => s.group,
    pick: async (candidates, preselected) => { offered.push({ pids: candidates.map((s) => s.pid), preselected: preselected?.pid }); return candidates.at(-1); },
    ...extra,
  };
  return { req, offered, asked };
}

describe('session routing: one rule for "the" session', () => {
  it('(a) a file goes to the process that is its, even when another is current', async () => {
    const { req, offered } = request([a, b], { file: '/srv/a/checkout.py', current: b });
    assert.deepEqual(await routeSession(req), { session: a, reason: 'file' });
    assert.deepEqual(offered, [], 'no picker when the file decides');
  });

  it('(a) its process beats the folder rule: two services from one folder, the second one current', async () => {
    // Both claim /srv by folder; only a runs checkout.py (its command line).
    const { req, offered } = request([a, b], { file: '/srv/a/checkout.py', current: b });
    assert.deepEqual(await routeSession(req), { session: a, reason: 'file' });
    const byFolder = request([a, b], { file: '/srv/a/helpers.py', current: b });
    assert.deepEqual(await routeSession(byFolder.req), { session: b, reason: 'picked' });
    assert.deepEqual(byFolder.offered, [{ pids: [101, 202], preselected: 202 }], 'two still match: ask, the current one selected');
    assert.deepEqual(offered, []);
  });

  it('(a) every live session is asked; a failing answer is "no"', async () => {
    const { req, asked } = request([a, b, c], { file: '/srv/b/billing.py' });
    assert.deepEqual(await routeSession(req), { session: b, reason: 'file' });
    assert.deepEqual(asked.sort(), [101, 202, 303]);
    const failing = request([a, b], { file: '/srv/a/checkout.py', matchFile: async (s) => { if (s === b) throw new Error('FILE_NOT_IMPORTED'); return 'is'; } });
    assert.deepEqual(await routeSession(failing.req), { session: a, reason: 'file' });
  });

  it('(a)+(b) several processes are the file\'s: pick among those only, the current one first', async () => {
    const { req, offered } = request([a, b, c], { file: '/srv/shared/util.py', current: c });
    assert.deepEqual(await routeSession(req), { session: c, reason: 'picked' });
    assert.deepEqual(offered, [{ pids: [101, 202, 303], preselected: 303 }]);
    const some = request([a, b, c], { file: '/srv/shared/util.py' });
    some.req.matchFile = async (s) => (s === c ? 'no' : 'is');
    await routeSession(some.req);
    assert.deepEqual(some.offered, [{ pids: [101, 202], preselected: undefined }]);
  });

  it('(a) the workers of one server count as one: no pick (the command asks all or one)', async () => {
    const w1: Fake = { pid: 11, is: ['/srv/app.py'], group: 'master 10' };
    const w2: Fake = { pid: 12, is: ['/srv/app.py'], group: 'master 10' };
    const { req, offered } = request([w1, w2, c], { file: '/srv/app.py', current: w2 });
    assert.deepEqual(await routeSession(req), { session: w2, reason: 'file' });
    assert.deepEqual(offered, []);
  });

  it('(b) nobody\'s file, or no file at all, with several attached: ask, the current one selected — never silently', async () => {
    const { req, offered } = request([a, b, c], { file: '/elsewhere.py', current: a });
    assert.deepEqual(await routeSession(req), { session: c, reason: 'picked' });
    assert.deepEqual(offered, [{ pids: [101, 202, 303], preselected: 101 }]);
    const palette = request([a, b], { current: a });
    await routeSession(palette.req);
    assert.deepEqual(palette.offered, [{ pids: [101, 202], preselected: 101 }]);
    const cancelled = request([a, b], { pick: async () => undefined });
    assert.equal(await routeSession(cancelled.req), undefined);
  });

  it('(b) exactly one session: it, without asking (the user, or the session about the file)', async () => {
    const { req, offered, asked } = request([b], { file: '/srv/a/checkout.py', current: a });
    assert.deepEqual(await routeSession(req), { session: b, reason: 'only' });
    assert.deepEqual(offered, []);
    assert.deepEqual(asked, []);
  });

  it('no live session: nothing (the caller offers to attach)', async () => {
    assert.equal(await routeSession(request([]).req), undefined);
  });

  it('what a command line says the process runs: its script, -m\'s module, a server\'s app module', () => {
    assert.deepEqual(commandLineFiles(['/venv/bin/python', '-u', 'app/checkout.py', '--port', '8001'], '/srv'), ['/srv/app/checkout.py']);
    assert.deepEqual(commandLineFiles(['python3', '-m', 'shop.api'], '/srv'), ['/srv/shop/api.py', '/srv/shop/api/__init__.py', '/srv/shop/api/__main__.py']);
    assert.ok(commandLineFiles(['/venv/bin/python', '/venv/bin/gunicorn', '-w', '2', 'shop.wsgi:app'], '/srv').includes('/srv/shop/wsgi.py'));
    assert.ok(commandLineFiles(['/venv/bin/python', '/venv/bin/uvicorn', '--uds', '/tmp/x.sock', 'main:app'], '/srv').includes('/srv/main.py'));
    assert.deepEqual(commandLineFiles(['python', '/abs/run.py'], '/srv'), ['/abs/run.py']);
    assert.deepEqual(commandLineFiles(['python', 'x.py'], undefined), []);
  });
});

describe('SessionManager.resolve', () => {
  it('with nothing attached, asks the chooser to attach a new session for the purpose', async () => {
    const asked: string[] = [];
    const manager = new SessionManager(silentLogger, () => ({}), {
      pick: async () => { throw new Error('nothing to pick from'); },
      attachNew: async (purpose) => { asked.push(purpose); return undefined; },
    });
    assert.equal(await manager.resolve({ purpose: 'stacks', placeHolder: 'Show stacks of which process?' }), undefined);
    assert.deepEqual(asked, ['stacks']);
  });

  it('with nothing attached and attach: false (the chat without a pid), attaches nothing', async () => {
    const asked: string[] = [];
    const manager = new SessionManager(silentLogger, () => ({}), {
      pick: async () => undefined, attachNew: async (purpose) => { asked.push(purpose); return undefined; },
    });
    assert.equal(await manager.resolve({ purpose: 'diagnose', placeHolder: 'Diagnose which process?', attach: false }), undefined);
    assert.deepEqual(asked, []);
  });

  it('without a chooser (CLI, tests) asks nobody', async () => {
    const manager = new SessionManager(silentLogger, () => ({}));
    assert.equal(await manager.resolve({ purpose: 'probe', placeHolder: 'Instrument which process?' }), undefined);
  });
});

describe('session state words', () => {
  it('are the Sessions view words, not state names', () => {
    assert.equal(sessionStateText('ready'), 'attached');
    assert.equal(sessionStateText('targetExited'), 'process exited');
    assert.equal(sessionStateText('helperCrashed'), 'helper crashed');
  });
});
