import './fakeTreeVscode';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { PyFlightError } from '../../../src/common/errors';
import { Inspections } from '../../../src/inspect/inspections';
import { ValuesView, type ValuesNode } from '../../../src/inspect/valuesView';
import type { Session } from '../../../src/session/session';
import type { TreeItem } from './fakeTreeVscode';

const RECORDED = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'recorded', 'inspect');
const recorded = (name: string) => JSON.parse(readFileSync(path.join(RECORDED, `${name}.json`), 'utf8'));

describe('Values view rows (answers recorded from inspect_service.py)', () => {
  // The session answers what the helper answered for the fixture (record_inspect_answers.mjs).
  const session = {
    pid: 4242, state: 'ready',
    getglobal: async (p: { field: string }) => recorded(p.field === 'CONFIG' ? 'getglobal-config' : 'getglobal-tax-rate'),
    call: async (method: string, p: { class: string }) => {
      assert.equal(method, 'getInstances');
      if (p.class === 'Refund') {
        const { error } = recorded('instances-refund');
        throw new PyFlightError(error.code, error.message, error.hint);
      }
      return recorded('instances-order');
    },
  } as unknown as Session;
  const inspections = new Inspections();
  const sessionListeners: Array<() => void> = [];
  const view = new ValuesView(inspections, (listener) => {
    sessionListeners.push(listener);
    return { dispose: () => undefined };
  });
  const item = (node: ValuesNode) => view.getTreeItem(node) as unknown as TreeItem;

  it('a dict: the root says type, module and process; its keys are rows, containers fold', async () => {
    await inspections.add(session, { kind: 'value', params: { module: '__main__', field: 'CONFIG' } });
    const [root] = view.getChildren();
    assert.deepEqual([item(root).label, item(root).description, item(root).contextValue], ['CONFIG', 'dict · __main__ · pid 4242', 'inspection.value']);
    const rows = view.getChildren(root);
    assert.deepEqual(rows.map((r) => [item(r).label, item(r).description, item(r).collapsibleState]), [
      ['debug', 'False', 0], ['limits', '{…} 2 items', 1], ['region', '"eu-west"', 0]]);
    assert.deepEqual(view.getChildren(rows[1]).map((r) => [item(r).label, item(r).description]), [['burst', '[1, 2, 3]'], ['orders', '3']]);
  });

  it('a process that exits marks its rows at once (seen: a killed target\'s values looked current)', async () => {
    const exiting = { ...session, state: 'ready' } as unknown as { state: string } & Session;
    await inspections.add(exiting, { kind: 'value', params: { module: '__main__', field: 'CONFIG' } });
    let fired = 0;
    const listening = view.onDidChangeTreeData(() => fired++);
    exiting.state = 'targetExited';
    for (const listener of sessionListeners) listener();
    listening.dispose();
    assert.equal(fired, 1, 'the view was not told');
    assert.equal(item(view.getChildren()[0]).description, 'dict · __main__ · pid 4242 · process exited');
  });

  it('a scalar class attribute is one row with its value', async () => {
    await inspections.add(session, { kind: 'value', params: { module: '__main__', class: 'Order', field: 'TAX_RATE' } });
    const [root] = view.getChildren();
    assert.deepEqual([item(root).label, item(root).description, item(root).collapsibleState], ['Order.TAX_RATE', 'float = 0.2 · __main__ · pid 4242', 0]);
  });

  it('instances: the count on the root, one row per instance with its address, its fields below', async () => {
    await inspections.add(session, { kind: 'instances', params: { module: '__main__', class: 'Order' } });
    const [root] = view.getChildren();
    assert.deepEqual([item(root).label, item(root).description], ['Order', '3 live instances · __main__ · pid 4242']);
    const rows = view.getChildren(root);
    assert.deepEqual(rows.map((r) => item(r).label), ['[1] Order', '[2] Order', '[3] Order']);
    assert.match(item(rows[2]).description!, /^0x[0-9a-f]+ · Order\(\{"customer": "<img src=x onerror=alert\(1\)>", "order_id": 1003, "total": 0\.5\}\)$/);
    assert.deepEqual(view.getChildren(rows[0]).map((r) => [item(r).label, item(r).description]), [['customer', '"ada"'], ['order_id', '1001'], ['total', '12.5']]);
  });

  it('a class without instances: the error on the root, the next step below it', async () => {
    await inspections.add(session, { kind: 'instances', params: { module: '__main__', class: 'Refund' } });
    const [root] = view.getChildren();
    assert.equal(item(root).description, 'No live instances of __main__.Refund in the process. · __main__ · pid 4242');
    assert.equal(item(root).iconPath?.id, 'error');
    const [hint] = view.getChildren(root);
    assert.match(item(hint).label, /^None exists right now/);
  });
});
