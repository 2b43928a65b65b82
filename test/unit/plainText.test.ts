import assert from 'node:assert/strict';
import { plainText } from '../../src/common/plainText';

describe('plainText (target data shown in notifications)', () => {
  it('breaks markdown links so a command: URI from the target cannot become clickable', () => {
    const hostile = 'No method named [run](command:workbench.action.terminal.new) is found in module evil!';
    const shown = plainText(hostile);
    assert.doesNotMatch(shown, /\]\(command:/);
    assert.equal(shown.replace(/\u200b/g, ''), hostile, 'only a zero-width space is added');
  });

  it('leaves ordinary messages alone', () => {
    assert.equal(plainText('Process 42 exited (args[0] == 1).'), 'Process 42 exited (args[0] == 1).');
  });
});
