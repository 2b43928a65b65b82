import assert from 'node:assert/strict';
import { LineEditor } from '../../src/live/lineEditor';

// The bytes are what xterm.js (VS Code's terminal) sends for each key.
const LEFT = '\x1b[D', RIGHT = '\x1b[C', UP = '\x1b[A', DOWN = '\x1b[B', HOME = '\x1b[H', END = '\x1b[F';
const BACKSPACE = '\x7f', DELETE = '\x1b[3~', CTRL_C = '\x03', CTRL_D = '\x04', ENTER = '\r';

function editor(prompt = '>>> '): LineEditor {
  const e = new LineEditor();
  e.begin(prompt);
  return e;
}

/** Types keys one by one, as a terminal sends them; returns the last result. */
function type(e: LineEditor, ...keys: string[]) {
  let last = e.handle('');
  for (const key of keys) last = e.handle(key);
  return last;
}

describe('console line editor', () => {
  it('echoes typed characters and submits the line on Enter', () => {
    const e = editor();
    assert.equal(e.handle('1+1').output, '1+1');
    const result = e.handle(ENTER);
    assert.deepEqual(result.action, { kind: 'submit', line: '1+1' });
    assert.equal(result.output, '\r\n');
  });

  it('moves with left/right/home/end and inserts in the middle', () => {
    const e = editor();
    type(e, 'a', 'c', LEFT, 'b');
    assert.equal(e.line, 'abc');
    assert.equal(e.cursor, 2);
    type(e, HOME, '(');
    assert.equal(e.line, '(abc');
    type(e, END, ')');
    assert.equal(e.line, '(abc)');
    type(e, RIGHT, RIGHT); // past the end: stays
    assert.equal(e.cursor, 5);
    type(e, HOME, LEFT); // before the start: stays
    assert.equal(e.cursor, 0);
  });

  it('redraws the line with the cursor in place after an edit in the middle', () => {
    const e = editor();
    type(e, 'x', 'z', LEFT);
    const { output } = e.handle('y');
    assert.equal(output, '\r\x1b[2K>>> xyz\x1b[1D');
  });

  it('backspace and delete remove the character before and under the cursor', () => {
    const e = editor();
    type(e, 'a', 'b', 'c', 'd', BACKSPACE);
    assert.equal(e.line, 'abc');
    type(e, HOME, DELETE);
    assert.equal(e.line, 'bc');
    type(e, HOME, BACKSPACE); // nothing before the cursor
    assert.equal(e.line, 'bc');
  });

  it('Ctrl+U and Ctrl+K cut to the start and to the end', () => {
    const e = editor();
    type(e, 'abcdef', LEFT, LEFT, '\x15');
    assert.equal(e.line, 'ef');
    type(e, RIGHT, '\x0b');
    assert.equal(e.line, 'e');
  });

  it('walks the history with up/down and keeps the line being typed', () => {
    const e = editor();
    e.handle('first\r');
    e.begin('>>> ');
    e.handle('second\r');
    e.begin('>>> ');
    type(e, 'dra', 'ft');
    type(e, UP);
    assert.equal(e.line, 'second');
    type(e, UP);
    assert.equal(e.line, 'first');
    type(e, UP); // the oldest: stays
    assert.equal(e.line, 'first');
    type(e, DOWN, DOWN);
    assert.equal(e.line, 'draft');
    assert.deepEqual(e.entries, ['first', 'second']);
  });

  it('does not store blank lines or a repeat of the last one', () => {
    const e = editor();
    for (const line of ['x', 'x', '', '   ', 'y']) {
      e.handle(line + ENTER);
      e.begin('>>> ');
    }
    assert.deepEqual(e.entries, ['x', 'y']);
  });

  it('Ctrl+C cancels the line being typed', () => {
    const e = editor();
    const result = type(e, 'import os', CTRL_C);
    assert.deepEqual(result.action, { kind: 'cancel' });
    assert.equal(result.output, '^C\r\n');
    assert.deepEqual(e.entries, []);
  });

  it('Ctrl+D on an empty line is end of input; on text it deletes forward', () => {
    const e = editor();
    assert.deepEqual(e.handle(CTRL_D).action, { kind: 'eof' });
    const f = editor();
    type(f, 'ab', HOME, CTRL_D);
    assert.equal(f.line, 'b');
  });

  it('stops after the first line of a paste and hands back the rest', () => {
    const e = editor();
    const first = e.handle('def f(x):\r\n    return x*2\r\n\r\nf(21)\r');
    assert.deepEqual(first.action, { kind: 'submit', line: 'def f(x):' });
    assert.equal(first.rest, '    return x*2\r\n\r\nf(21)\r');
    e.begin('... ');
    const second = e.handle(first.rest);
    assert.deepEqual(second.action, { kind: 'submit', line: '    return x*2' });
    e.begin('... ');
    const third = e.handle(second.rest);
    assert.deepEqual(third.action, { kind: 'submit', line: '' });
    e.begin('>>> ');
    assert.deepEqual(e.handle(third.rest).action, { kind: 'submit', line: 'f(21)' });
  });

  it('Tab indents (there is no completion) and other control keys are ignored', () => {
    const e = editor('... ');
    type(e, '\t', 'pass', '\x07', '\x1b[24~');
    assert.equal(e.line, '    pass');
  });

  it('application-mode arrows (ESC O x) work like normal ones', () => {
    const e = editor();
    type(e, 'ab', '\x1bOD', '\x1bOH');
    assert.equal(e.cursor, 0);
  });
});
