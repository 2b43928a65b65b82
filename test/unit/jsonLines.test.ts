import assert from 'node:assert/strict';
import { LineDecoder } from '../../src/helper/jsonLines';

describe('LineDecoder', () => {
  const cases: Array<{ name: string; chunks: string[]; lines: string[]; rest?: string }> = [
    { name: 'one line per chunk', chunks: ['{"a":1}\n', '{"b":2}\n'], lines: ['{"a":1}', '{"b":2}'] },
    { name: 'a line split across chunks', chunks: ['{"a":', '1}\n{"b"', ':2}\n'], lines: ['{"a":1}', '{"b":2}'] },
    { name: 'blank lines dropped', chunks: ['\n\n{"a":1}\n\n'], lines: ['{"a":1}'] },
    { name: 'tail without newline is kept for flush', chunks: ['{"a":1}\n{"b":'], lines: ['{"a":1}'], rest: '{"b":' },
    { name: 'multi-byte text intact', chunks: ['{"v":"héllo ✓"}\n'], lines: ['{"v":"héllo ✓"}'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const decoder = new LineDecoder();
      const lines = c.chunks.flatMap((chunk) => decoder.push(chunk));
      assert.deepEqual(lines, c.lines);
      assert.equal(decoder.flush(), c.rest);
    });
  }
});
