import assert from 'node:assert/strict';
import { fake, type FakeItem, type FakeQuickPick } from './fakeVscode';
import type { ProcessInfo } from '../../../src/processes/processInfo';
import { listProcesses } from '../../../src/processes/processLister';
import { pickAttachTarget } from '../../../src/processes/processPicker';
import * as path from 'node:path';
import { RECORDED, recordedProcSource } from './recorded';

const tick = () => new Promise((resolve) => setImmediate(resolve));
const SEPARATOR = -1;

/** Opens the picker on a list function and waits for the first listing to land. */
async function open(list: () => Promise<ProcessInfo[]>, showAllProcesses = true) {
  const result = pickAttachTarget({ list, showAllProcesses }).then((t) => (t && 'pid' in t ? t.pid : undefined));
  const quickPick = fake.quickPicks[fake.quickPicks.length - 1];
  await tick();
  return { result, quickPick };
}

const byPid = (quickPick: FakeQuickPick, pid: number) => quickPick.items.find((i) => i.pid === pid) as FakeItem;

describe('processPicker (fake vscode, recorded processes)', () => {
  let recorded: ProcessInfo[];
  before(async () => {
    recorded = await listProcesses({ platform: 'linux', procSource: recordedProcSource(), selfPid: 0 });
  });

  it('lists Python first with grouped servers, filters on the whole command line, and returns the pid', async () => {
    const { result, quickPick } = await open(async () => recorded);
    assert.equal(quickPick.matchOnDescription && quickPick.matchOnDetail, true);
    assert.deepEqual(quickPick.busyHistory, [true, false]);
    assert.deepEqual(quickPick.items.slice(0, 4).map((i) => [i.kind === SEPARATOR ? 'separator' : 'item', i.label]), [
      ['item', '$(edit) Enter PID manually…'],
      ['separator', 'Python processes'],
      ['item', '$(symbol-method) python3 -B -c from multiprocessing.resource_tracker import…'],
      ['item', '$(symbol-method) python sleeper.py'],
    ]);
    assert.equal(quickPick.activeItems[0]?.pid, 7998, 'the newest Python process is highlighted, not the manual entry');
    assert.deepEqual(quickPick.items.filter((i) => i.kind === SEPARATOR).map((i) => i.label), [
      'Python processes', 'celery (PID 7992)', 'uvicorn (PID 7991)', 'celery (PID 7990)', 'gunicorn (PID 7989)',
      'gunicorn (PID 7988)', 'Other processes',
    ]);
    assert.equal(byPid(quickPick, 7988).label, '$(server-process) gunicorn master');
    assert.equal(byPid(quickPick, 7999).label, '\u00a0\u00a0└ $(symbol-method) gunicorn worker');
    assert.match(byPid(quickPick, 7991).description ?? '', /^PID 7991 · cloudsdk · \d+[smhd] · 24 MB$/);
    assert.equal(byPid(quickPick, 7989).detail, '/tmp/pvn/bin/python3 /tmp/pvn/bin/gunicorn -w 2 -b 127.0.0.1:18002 wsgi_app:app');

    quickPick.choose(byPid(quickPick, 8000));
    assert.equal(await result, 8000);
    assert.equal(quickPick.disposed, true);
    assert.equal(quickPick.listenerCount(), 0, 'listeners are disposed with the picker');
  });

  it('offers "All N workers" under each master with workers, and returns the master for it', async () => {
    const result = pickAttachTarget({ list: async () => recorded, showAllProcesses: true, offerWorkerGroups: true });
    const quickPick = fake.quickPicks[fake.quickPicks.length - 1];
    await tick();
    const labels = quickPick.items.map((i) => i.label);
    const master = labels.indexOf('$(server-process) gunicorn master');
    assert.ok(master >= 0);
    const group = quickPick.items[master + 1] as FakeItem & { workersOf?: number };
    assert.match(group.label, /^\u00a0\u00a0└ \$\(layers\) All \d+ workers? of this gunicorn master$/);
    quickPick.choose(group);
    assert.deepEqual(await result, { workersOf: group.workersOf });
    assert.ok(recorded.some((p) => p.ppid === group.workersOf && p.server?.role === 'worker'));
  });

  it('a reloader (flask run --debug): its master, its one worker, and "The one worker of this reloader master"', async () => {
    const reloader = await listProcesses({ platform: 'linux', procSource: recordedProcSource(path.join(RECORDED, 'reloader')), selfPid: 0 });
    const result = pickAttachTarget({ list: async () => reloader, showAllProcesses: true, offerWorkerGroups: true });
    const quickPick = fake.quickPicks[fake.quickPicks.length - 1];
    await tick();
    assert.equal(byPid(quickPick, 28434).label, '$(server-process) reloader master');
    assert.equal(byPid(quickPick, 28465).label, '\u00a0\u00a0└ $(symbol-method) reloader worker');
    const group = quickPick.items[quickPick.items.indexOf(byPid(quickPick, 28434)) + 1] as FakeItem & { workersOf?: number };
    assert.equal(group.label, '\u00a0\u00a0└ $(layers) The one worker of this reloader master');
    quickPick.choose(group);
    assert.deepEqual(await result, { workersOf: 28434 });
  });

  it('hides the other processes unless showAllProcesses', async () => {
    const { result, quickPick } = await open(async () => recorded, false);
    assert.equal(byPid(quickPick, 7995), undefined);
    assert.ok(!quickPick.items.some((i) => i.label === 'Other processes'));
    quickPick.hide();
    assert.equal(await result, undefined);
  });

  it('refresh re-lists and keeps the filter text and the highlighted process', async () => {
    let calls = 0;
    const { result, quickPick } = await open(async () => (++calls === 1 ? recorded : recorded.filter((p) => p.pid !== 7998)));
    quickPick.type('gunicorn');
    quickPick.activeItems = [byPid(quickPick, 8003)];
    quickPick.button.fire(quickPick.buttons[0]);
    assert.equal(quickPick.busy, true);
    await tick();
    assert.equal(calls, 2);
    assert.equal(quickPick.value, 'gunicorn');
    assert.equal(byPid(quickPick, 7998), undefined, 'the new listing is shown');
    assert.equal(quickPick.activeItems[0]?.pid, 8003);
    assert.equal(quickPick.busy, false);
    quickPick.hide();
    assert.equal(await result, undefined);
  });

  it('Enter PID manually validates a positive integer and pre-fills a typed PID', async () => {
    const { result, quickPick } = await open(async () => recorded);
    quickPick.type('4242');
    assert.equal(quickPick.items[0].alwaysShow, true, 'an unlisted PID keeps the manual entry visible');
    let validate: ((value: string) => string | undefined) | undefined;
    let prefilled: string | undefined;
    fake.inputBox = (options) => {
      validate = options.validateInput;
      prefilled = options.value;
      return '4242';
    };
    quickPick.choose(quickPick.items[0]);
    assert.equal(await result, 4242);
    assert.equal(prefilled, '4242');
    assert.equal(validate?.('12'), undefined);
    for (const bad of ['', '0', '-3', '1.5', 'abc']) assert.equal(validate?.(bad), 'Enter a positive whole number.', bad);
  });

  it('a failed listing still offers manual entry and says why', async () => {
    const { result, quickPick } = await open(async () => {
      throw new Error('ps exited with code 1');
    });
    assert.deepEqual(quickPick.items.map((i) => i.label), ['$(edit) Enter PID manually…']);
    assert.equal(quickPick.placeholder, 'Could not list processes: ps exited with code 1');
    assert.equal(quickPick.busy, false);
    fake.inputBox = () => undefined;
    quickPick.choose(quickPick.items[0]);
    assert.equal(await result, undefined, 'cancelling the input box cancels the pick');
  });
});
