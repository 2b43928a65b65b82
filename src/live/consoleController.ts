/**
 * A console inside the target, driven by terminal input: the LineEditor for keys, the session's
 * console requests for lines. vscode-free: the Pseudoterminal (consoleTerminal.ts) and the tests
 * give it a `write`; keys typed while a line runs wait their turn (Ctrl+C interrupts the line).
 */
import { randomUUID } from 'node:crypto';
import { PyFlightError } from '../common/errors';
import type { HelperCaller } from '../protocol/methods';
import { LineEditor } from './lineEditor';

/** The part of Session a console uses. */
export interface ConsoleBackend extends HelperCaller {
  readonly pid: number;
}

export interface ConsoleOutput {
  write(text: string): void;
  /** the console ended (exit(), Ctrl+D, the target or the helper gone) */
  closed(reason: string): void;
}

const YELLOW = '\x1b[33m';
const RED = '\x1b[31m';
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';

export function consoleWarning(pid: number): string {
  return `${YELLOW}⚠ Code typed here runs inside the live process ${pid}: its threads, its data, its side effects.${RESET}`;
}

/** Escape sequences and control characters; only colours (SGR) are kept. */
const CONTROL = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -~]?|[\x00-\x08\x0b-\x1f\x7f\x9b\x9d]/g;
const COLOUR = /^\x1b\[[0-9;]*m$/;

/**
 * What the target printed, made safe for the terminal: the process's output is untrusted, and a
 * terminal obeys escape sequences (cursor moves, window titles, hyperlinks, clipboard requests), so
 * everything but colours is dropped; \n → \r\n (a pseudoterminal does no newline translation).
 */
export function terminalText(text: string): string {
  return text.replace(/\r?\n/g, '\n').replace(CONTROL, (m) => (COLOUR.test(m) ? m : '')).replace(/\n/g, '\r\n');
}

export class ConsoleController {
  readonly id = randomUUID();
  private readonly editor = new LineEditor();
  private prompt = '>>> ';
  private running?: AbortController;
  /** from Enter (or Ctrl+C) until the next prompt: keys typed meanwhile wait in `pending` */
  private busy = false;
  private pending = '';
  private isOpen = false;
  private ended = false;
  private work: Promise<void> = Promise.resolve();

  constructor(private readonly backend: ConsoleBackend, private readonly out: ConsoleOutput) {}

  get closed(): boolean {
    return this.ended;
  }

  get history(): readonly string[] {
    return this.editor.entries;
  }

  /** Warning line, then the console opens in the target, then the first prompt. */
  async start(): Promise<void> {
    this.out.write(consoleWarning(this.backend.pid) + '\r\n');
    try {
      const { banner } = await this.backend.call('consoleOpen', { id: this.id });
      this.isOpen = true;
      this.out.write(`${DIM}${banner} · exit() or Ctrl+D closes the console; the process keeps running.${RESET}\r\n`);
      this.out.write(this.editor.begin(this.prompt));
    } catch (error) {
      this.end(PyFlightError.from(error).message);
    }
  }

  /** Keys from the terminal. */
  input(data: string): void {
    if (this.ended) return;
    if (!this.busy) {
      this.feed(data);
    } else if (data.includes('\x03') && this.running) {
      this.running.abort(); // interrupts the line in the target; its KeyboardInterrupt prints
      this.pending = '';
    } else {
      this.pending += data;
    }
  }

  /** Resolves when every line sent so far has been answered (tests wait on it). */
  async idle(): Promise<void> {
    let work: Promise<void>;
    do {
      work = this.work;
      await work;
    } while (work !== this.work);
  }

  private feed(data: string): void {
    const result = this.editor.handle(data);
    this.out.write(result.output);
    const action = result.action;
    if (!action) return;
    this.busy = true;
    if (action.kind === 'eof') {
      void this.close('Console closed (Ctrl+D).');
      return;
    }
    if (action.kind === 'cancel') {
      this.prompt = '>>> ';
      this.work = this.work.then(() => this.reset()).then(() => this.next(result.rest));
      return;
    }
    this.work = this.work.then(() => this.run(action.line)).then(() => this.next(result.rest));
  }

  private next(rest: string): void {
    if (this.ended) return;
    this.busy = false;
    this.out.write(this.editor.begin(this.prompt));
    const typed = rest + this.pending;
    this.pending = '';
    if (typed) this.feed(typed);
  }

  private async reset(): Promise<void> {
    try {
      await this.backend.call('consoleReset', { id: this.id });
    } catch (error) {
      this.end(PyFlightError.from(error).message);
    }
  }

  private async run(line: string): Promise<void> {
    this.running = new AbortController();
    try {
      const answer = await this.backend.call('consoleInput', { id: this.id, line }, { signal: this.running.signal });
      if (answer.output) this.out.write(terminalText(answer.output));
      if (answer.closed) {
        this.isOpen = false;
        this.end('Console closed (exit()).');
        return;
      }
      this.prompt = answer.more ? '... ' : '>>> ';
    } catch (error) {
      const failure = PyFlightError.from(error);
      if (failure.code === 'CANCELLED') {
        // A line Ctrl+C could not reach keeps running in the process: say so, not "KeyboardInterrupt".
        this.out.write(/did not stop/.test(failure.message) ? `${terminalText(failure.message)}\r\n` : 'KeyboardInterrupt\r\n');
        this.prompt = '>>> ';
        return;
      }
      this.end(failure.message);
    } finally {
      this.running = undefined;
    }
  }

  /**
   * Ends the console in the target (its namespace goes; the target's streams are never swapped). Safe to call twice; the terminal calls it when it is closed.
   */
  async close(reason = 'Console closed.'): Promise<void> {
    if (this.ended) return;
    this.running?.abort();
    await this.work.catch(() => undefined);
    if (this.isOpen) {
      this.isOpen = false;
      await this.backend.call('consoleClose', { id: this.id }).catch(() => undefined);
    }
    this.end(reason);
  }

  private end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.out.write(`${this.isOpen ? RED : DIM}${reason}${RESET}\r\n`);
    if (this.isOpen) {
      this.isOpen = false;
      void this.backend.call('consoleClose', { id: this.id }).catch(() => undefined);
    }
    this.out.closed(reason);
  }
}
