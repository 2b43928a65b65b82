import './fakeTreeVscode';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { StackResult } from '../../../src/protocol/helper';
import { formatStacks } from '../../../src/format/stackFormat';
import { nodeText, StacksView, type StackNode } from '../../../src/views/stacksView';
import type { TreeItem } from './fakeTreeVscode';

const RECORDED = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'recorded');
/** Stack results as `node dist/cli.js stack <pid> --json` printed them for the fixtures / the demo. */
const recorded = (name: string) => JSON.parse(readFileSync(path.join(RECORDED, name), 'utf8')) as StackResult;

function viewOf(result: StackResult) {
  const view = new StacksView();
  view.setResult(result, 'test', true);
  const item = (node: StackNode) => view.getTreeItem(node) as unknown as TreeItem;
  return { view, item, roots: view.getChildren() };
}

// ~300 px of sidebar shows about 33 characters of a group's label (the e2e lane measures it).
const NARROW = 33;

describe('Stacks view: labels lead with where threads are, and say what they wait for', () => {
  it('lock_contention.py: the three waiters are one group "in wait_for_lock · 3 threads", waiting for LOCK held by holder', () => {
    const { view, item, roots } = viewOf(recorded('stack-lock-contention.json'));
    const group = item(roots[0]);
    assert.equal(group.label, 'in wait_for_lock · 3 threads');
    assert.ok(group.label.length <= NARROW);
    assert.match(group.description!, /^waiting for LOCK · held by holder · same stack · waiter-\d, waiter-\d, waiter-\d$/);
    assert.equal(group.iconPath?.id, 'lock');
    // Its first row says which lock, and opens the line that waits.
    const [first, ...frames] = view.getChildren(roots[0]);
    assert.equal(item(first).label, 'waiting for LOCK');
    assert.equal(item(first).description, 'lock_contention.py:17 · held by holder');
    assert.equal(item(frames[0]).label, 'wait_for_lock');
    const holder = roots.map(item).find((i) => i.label.endsWith('holder'))!;
    assert.equal(holder.label, 'in hold_lock_forever · holder');
    assert.match(holder.description!, /^sleeping, holds LOCK · tid \d+$/);
    assert.match(nodeText(roots[0])!, /^waiter-\d, waiter-\d, waiter-\d — waiting for LOCK\n/);
  });

  it('the checkout demo: "in reserve_inventory · 4 threads", waiting for INVENTORY_LOCK held by price-refresher', () => {
    const { view, item, roots } = viewOf(recorded('stack-checkout-demo-blocked.json'));
    assert.equal(item(roots[0]).label, 'in reserve_inventory · 4 threads');
    assert.ok(item(roots[0]).label.length <= NARROW);
    assert.match(item(roots[0]).description!, /^waiting for INVENTORY_LOCK · held by price-refresher · same stack · http-worker-\d/);
    assert.equal(item(view.getChildren(roots[0])[0]).label, 'waiting for INVENTORY_LOCK');
    const refresher = roots.map(item).find((i) => i.label.endsWith('price-refresher'))!;
    assert.equal(refresher.label, 'in fetch_price_list · price-refresher');
    assert.match(refresher.description!, /^sleeping, holds INVENTORY_LOCK · /);
  });

  it('a thread waiting in the stdlib is labelled by its own code, with what it waits on first in the description', () => {
    const { view, item, roots } = viewOf(recorded('stack-sync-waits.json'));
    const labels = roots.map((r) => [item(r).label, item(r).description!.split(' · ')[0]]);
    for (const row of [
      ['in consume · queue-consumer', 'waiting on queue JOBS'],
      ['in wait_for_shutdown · event-waiter', 'waiting for event SHUTDOWN'],
      ['in wait_for_config · cond-waiter', 'waiting on condition CONFIG_CHANGED'],
      ['in join_worker · joiner', 'waiting for thread worker to end'],
      ['in take_slot · slot-waiter', 'waiting for POOL_SLOTS'],
      ['in Account.withdraw · account-waiter', 'waiting for self._lock'],
      ['in Account.hold · account-holder', 'sleeping, holds self._lock'],
      ['in register · rlock-waiter', 'waiting for REGISTRY_LOCK'],
    ]) assert.ok(labels.some((l) => l[0] === row[0] && l[1] === row[1]), `${row.join(' / ')} not in ${JSON.stringify(labels)}`);
    // The queue's wait is in threading.py: the row under the thread points at the user's line instead.
    const consumer = roots.find((r) => item(r).label === 'in consume · queue-consumer')!;
    assert.deepEqual([item(view.getChildren(consumer)[0]).label, item(view.getChildren(consumer)[0]).description], ['waiting on queue JOBS', 'sync_waits.py:52']);
    assert.ok(!roots.some((r) => r.kind === 'note' && /not a profile/.test(item(r).label)));
  });

  it('most threads running code: a note first says one snapshot is not a profile', () => {
    const { item, roots } = viewOf(recorded('stack-cpu-workers.json'));
    assert.equal(roots[0].kind, 'note');
    assert.equal(item(roots[0]).label, 'One snapshot is not a profile');
    assert.match(item(roots[0]).tooltip!, /Refresh a few times, or Trace/);
    assert.ok(roots.slice(1).map(item).some((i) => i.label === 'in crunch · 3 threads' && /^running · same stack · one holds GIL · cruncher-\d/.test(i.description!)));
    for (const quiet of ['stack-lock-contention.json', 'stack-checkout-demo-blocked.json', 'stack-busy-service.json']) {
      assert.ok(viewOf(recorded(quiet)).roots.every((r) => r.kind !== 'note' || !/not a profile/.test(item(r).label)), quiet);
    }
  });

  it('a dump from an older helper (no activity) still leads with the function', () => {
    const { item, roots } = viewOf(recorded('stack-busy-service.json'));
    assert.ok(roots.map(item).some((i) => i.label === 'in handle_request · request-worker'));
  });

  it('two Account objects whose locks could not be told apart: "Probably a deadlock" first (issue 20)', () => {
    const { item, roots } = viewOf(recorded('stack-two-accounts-no-locals.json'));
    const first = item(roots[0]);
    assert.match(first.label, /^Probably a deadlock: (transfer-a-b ⇄ transfer-b-a|transfer-b-a ⇄ transfer-a-b)$/);
    assert.equal(first.iconPath?.id, 'warning');
    assert.match(String(first.tooltip), /^Probably a deadlock: transfer-(a-b|b-a) waits for other\._lock, perhaps held by transfer-(a-b|b-a); /);
    assert.match(formatStacks(recorded('stack-two-accounts-no-locals.json')).split('\n')[1], /^Probably a deadlock: transfer-/);
    assert.ok(!roots.some((r) => r.kind === 'note' && /^Deadlock:/.test(item(r).label)));
    // A proven cycle is not said twice.
    assert.ok(!viewOf(recorded('stack-deadlock.json')).roots.some((r) => r.kind === 'note' && /^Probably/.test(item(r).label)));
  });

  it('deadlock.py: a lock cycle is named "Deadlock" first, with who waits for what (issue 20)', () => {
    const result = recorded('stack-deadlock.json');
    const { item, roots } = viewOf(result);
    const first = item(roots[0]);
    assert.match(first.label, /^Deadlock: (audit ⇄ transfer|transfer ⇄ audit)$/);
    assert.equal(first.description, 'each waits for a lock the other holds');
    assert.equal(first.iconPath?.id, 'error');
    assert.match(String(first.tooltip), /(transfer waits for AUDIT_LOCK held by audit; audit waits for ACCOUNTS_LOCK held by transfer|audit waits for ACCOUNTS_LOCK held by transfer; transfer waits for AUDIT_LOCK held by audit)\./);
    assert.match(formatStacks(result).split('\n')[1], /^Deadlock: .*waits for AUDIT_LOCK held by audit/);
    // No cycle, no deadlock: lock contention is not one.
    assert.ok(!viewOf(recorded('stack-lock-contention.json')).roots.some((r) => /Deadlock/.test(String((r as { text?: string }).text))));
  });
});
