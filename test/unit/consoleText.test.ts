import assert from 'node:assert/strict';
import { consoleWarning, terminalText } from '../../src/live/consoleController';

describe('console output in the terminal', () => {
  it('turns newlines into CRLF (a pseudoterminal does not)', () => {
    assert.equal(terminalText('a\nb\r\nc'), 'a\r\nb\r\nc');
  });

  it('keeps colours and tabs, drops every other escape sequence and control character', () => {
    const printed = 'ok \x1b[31mred\x1b[0m\t|'
      + '\x1b]0;window title\x07' // OSC: title
      + '\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\' // OSC 8 hyperlink
      + '\x1b]52;c;ZXZpbA==\x07' // OSC 52: write the clipboard
      + '\x1b[2J\x1b[H' // clear screen, cursor home
      + '\x1bc' // reset
      + 'bell\x07 back\b cr\r end';
    assert.equal(terminalText(printed), 'ok \x1b[31mred\x1b[0m\t|linkbell back cr end');
  });

  it('warns that code runs in the live process, naming it', () => {
    assert.match(consoleWarning(4321), /runs inside the live process 4321/);
  });
});
