import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { enclosingBlocks, enclosingFunction } from '../../src/probes/pythonSymbols';

const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures');
const lines = (file: string) => readFileSync(path.join(FIXTURES, file), 'utf8').split('\n');
const lineOf = (src: string[], text: string) => src.findIndex((l) => l.includes(text));

describe('enclosingFunction (fixture sources)', () => {
  const busy = lines('busy_service.py');
  const cases: Array<[string, string, object | undefined]> = [
    ['a module-level function body', 'time.sleep(0.05)', { class: undefined, method: 'handle_request', nested: undefined, defLine: lineOf(busy, 'def handle_request') }],
    ['the def line itself', 'def compute_checksum', { class: undefined, method: 'compute_checksum', nested: undefined, defLine: lineOf(busy, 'def compute_checksum') }],
    ['an async function', 'await asyncio.sleep(0.2)', { class: undefined, method: 'poll_inventory', nested: undefined, defLine: lineOf(busy, 'async def poll_inventory') }],
    ['a function nested in a function', 'await asyncio.gather', { class: undefined, method: 'event_loop_thread', nested: 'main', defLine: lineOf(busy, 'def event_loop_thread') }],
    ['module-level code', 'sys.path.insert', undefined],
  ];
  for (const [name, text, expected] of cases) {
    it(name, () => assert.deepEqual(enclosingFunction(busy, lineOf(busy, text)), expected));
  }

  it('a method in a class', () => {
    const src = lines('../../demo/checkout_service.py').concat(['', 'class Cart:', '    def add(self, sku):', '        return sku', '']);
    const at = src.length - 2;
    assert.deepEqual(enclosingFunction(src, at), { class: 'Cart', method: 'add', nested: undefined, defLine: at - 1 });
  });
});

describe('enclosingBlocks: module level after a class or def (seen on a new service in the workbench)', () => {
  // shop_api-like source: a module global right after a dataclass was taken for a class attribute.
  const src = [
    '@dataclass', 'class AppConfig:', '    name: str = "shop"', '', '', 'CONFIG = AppConfig()',
    'def handler(', '    request,', '    retries=3,', '):', '    return request', 'print("READY")',
  ];
  it('a top-level statement after a class body is in no block', () => {
    assert.deepEqual(enclosingBlocks(src, src.indexOf('CONFIG = AppConfig()')), []);
  });
  it('a top-level statement after a function is in no function', () => {
    assert.equal(enclosingFunction(src, src.indexOf('print("READY")')), undefined);
  });
  it('the lines of a signature over several lines belong to that def, its closing line too', () => {
    for (const text of ['    request,', '):']) {
      assert.deepEqual(enclosingBlocks(src, src.indexOf(text)), [{ kind: 'def', name: 'handler', line: 6 }], text);
    }
    assert.deepEqual(enclosingBlocks(src, src.indexOf('    return request')), [{ kind: 'def', name: 'handler', line: 6 }]);
  });
});
