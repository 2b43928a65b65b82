import assert from 'node:assert/strict';
import { parseArgs, probeParams } from '../../src/cli/args';
import { parseProbeOptions, tokenize } from '../../src/probes/probeOptions';

/** `pyflight watch|trace|tt record` read the same options as the editor's input box (one table). */
describe('CLI probe options (the kind table)', () => {
  const cases: Array<['watch' | 'trace' | 'ttRecord', string]> = [
    ['watch', `__main__ Worker handle --expr "args, return_obj" -x 2 -e -n 20 -f "args[0] > 3" -r -v`],
    ['watch', 'shop.orders total_price -nm inner --exception --limits 3 --raw'],
    ['trace', 'pkg.mod run -i 1.5 -et 30 -d 3 -n 5 -f "x"'],
    ['trace', 'pkg.mod run --interval 0 --depth 2 --nested-method helper'],
    ['ttRecord', 'pkg.mod Cls run -n 50 -f "cost > 10"'],
  ];
  for (const [method, text] of cases) {
    it(`${method} ${text}`, () => {
      const args = parseArgs([method === 'ttRecord' ? 'tt' : method, '123', ...tokenize(text), '--json']);
      assert.deepEqual(probeParams(method, args.positional.slice(1), args), parseProbeOptions(method, text));
    });
  }

  it('says which option takes a number', () => {
    const args = parseArgs(['trace', '1', 'm', 'f', '-d', '2.5']);
    assert.throws(() => probeParams('trace', args.positional.slice(1), args), { code: 'BAD_ARGUMENT', message: /-d takes a whole number, got "2.5"/ });
  });
});
