import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ErrorCode, PyFlightError } from '../../src/common/errors';
import { silentLogger } from '../../src/common/logger';
import { ConsoleController } from '../../src/live/consoleController';
import type { WatchRecord } from '../../src/protocol/helper';
import { Session } from '../../src/session/session';
import { CLI, FIXTURES, ROOT, VENV_PYTHON } from '../support/fixtures';
import { openConsoles } from '../support/door';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * live_service.py run from a copy in a temp dir (the reload tests edit it), its stdout and stderr
 * going to files of their own: what the process printed, exactly where it printed it.
 */
class LiveTarget {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'pyflight-live-'));
  readonly script = path.join(this.dir, 'live_service.py');
  readonly outFile = path.join(this.dir, 'stdout.txt');
  readonly errFile = path.join(this.dir, 'stderr.txt');
  child!: ChildProcess;

  async start(): Promise<number> {
    copyFileSync(path.join(FIXTURES, 'live_service.py'), this.script);
    const out = openSync(this.outFile, 'w');
    const err = openSync(this.errFile, 'w');
    this.child = spawn(VENV_PYTHON, [this.script], { cwd: this.dir, stdio: ['ignore', out, err] });
    closeSync(out);
    closeSync(err);
    for (let i = 0; i < 100 && !/READY \d+/.test(this.stdout()); i++) await sleep(100);
    assert.match(this.stdout(), /READY \d+/, `fixture not ready: ${this.stderr()}`);
    return this.child.pid!;
  }

  stdout(): string {
    return readFileSync(this.outFile, 'utf8');
  }

  stderr(): string {
    return readFileSync(this.errFile, 'utf8');
  }

  /** Lines printed from now on, once at least `count` of them came. */
  async nextLines(file: 'stdout' | 'stderr', count = 3): Promise<string[]> {
    const start = this[file]().length;
    for (let i = 0; i < 100; i++) {
      const lines = this[file]().slice(start).split('\n').slice(1, -1); // whole lines after the current one
      if (lines.length >= count) return lines;
      await sleep(50);
    }
    assert.fail(`no new ${file} lines from the target`);
  }

  edit(from: string, to: string): void {
    const text = readFileSync(this.script, 'utf8');
    assert.ok(text.includes(from), `fixture copy has no ${from}`);
    writeFileSync(this.script, text.replace(from, to));
  }

  async stop(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A ConsoleController on a real session, with what it draws collected as text. */
function openConsole(session: Session) {
  let screen = '';
  let closedWith: string | undefined;
  const console = new ConsoleController(session, { write: (t) => { screen += t; }, closed: (why) => { closedWith = why; } });
  return {
    console,
    screen: () => screen,
    closedWith: () => closedWith,
    /** Types keys, waits for every answer; returns what was drawn meanwhile. */
    async type(keys: string): Promise<string> {
      const before = screen.length;
      console.input(keys);
      await console.idle();
      return screen.slice(before);
    },
  };
}

function cli(args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }));
    child.stdin!.end(input ?? '');
  });
}

