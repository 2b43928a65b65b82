import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { formatInspectOptions, parseInspectOptions } from '../../src/inspect/inspectOptions';
import { forceGcText, instancesDocument, instancesHeadline, shortType, valueDocument, valueLocation } from '../../src/inspect/valueText';
import { oneLine, valueTree } from '../../src/inspect/valueTree';

const RECORDED = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'recorded', 'inspect');
const recorded = (name: string) => JSON.parse(readFileSync(path.join(RECORDED, `${name}.json`), 'utf8'));

describe('value trees from the agent\'s renderings (recorded from inspect_service.py)', () => {
  it('a dict: one row per key, containers fold with their item count, Copy gets the lines', () => {
    const tree = valueTree(recorded('getglobal-config').value);
    assert.deepEqual(tree.map((n) => [n.label, n.value]), [['debug', 'False'], ['limits', '{…} 2 items'], ['region', '"eu-west"']]);
    assert.deepEqual(tree[1].children.map((n) => [n.label, n.value, n.children.length]), [['burst', '[1, 2, 3]', 0], ['orders', '3', 0]]);
    assert.equal(tree[1].text, '"limits": {\n  "burst": [1, 2, 3], \n  "orders": 3\n}');
  });

  it('a list of objects: [i] rows, each object with its fields', () => {
    const tree = valueTree(recorded('getglobal-open-orders-x3').value);
    assert.deepEqual(tree.map((n) => [n.label, n.value]), [['[0]', 'Order({…}) 3 items'], ['[1]', 'Order({…}) 3 items'], ['[2]', 'Order({…}) 3 items']]);
    assert.deepEqual(tree[2].children.map((n) => [n.label, n.value]), [['customer', '"<img src=x onerror=alert(1)>"'], ['order_id', '1003'], ['total', '0.5']]);
  });

  it('depth 1 leaves nested containers as one repr; scalars and raw reprs are one leaf', () => {
    assert.deepEqual(valueTree(recorded('getglobal-config-x1').value).map((n) => [n.label, n.value]),
      [['debug', 'False'], ['limits', "{'orders': 3, 'burst': [1, 2, 3]}"], ['region', '"eu-west"']]);
    assert.deepEqual(valueTree(recorded('getglobal-tax-rate').value).map((n) => [n.label, n.value]), [['[0]', '0.2']]);
    const raw = recorded('getglobal-config-raw').value;
    assert.deepEqual(valueTree(raw).map((n) => n.value), [raw]);
    assert.equal(oneLine(recorded('getglobal-config').value), '{"debug": False, "limits": {"burst": [1, 2, 3], "orders": 3}, "region": "eu-west"}');
  });

  it('an instance: its fields', () => {
    const { instances } = recorded('instances-order');
    assert.deepEqual(valueTree(instances[0].value).map((n) => [n.label, n.value]), [['customer', '"ada"'], ['order_id', '1001'], ['total', '12.5']]);
  });
});

describe('value trees of a service the tests had not seen (recorded from shop_api_service.py)', () => {
  it('a string with a newline, a tab and a zero-width space is one row, its hidden characters escaped', () => {
    const tree = valueTree(recorded('shop-config').value);
    assert.deepEqual(tree.map((n) => n.label), ['allowed_hosts', 'debug', 'name', 'secret_banner', 'tax_rate']);
    const banner = tree[3];
    assert.equal(banner.value, '"<h1>Welcome</h1>\\n<script>alert(\'x\')</script>\\tTabbed\\u200b zero-width 🚀"');
    assert.equal(banner.text, '"<h1>Welcome</h1>\n<script>alert(\'x\')</script>\tTabbed\u200b zero-width 🚀"', 'Copy keeps the text as the target has it');
    assert.match(oneLine(recorded('shop-config').value, 400), /"secret_banner": "<h1>Welcome<\/h1>\\n<script>/);
  });

  it('a 2 MB string: the row and its one-line form say its middle is cut (it looked whole)', () => {
    const blob = recorded('shop-big-blob').value;
    assert.match(oneLine(blob, 80), /^"x+…? ?\(longer: its middle is cut; Change Options… → -v shows it all\)$/);
    assert.ok(oneLine(blob, 80).length <= 80 + 60);
    assert.match(valueTree(blob)[0].value, /x"\s\(longer: its middle is cut/);
    assert.doesNotMatch(oneLine(recorded('getglobal-greeting').value), /middle is cut/);
  });

  it('a long list: the elision is a row of its own and the items after it count from the end', () => {
    const tree = valueTree(recorded('shop-rows').value);
    assert.equal(tree.length, 21);
    assert.deepEqual([tree[9].label, tree[9].value], ['[9]', '9']);
    assert.match(`${tree[10].label} ${tree[10].value}`, /^… middle items not shown/);
    assert.deepEqual(tree.slice(11).map((n) => n.label), ['[-10]', '[-9]', '[-8]', '[-7]', '[-6]', '[-5]', '[-4]', '[-3]', '[-2]', '[-1]']);
    assert.deepEqual([tree[20].label, tree[20].value], ['[-1]', '249999']);
  });
});

describe('value texts (recorded answers)', () => {
  it('documents say where, what and how', () => {
    const doc = valueDocument(recorded('getglobal-greeting'), 42).split('\n');
    assert.deepEqual(doc.slice(0, 4), ['# __main__.GREETING in process 42', '# type str · depth 2', '',
      '"Grüße <b>bold</b> & <script>alert(1)</script> — ✓"']);
    assert.equal(valueLocation(recorded('getglobal-tax-rate')), '__main__.Order.TAX_RATE');
    assert.equal(shortType("<class 'float'>"), 'float');
  });

  it('instances: the count, then each one with its address; or the expression\'s value', () => {
    const order = recorded('instances-order');
    assert.equal(instancesHeadline(order), '3 live instances of __main__.Order');
    assert.equal(instancesHeadline({ ...order, instances: order.instances.slice(0, 1) }), '3 live instances of __main__.Order (showing 1)');
    const lines = instancesDocument(order, 42).split('\n');
    assert.match(lines[2], /^\[1\] __main__\.Order at 0x[0-9a-f]+$/);
    assert.equal(lines[3], 'Order({');
    assert.deepEqual(instancesDocument(recorded('instances-order-len'), 42).split('\n').slice(2, 4), ["# expression len(instances) · type int", '3']);
    assert.equal(recorded('instances-refund').error.code, 'NO_INSTANCES');
  });

  it('force gc in one sentence', () => {
    assert.equal(forceGcText(recorded('force-gc')),
      'gc.collect() freed 2,616 unreachable objects; objects tracked by the collector 38,698 → 22,232; resident memory 32.4 MB → 32.4 MB.');
  });
});

describe('inspect options (-n -x -e -r -v)', () => {
  it('parses and formats flight-profiler\'s spelling', () => {
    assert.deepEqual(parseInspectOptions('-x 3 -e "len(target)" -r', 'value'), { expand: 3, expr: 'len(target)', raw: true });
    assert.deepEqual(parseInspectOptions('-n 50 -x 1 -v', 'instances'), { limit: 50, expand: 1, verbose: true });
    assert.equal(formatInspectOptions({ limit: 10, expand: 2, expr: 'instances[0].name' }), '-n 10 -x 2 -e "instances[0].name"');
    assert.throws(() => parseInspectOptions('-x 9', 'value'), /-x takes a whole number from 1 to 6/);
    assert.throws(() => parseInspectOptions('-n 5', 'value'), /Unknown option -n/);
    assert.throws(() => parseInspectOptions('-e', 'instances'), /-e needs an expression/);
  });
});
