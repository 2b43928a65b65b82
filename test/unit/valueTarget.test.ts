import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { enclosingBlocks } from '../../src/probes/pythonSymbols';
import { classAt, inspectTargetAt, moduleClasses, moduleLevelNames, valueAt, wordAt } from '../../src/inspect/valueTarget';

const source = readFileSync(path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'inspect_service.py'), 'utf8').split('\n');
/** The cursor on the `nth` occurrence of `word` in the first line containing `text`. */
function at(text: string, word: string, nth = 0): [number, number] {
  const line = source.findIndex((l) => l.includes(text));
  let col = -1;
  for (let i = 0; i <= nth; i++) col = source[line].indexOf(word, col + 1);
  return [line, col + 1];
}
const value = (text: string, word: string, nth = 0) => {
  const [line, col] = at(text, word, nth);
  return valueAt(source, line, col, enclosingBlocks(source, line));
};

describe('what the cursor points at (inspect_service.py)', () => {
  it('module globals, where they are assigned and where they are used', () => {
    assert.deepEqual(value('CONFIG = {', 'CONFIG'), { field: 'CONFIG' });
    assert.deepEqual(value('REQUESTS_SERVED += 1', 'REQUESTS_SERVED'), { field: 'REQUESTS_SERVED' });
  });

  it('class attributes: in the class body, as Class.attr, as self.attr inside a method', () => {
    assert.deepEqual(value('TAX_RATE = 0.2', 'TAX_RATE'), { class: 'Order', field: 'TAX_RATE' });
    const src = [...source, 'def vat(order):', '    return order.total * Order.TAX_RATE', 'class Cart(Order):', '    def tax(self):', '        return self.CURRENCY'];
    const n = src.length;
    assert.deepEqual(valueAt(src, n - 4, src[n - 4].indexOf('TAX_RATE') + 2, enclosingBlocks(src, n - 4)), { class: 'Order', field: 'TAX_RATE' });
    assert.deepEqual(valueAt(src, n - 1, src[n - 1].indexOf('CURRENCY') + 1, enclosingBlocks(src, n - 1)), { class: 'Cart', field: 'CURRENCY' });
  });

  it('nothing on keywords, strings, numbers and def names', () => {
    assert.equal(value('def serve', 'serve'), undefined);
    assert.equal(value('while True', 'True'), undefined);
    assert.equal(wordAt('x = "CONFIG"', 6), undefined);
    assert.equal(wordAt('x = 10e3', 7), undefined);
  });

  it('the names a hover may ask about: assigned at top level or declared global; the top-level classes', () => {
    const names = moduleLevelNames(source);
    for (const n of ['CONFIG', 'GREETING', 'REQUESTS_SERVED', 'OPEN_ORDERS', 'RUSH']) assert.ok(names.has(n), n);
    for (const n of ['os', 'serve', 'Order', 'order_id', 'TAX_RATE']) assert.ok(!names.has(n), n);
    assert.deepEqual([...moduleClasses(source)], ['Order', 'RushOrder', 'Refund', 'Basket']);
  });

  it('the class for Show Live Instances: the name under the cursor, else the class the cursor is in', () => {
    const [line, col] = at('class RushOrder(Order)', 'Order', 1);
    assert.deepEqual(classAt(source, line, col, enclosingBlocks(source, line)), { field: 'Order' });
    const [inInit] = at('self.customer = customer', 'self');
    assert.deepEqual(classAt(source, inInit, 0, enclosingBlocks(source, inInit)), { field: 'Order' });
    const [def] = at('def __init__', 'def');
    assert.deepEqual(classAt(source, def, 10, enclosingBlocks(source, def)), { field: 'Order' });
  });
});

describe('Inspect Value on a line of shop_api_service.py (a right-click right of the name)', () => {
  const shop = readFileSync(path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'shop_api_service.py'), 'utf8').split('\n');
  const on = (text: string, word: string) => {
    const line = shop.findIndex((l) => l.startsWith(text));
    const col = shop[line].indexOf(word) + 1;
    return inspectTargetAt(shop, line, col, enclosingBlocks(shop, line));
  };
  it('a builtin on the right of an assignment means the name assigned', () => {
    assert.deepEqual(on('ROWS = ', 'list'), { field: 'ROWS' });
    assert.deepEqual(on('ROWS = ', 'range'), { field: 'ROWS' });
  });
  it('other names are kept; a builtin where nothing is assigned is nothing', () => {
    assert.deepEqual(on('CONFIG = ', 'AppConfig'), { field: 'AppConfig' });
    assert.deepEqual(on('ROWS = ', 'ROWS'), { field: 'ROWS' });
    assert.equal(inspectTargetAt(['print(len(ROWS))'], 0, 2, []), undefined);
    assert.deepEqual(inspectTargetAt(['print(len(ROWS))'], 0, 12, []), { field: 'ROWS' });
  });
  it('a right-click elsewhere on an assignment line reads what it assigns; inside a function, nothing', () => {
    assert.deepEqual(on('BIG_BLOB = ', '2_000_000'), { field: 'BIG_BLOB' });
    assert.deepEqual(on('BIG_BLOB = ', '='), { field: 'BIG_BLOB' });
    assert.deepEqual(inspectTargetAt(['class C:', '    LIMIT = 10'], 1, 13, enclosingBlocks(['class C:', '    LIMIT = 10'], 1)), { class: 'C', field: 'LIMIT' });
    const fn = ['def f():', '    total = len(x)'];
    assert.equal(inspectTargetAt(fn, 1, 13, enclosingBlocks(fn, 1)), undefined);
  });

  it('nothing in a comment for the hover (a right-click on "a" in "# a huge value" asked the target for a global named a)', () => {
    const line = shop.findIndex((l) => l.startsWith('BIG_BLOB = '));
    assert.equal(valueAt(shop, line, shop[line].indexOf('huge') + 1, []), undefined);
    assert.deepEqual(on('BIG_BLOB = ', 'huge'), { field: 'BIG_BLOB' }, 'Inspect Value: the line\'s global');
    assert.equal(wordAt('X = "#" + Y  # Y is fine', 10)?.word, 'Y');
    assert.equal(wordAt('X = "#" + Y  # Y is fine', 16), undefined);
  });
});
