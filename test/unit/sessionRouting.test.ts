import assert from 'node:assert/strict';
import { routeSession, type RouteRequest } from '../../src/session/sessionRouting';
import { sessionStateText } from '../../src/session/sessionText';
import { silentLogger } from '../../src/common/logger';
import { SessionManager } from '../../src/session/sessionManager';

interface Fake { pid: number; files: string[] }
const a: Fake = { pid: 101, files: ['/srv/a/checkout.py', '/srv/shared/util.py'] };
const b: Fake = { pid: 202, files: ['/srv/b/billing.py', '/srv/shared/util.py'] };
const c: Fake = { pid: 303, files: ['/srv/shared/util.py'] };

/** A request whose `hasFile` answers from `files` and whose picker records what it was offered. */
function request(sessions: Fake[], extra: Partial<RouteRequest<Fake>> = {}) {
  const offered: number[][] = [];
  const asked: number[] = [];
  const req: RouteRequest<Fake> = {
    sessions,
    hasFile: async (s, file) => { asked.push(s.pid); return s.files.includes(file); },
    pick: async (candidates) => { offered.push(candidates.map((s) => s.pid)); return candidates.at(-1); },
    ...extra,
  };
  return { req, offered, asked };
}

describe('session routing: one rule for "the" session', () => {
  it('(a) a file goes to the session that imported it, even when another was attached later or chosen', async () => {
    const { req, offered } = request([a, b], { file: '/srv/a/checkout.py', chosen: b });
    assert.deepEqual(await routeSession(req), { session: a, reason: 'file' });
    assert.deepEqual(offered, [], 'no picker when the file decides');
  });

  it('(a) every live session is asked', async () => {
    const { req, asked } = request([a, b, c], { file: '/srv/b/billing.py' });
    assert.deepEqual(await routeSession(req), { session: b, reason: 'file' });
    assert.deepEqual(asked.sort(), [101, 202, 303]);
  });

  it('(a) a session whose question fails (not imported, helper gone) counts as "no"', async () => {
    const { req } = request([a, b], { file: '/srv/a/checkout.py',
      hasFile: async (s, file) => { if (s === b) throw new Error('FILE_NOT_IMPORTED'); return s.files.includes(file); } });
    assert.deepEqual(await routeSession(req), { session: a, reason: 'file' });
  });

  it('(a)+(b) several sessions have the file: the chosen one among them', async () => {
    const { req } = request([a, b, c], { file: '/srv/shared/util.py', chosen: c });
    assert.deepEqual(await routeSession(req), { session: c, reason: 'chosen' });
  });

  it('(a)+(c) several have the file and none of them was chosen: pick among those only', async () => {
    const { req, offered } = request([a, b, c], { file: '/srv/shared/util.py', chosen: undefined });
    req.hasFile = async (s, file) => s !== c && s.files.includes(file);
    assert.deepEqual(await routeSession(req), { session: b, reason: 'picked' });
    assert.deepEqual(offered, [[101, 202]]);
  });

  it('(a) nobody imported the file: the rest of the rule decides among all', async () => {
    const { req, offered } = request([a, b, c], { file: '/srv/elsewhere.py' });
    assert.deepEqual(await routeSession(req), { session: c, reason: 'picked' });
    assert.deepEqual(offered, [[101, 202, 303]]);
    const chosen = request([a, b, c], { file: '/srv/elsewhere.py', chosen: a });
    assert.deepEqual(await routeSession(chosen.req), { session: a, reason: 'chosen' });
  });

  it('(b) no file: the session the user last chose', async () => {
    const { req, offered } = request([a, b], { chosen: a });
    assert.deepEqual(await routeSession(req), { session: a, reason: 'chosen' });
    assert.deepEqual(offered, []);
  });

  it('(b) a chosen session that is no longer live is ignored', async () => {
    const { req, offered } = request([b], { chosen: a });
    assert.deepEqual(await routeSession(req), { session: b, reason: 'only' });
    assert.deepEqual(offered, []);
  });

  it('(c) exactly one session: it, without asking (the user, or the session about the file)', async () => {
    const { req, offered, asked } = request([b], { file: '/srv/a/checkout.py' });
    assert.deepEqual(await routeSession(req), { session: b, reason: 'only' });
    assert.deepEqual(offered, []);
    assert.deepEqual(asked, []);
  });

  it('(c) several and nothing chosen: the user picks; cancelling resolves to nothing', async () => {
    const { req, offered } = request([a, b]);
    assert.deepEqual(await routeSession(req), { session: b, reason: 'picked' });
    assert.deepEqual(offered, [[101, 202]]);
    const cancelled = request([a, b], { pick: async () => undefined });
    assert.equal(await routeSession(cancelled.req), undefined);
  });

  it('no live session: nothing (the caller offers to attach)', async () => {
    const { req } = request([]);
    assert.equal(await routeSession(req), undefined);
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
