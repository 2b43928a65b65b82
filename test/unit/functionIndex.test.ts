import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { lineOf, reloadableFunctions } from '../../src/live/functionIndex';

const FIXTURE = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'live_service.py');

describe('reloadable functions of a Python file', () => {
  it('finds module functions and methods of module-level classes, with their def lines', () => {
    const lines = readFileSync(FIXTURE, 'utf8').split('\n');
    assert.deepEqual(reloadableFunctions(lines), [
      { function: 'greeting', line: 14 },
      { class: 'Greeter', function: 'greet', line: 21 },
      { function: 'main', line: 28 },
    ]);
  });

  it('skips nested functions, decorators, comments and multi-line strings at class level', () => {
    const lines = [
      'import functools',
      '@functools.lru_cache()',
      'async def fetch(url):',
      '    def inner():',
      '        pass',
      'class Shop(Base):',
      '    # a comment',
      '    @property',
      '    def total(self):',
      '        def helper():',
      '            return 1',
      '        return helper()',
      '',
      '    async def pay(self):',
      '        pass',
      'x = 1',
      '    def not_in_a_class():',
    ];
    const found = reloadableFunctions(lines);
    assert.deepEqual(found, [
      { function: 'fetch', line: 2 },
      { class: 'Shop', function: 'total', line: 8 },
      { class: 'Shop', function: 'pay', line: 13 },
    ]);
    assert.equal(lineOf(found, 'Shop', 'pay'), 13);
    assert.equal(lineOf(found, null, 'fetch'), 2);
    assert.equal(lineOf(found, null, 'pay'), undefined);
  });
});
