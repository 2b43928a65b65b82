/**
 * The console's line editing, as a terminal sends keys: characters in, what to draw out
 * (ANSI), and what the user did (submit a line, cancel it, end of input). No vscode import, so the
 * unit tests drive it with the exact bytes xterm.js sends.
 */

export type EditorAction = { kind: 'submit'; line: string } | { kind: 'cancel' } | { kind: 'eof' };

export interface EditorResult {
  /** what to write to the terminal, in order */
  output: string;
  /** set when the input ended a line: the caller runs it, then calls begin() with the next prompt */
  action?: EditorAction;
  /** what came after that key (the rest of a paste): feed it again after begin() */
  rest: string;
}

/** Escape sequences xterm.js sends for the editing keys (normal and application cursor modes). */
const KEYS: Record<string, (e: LineEditor) => void> = {
  '\x1b[D': (e) => e.moveTo(e.cursor - 1), '\x1bOD': (e) => e.moveTo(e.cursor - 1), '\x02': (e) => e.moveTo(e.cursor - 1),
  '\x1b[C': (e) => e.moveTo(e.cursor + 1), '\x1bOC': (e) => e.moveTo(e.cursor + 1), '\x06': (e) => e.moveTo(e.cursor + 1),
  '\x1b[H': (e) => e.moveTo(0), '\x1bOH': (e) => e.moveTo(0), '\x1b[1~': (e) => e.moveTo(0), '\x01': (e) => e.moveTo(0),
  '\x1b[F': (e) => e.moveTo(Infinity), '\x1bOF': (e) => e.moveTo(Infinity), '\x1b[4~': (e) => e.moveTo(Infinity),
  '\x05': (e) => e.moveTo(Infinity),
  '\x1b[A': (e) => e.historyStep(-1), '\x1bOA': (e) => e.historyStep(-1), '\x10': (e) => e.historyStep(-1),
  '\x1b[B': (e) => e.historyStep(1), '\x1bOB': (e) => e.historyStep(1), '\x0e': (e) => e.historyStep(1),
  '\x7f': (e) => e.deleteBack(), '\b': (e) => e.deleteBack(),
  '\x1b[3~': (e) => e.deleteForward(),
  '\x15': (e) => e.killToStart(), // Ctrl+U
  '\x0b': (e) => e.killToEnd(), // Ctrl+K
};
const ESCAPE = /^\x1b(\[[0-9;]*[~A-Za-z]|O[A-Za-z])/;

export class LineEditor {
  private text = '';
  private pos = 0;
  private prompt = '';
  private readonly history: string[] = [];
  /** index into history while browsing it; history.length = the line being typed */
  private browse = 0;
  private draft = '';
  private out = '';

  constructor(private readonly maxHistory = 500) {}

  get line(): string {
    return this.text;
  }

  get cursor(): number {
    return this.pos;
  }

  get entries(): readonly string[] {
    return this.history;
  }

  /** Starts a new input line with this prompt; returns what to draw. */
  begin(prompt: string): string {
    this.prompt = prompt;
    this.text = '';
    this.pos = 0;
    this.browse = this.history.length;
    this.draft = '';
    return prompt;
  }

  /** Feeds what the terminal sent (a key, or a paste with several lines); stops after a line ends. */
  handle(data: string): EditorResult {
    this.out = '';
    let i = 0;
    const done = (action: EditorAction): EditorResult => {
      if (data[i] === '\n' && data[i - 1] === '\r') i++; // \r\n is one Enter
      return { output: this.out, action, rest: data.slice(i) };
    };
    while (i < data.length) {
      const rest = data.slice(i);
      const escape = ESCAPE.exec(rest);
      if (escape) {
        KEYS[escape[0]]?.(this);
        i += escape[0].length;
        continue;
      }
      const ch = data[i++];
      if (ch === '\r' || ch === '\n') {
        this.remember(this.text);
        this.out += '\r\n';
        return done({ kind: 'submit', line: this.text });
      }
      if (ch === '\x03') {
        this.out += '^C\r\n';
        return done({ kind: 'cancel' });
      }
      if (ch === '\x04') {
        if (this.text === '') {
          this.out += '\r\n';
          return done({ kind: 'eof' });
        }
        this.deleteForward();
        continue;
      }
      if (KEYS[ch]) {
        KEYS[ch](this);
        continue;
      }
      if (ch === '\t') {
        this.insert('    '); // indent inside a block; there is no completion
        continue;
      }
      if (ch < ' ' || ch === '\x1b') continue; // other control keys: ignored
      this.insert(ch);
    }
    return { output: this.out, rest: '' };
  }

  insert(chars: string): void {
    this.text = this.text.slice(0, this.pos) + chars + this.text.slice(this.pos);
    this.pos += chars.length;
    // Typing at the end only needs the characters echoed; anything else redraws the line.
    if (this.pos === this.text.length) this.out += chars;
    else this.redraw();
  }

  moveTo(position: number): void {
    const next = Math.max(0, Math.min(this.text.length, position));
    if (next === this.pos) return;
    this.out += next < this.pos ? `\x1b[${this.pos - next}D` : `\x1b[${next - this.pos}C`;
    this.pos = next;
  }

  deleteBack(): void {
    if (this.pos === 0) return;
    this.text = this.text.slice(0, this.pos - 1) + this.text.slice(this.pos);
    this.pos--;
    this.redraw();
  }

  deleteForward(): void {
    if (this.pos >= this.text.length) return;
    this.text = this.text.slice(0, this.pos) + this.text.slice(this.pos + 1);
    this.redraw();
  }

  killToStart(): void {
    this.text = this.text.slice(this.pos);
    this.pos = 0;
    this.redraw();
  }

  killToEnd(): void {
    this.text = this.text.slice(0, this.pos);
    this.redraw();
  }

  historyStep(step: -1 | 1): void {
    const next = this.browse + step;
    if (next < 0 || next > this.history.length) return;
    if (this.browse === this.history.length) this.draft = this.text;
    this.browse = next;
    this.text = next === this.history.length ? this.draft : this.history[next];
    this.pos = this.text.length;
    this.redraw();
  }

  private remember(line: string): void {
    if (!line.trim() || this.history[this.history.length - 1] === line) return;
    this.history.push(line);
    if (this.history.length > this.maxHistory) this.history.shift();
  }

  /** Back to column 0, clear the row, prompt and text, then the cursor where it belongs. */
  private redraw(): void {
    this.out += `\r\x1b[2K${this.prompt}${this.text}`;
    const back = this.text.length - this.pos;
    if (back > 0) this.out += `\x1b[${back}D`;
  }
}