describe('console, evaluate and reload in a real target', function () {
  this.timeout(60_000);
  const target = new LiveTarget();
  let pid: number;
  let session: Session;

  before(async () => {
    pid = await target.start();
    session = new Session(pid, { log: silentLogger, livenessIntervalMs: 0 });
    await session.attach();
  });
  after(async () => {
    await session?.detach();
    await target.stop();
  });

  const evalValue = async (expression: string) => {
    const result = await session.call('eval', { expression });
    assert.ok(result.ok, `${expression}: ${result.error}`);
    return result.value;
  };

  it('console round trip: 1+1, a multi-line def, Ctrl+C, a line that prints, exit()', async () => {
    // Read with getglobal, which runs no console code (an evaluation sees its own capture).
    const streams = async () => (await session.getglobal({ module: 'sys', field: 'modules', raw: true,
      expr: '(id(target["sys"].stdout), id(target["sys"].stderr), id(target["sys"].displayhook), type(target["sys"].stdout).__name__)' })).value;
    const streamsBefore = await streams();
    assert.match(streamsBefore, /TextIOWrapper/);
    const c = openConsole(session);
    await c.console.start();
    assert.match(c.screen(), /runs inside the live process/);
    assert.match(c.screen(), />>> $/);

    assert.equal(await c.type('1+1\r'), '1+1\r\n2\r\n>>> ');

    assert.equal(await c.type('def double(x):\r'), 'def double(x):\r\n... ');
    assert.equal(await c.type('    return x * 2\r'), '    return x * 2\r\n... ');
    assert.equal(await c.type('\r'), '\r\n>>> ');
    assert.equal(await c.type('double(21)\r'), 'double(21)\r\n42\r\n>>> ');

    // Ctrl+C drops the block being typed: `half` was never defined.
    assert.equal(await c.type('def half(x):\r'), 'def half(x):\r\n... ');
    assert.equal(await c.type('    return x /\x03'), '    return x /^C\r\n>>> ');
    assert.match(await c.type('half\r'), /NameError: name 'half' is not defined\r\n>>> $/);

    // What a line prints comes to the console, not to the target's stdout.
    assert.equal(await c.type('print("from the console")\r'), 'print("from the console")\r\nfrom the console\r\n>>> ');
    // History: up arrow brings the last line back.
    assert.match(await c.type('\x1b[A'), /print\("from the console"\)$/);
    await c.type('\x15'); // Ctrl+U: clear it

    assert.equal(await c.type('exit()\r'), 'exit()\r\n\x1b[2mConsole closed (exit()).\x1b[0m\r\n');
    assert.equal(c.console.closed, true);
    assert.equal(c.closedWith(), 'Console closed (exit()).');

    // The target keeps printing to its own stdout and stderr, nothing of the console among it.
    const out = await target.nextLines('stdout');
    const err = await target.nextLines('stderr');
    for (const line of out) assert.match(line, /^out hello \d+ \| greet \d+$/);
    for (const line of err) assert.match(line, /^err \d+$/);
    assert.doesNotMatch(target.stdout(), /from the console/);
    assert.equal(await streams(), streamsBefore);
    // exit() ended the console only: site's exit() would have closed the target's stdin.
    assert.equal(await evalValue('__import__("sys").stdin.closed'), 'False');
    assert.deepEqual(openConsoles(pid), []);
  });

  it('Ctrl+C interrupts a running line; closing the console mid-block ends it in the target', async () => {
    const c = openConsole(session);
    await c.console.start();
    c.console.input('while True: pass\r\r'); // a compound statement: the blank line runs it
    await sleep(300); // the loop runs in the target
    c.console.input('\x03');
    await c.console.idle();
    assert.match(c.screen(), /KeyboardInterrupt\r\n>>> $/);
    assert.equal(await c.type('6*7\r'), '6*7\r\n42\r\n>>> ');
    // A line Ctrl+C cannot reach (a wait without a timeout): the console says it keeps running and goes on.
    c.console.input("__import__('threading').Event().wait()\r");
    await sleep(300);
    c.console.input('\x03');
    await c.console.idle();
    assert.match(c.screen(), /The code did not stop within 5 s of Ctrl\+C[^\n]*\r\n>>> $/);
    assert.equal(await c.type('6*7\r'), '6*7\r\n42\r\n>>> ');
    assert.equal(openConsoles(pid).length, 1);
    // Keys typed one by one while earlier lines still run (as a user types ahead): each waits its turn.
    for (const key of 'def inc(x):\r    return x + 1\r\rinc(41)\r') c.console.input(key);
    await c.console.idle();
    assert.match(c.screen(), />>> def inc\(x\):\r\n\.\.\.     return x \+ 1\r\n\.\.\. \r\n>>> inc\(41\)\r\n42\r\n>>> $/);
    assert.equal(await c.type('for i in range(3):\r'), 'for i in range(3):\r\n... ');
    await c.console.close(); // what closing the terminal does
    assert.deepEqual(openConsoles(pid), []);
    const out = await target.nextLines('stdout');
    for (const line of out) assert.match(line, /^out /);
  });

  it('evaluate: a value, what it printed, a syntax error, an exception', async () => {
    const value = await session.call('eval', { expression: 'COUNTER["ticks"] > 0' });
    assert.deepEqual({ ok: value.ok, value: value.value, type: value.type }, { ok: true, value: 'True', type: 'bool' });
    const printed = await session.call('eval', { expression: 'print("shown") or 7' });
    assert.equal(printed.output, 'shown\n');
    assert.equal(printed.value, '7');
    const syntax = await session.call('eval', { expression: '1 +' });
    assert.equal(syntax.ok, false);
    assert.equal(syntax.kind, 'syntax');
    assert.match(syntax.error!, /SyntaxError: invalid syntax/);
    const raised = await session.call('eval', { expression: '{}["missing"]' });
    assert.equal(raised.kind, 'exception');
    assert.equal(raised.exceptionType, 'KeyError');
    assert.match(raised.error!, /File "<pyflight-eval>", line 1[\s\S]*KeyError: 'missing'/);
    await assert.rejects(session.call('eval', { expression: '   ' }), (e: PyFlightError) => e.code === ErrorCode.BadExpression);
    // No timeout: cancelling interrupts it in the target, and the target goes on.
    const stop = new AbortController();
    const endless = session.call('eval', { expression: 'while True: pass' }, { signal: stop.signal });
    await sleep(300);
    stop.abort();
    const interrupted = await endless;
    assert.equal(interrupted.exceptionType, 'KeyboardInterrupt');
    assert.equal(await evalValue('1+1'), '2');
  });

  it('a line blocked where Ctrl+C cannot reach it: cancel gives up with words that say so, and the next evaluation does not wait for it', async () => {
    // A hunt: `threading.Event().wait()` evaluated, then Ctrl+C: the CLI and every later eval waited ten minutes.
    const stop = new AbortController();
    const stuck = session.call('eval', { expression: "__import__('threading').Event().wait()" }, { signal: stop.signal });
    await sleep(300);
    stop.abort();
    await assert.rejects(stuck, (e: PyFlightError) => e.code === ErrorCode.Cancelled && /did not stop within 5 s of Ctrl\+C: it is blocked where an interrupt cannot reach it/.test(e.message));
    assert.equal(await evalValue('6*7'), '42'); // not behind the stuck one
    assert.equal((await session.call('eval', { expression: 'print("mine") or 1' })).output, 'mine\n');
  });

  it('pyflight eval prints the value, or the error with exit status 1', async () => {
    const ok = await cli(['eval', String(pid), 'greeting(1)', '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).value, "'hello 1'");
    const bad = await cli(['eval', String(pid), 'undefined_name']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /NameError: name 'undefined_name' is not defined/);
  });

  it('pyflight console runs piped lines one by one in the target', async () => {
    const run = await cli(['console', String(pid)], 'x = 21\ndef twice(v):\n    return v * 2\n\ntwice(x)\nprint("printed")\nexit()\nnot run\n');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '42\nprinted\n');
    assert.match(run.stderr, /runs inside the live process/);
  });

  it('reload changes behaviour (the target\'s output and a following watch); a refused reload keeps the old code', async () => {
    const watchGreeting = async () => {
      const probe = session.startProbe('watch', { module: '__main__', method: 'greeting', expr: 'return_obj', limit: 1 });
      const records: WatchRecord[] = [];
      probe.onDidRecord((r) => records.push(r));
      await probe.done;
      return records[0]?.value;
    };
    assert.match(String(await watchGreeting()), /^["']hello \d+["']$/);

    // A plan says what would change, and changes nothing.
    const edited = readFileSync(target.script, 'utf8').replace('"hello %d" % n', '"HELLO %d" % n');
    const plan = await session.call('reloadPlan', { module: '__main__', function: 'greeting', text: edited });
    assert.deepEqual({ ok: plan.ok, changed: plan.changed, applied: plan.applied }, { ok: true, changed: true, applied: undefined });
    assert.equal(plan.oldSource, 'def greeting(n):\n    return "hello %d" % n\n');
    assert.equal(plan.newSource, 'def greeting(n):\n    return "HELLO %d" % n\n');
    assert.match((await target.nextLines('stdout'))[2], /^out hello /);

    // The CLI reloads from the file on disk, like flight-profiler's reload.
    target.edit('"hello %d" % n', '"HELLO %d" % n');
    const done = await cli(['reload', String(pid), '__main__', 'greeting', '--json']);
    assert.equal(done.code, 0, done.stderr);
    assert.equal(JSON.parse(done.stdout).applied, true);
    for (const line of await target.nextLines('stdout')) assert.match(line, /^out HELLO \d+ \| greet \d+$/);
    assert.match(String(await watchGreeting()), /^["']HELLO \d+["']$/);

    // Syntax error in the new source: refused, the HELLO code keeps running.
    target.edit('"HELLO %d" % n', '"broken %d" %');
    const refused = await cli(['reload', String(pid), '__main__', 'greeting', '--json']);
    assert.equal(refused.code, 1);
    assert.equal(JSON.parse(refused.stdout).error.code, ErrorCode.ReloadRefused);
    assert.match(JSON.parse(refused.stdout).error.message, /Syntax error in the new source.*The old code keeps running/);
    for (const line of await target.nextLines('stdout')) assert.match(line, /^out HELLO /);

    // A change in the captured variables is refused too (zero-argument super() captures __class__).
    const withSuper = readFileSync(path.join(FIXTURES, 'live_service.py'), 'utf8')
      .replace('"%s %d" % (self.prefix, n)', 'super().__repr__()');
    await assert.rejects(session.call('reloadApply', { module: '__main__', class: 'Greeter', function: 'greet', text: withSuper }),
      (e: PyFlightError) => e.code === ErrorCode.ReloadRefused && /closure variables differ \(none before, __class__ now\)/.test(e.message));
    for (const line of await target.nextLines('stdout')) assert.match(line, /\| greet \d+$/);
    await assert.rejects(session.call('reloadApply', { module: 'nonexistent_module', function: 'f' }),
      (e: PyFlightError) => e.code === ErrorCode.BadLocation && /not imported/.test(e.message));
  });

  it('reload of a method from the editor\'s text (unsaved), with warnings for what it cannot fix', async () => {
    const text = readFileSync(path.join(FIXTURES, 'live_service.py'), 'utf8');
    const result = await session.call('reloadApply', { module: '__main__', class: 'Greeter', function: 'greet',
      text: text.replace('"%s %d" % (self.prefix, n)', '"%s! %d" % (self.prefix.upper(), n)') });
    assert.equal(result.applied, true);
    for (const line of await target.nextLines('stdout')) assert.match(line, /\| GREET! \d+$/);
    const missing = await session.call('reloadPlan', { module: '__main__', function: 'greeting',
      text: text.replace('"hello %d" % n', 'not_defined_anywhere(n)') });
    assert.match(missing.warnings!.join(' '), /not_defined_anywhere.*NameError/);
    const signature = await session.call('reloadPlan', { module: '__main__', function: 'greeting', text: text.replace('def greeting(n):', 'def greeting(n, loud=False):') });
    assert.match(signature.warnings!.join(' '), /signature changed/);
    // Stale functions: the editor's text against what runs now (greeting is HELLO, greet was reloaded).
    const stale = await session.call('reloadStale', { module: '__main__', text });
    assert.deepEqual(stale.functions.map((f) => `${f.class ?? ''}.${f.function}:${f.line}`).sort(), ['.greeting:15', 'Greeter.greet:22']);
  });
});
