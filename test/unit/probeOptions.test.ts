import assert from 'node:assert/strict';
import { formatProbeOptions, parseProbeOptions, tokenize } from '../../src/probes/probeOptions';

describe('probe options (the seed syntax a user edits)', () => {
  it('tokenizes quoted values with spaces and escaped quotes', () => {
    assert.deepEqual(tokenize(`a -f "args[0] == \\"x y\\"" --expr 'args, kwargs'`), ['a', '-f', 'args[0] == "x y"', '--expr', 'args, kwargs']);
    assert.throws(() => tokenize('a -f "open'), /Unclosed " quote/);
  });

  const cases: Array<[string, 'watch' | 'trace' | 'ttRecord', string, object]> = [
    ['watch with class and every option', 'watch', `__main__ Worker handle --expr "args, return_obj" -x 2 -e -n 20 -f "args[0] > 3" -r -v`,
      { module: '__main__', class: 'Worker', method: 'handle', expr: 'args, return_obj', expand: 2, exceptionOnly: true, limit: 20, filter: 'args[0] > 3', raw: true, verbose: true }],
    ['watch of a module function', 'watch', 'shop.orders total_price', { module: 'shop.orders', method: 'total_price' }],
    ['trace', 'trace', 'pkg.mod run -i 1.5 -et 30 -d 3 -n 5', { module: 'pkg.mod', method: 'run', intervalMs: 1.5, entranceTimeMs: 30, depth: 3, limit: 5 }],
    ['tt', 'ttRecord', 'pkg.mod Cls run -n 50 -f "cost > 10"', { module: 'pkg.mod', class: 'Cls', method: 'run', limit: 50, filter: 'cost > 10' }],
  ];
  for (const [name, method, text, expected] of cases) {
    it(`parses ${name} and formats it back`, () => {
      const params = parseProbeOptions(method, text);
      assert.deepEqual(params, expected);
      assert.deepEqual(parseProbeOptions(method, formatProbeOptions(method, params)), expected);
    });
  }

  const errors: Array<[string, 'watch' | 'trace' | 'ttRecord', string, RegExp]> = [
    ['a missing method', 'watch', 'onlymodule', /module \[class\] method/],
    ['too many words', 'watch', 'a b c d', /module \[class\] method/],
    ['an unknown option', 'trace', 'a b -x 2', /Unknown option -x for trace/],
    ['a non-integer limit', 'watch', 'a b -n ten', /-n takes a whole number, got "ten"/],
    ['a missing value', 'watch', 'a b --expr', /--expr needs a value/],
  ];
  for (const [name, method, text, message] of errors) {
    it(`rejects ${name}`, () => assert.throws(() => parseProbeOptions(method, text), message));
  }
});
