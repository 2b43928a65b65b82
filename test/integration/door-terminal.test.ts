// Open PyFlight Terminal: flight-profiler's CLI needs a TCP port, which PyFlight's agent opens only on
// that request (terminalPort), for the target's user and root only, and closes when the request ends:
// the terminal closes (cancel), or the helper that asked dies.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { silentLogger } from '../../src/common/logger';
import { terminalCommand } from '../../src/live/terminalLaunch';
import { Session } from '../../src/session/session';
import { doorCall, listeningTcpPorts, OTHER_USER } from '../support/door';
import { ROOT, startTarget, stopAllTargets, VENV_PYTHON } from '../support/fixtures';

const DOOR_CLIENT = path.join(ROOT, 'test', 'support', 'door_client.py');

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('Open PyFlight Terminal: the agent\'s TCP port for flight-profiler\'s CLI', function () {
  this.timeout(120_000);
  afterEach(async () => {
    await stopAllTargets();
  });

  it('opens on request only, serves flight-profiler\'s own CLI, refuses another user, and closes when the terminal closes', async () => {
    const target = await startTarget(['busy_service.py']);
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    try {
      await session.attach();
      await session.loadAgent();
      assert.deepEqual(listeningTcpPorts(target.pid), [], 'no port before the request');
      const abort = new AbortController();
      const opened = await session.openTerminalPort(abort.signal);
      assert.equal(opened.ownNetwork, false);
      assert.deepEqual(listeningTcpPorts(target.pid), [opened.port]);
      assert.equal(doorCall<{ terminalPort: number }>(target.pid, 'agent.status').terminalPort, opened.port);

      // The terminal's own command line, with one command instead of the interactive loop.
      const { shellPath, shellArgs, env } = terminalCommand(VENV_PYTHON, target.pid, opened, ['--cmd', 'stack', '--no-color']);
      const cli = spawnSync(shellPath, shellArgs, { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
      assert.equal(cli.status, 0, cli.stdout + cli.stderr);
      assert.match(cli.stdout, /in handle_request/, `flight-profiler's stack, through the port: ${cli.stdout.slice(0, 1500)}${cli.stderr}`);
      assert.equal(new Set(readMaps(target.pid)).size, 1, 'the CLI loaded no agent of its own');

      if (process.getuid?.() === 0) {
        const other = spawnSync('setpriv', [...OTHER_USER, '/usr/bin/python3', DOOR_CLIENT, `127.0.0.1:${opened.port}`, 'status'],
          { encoding: 'utf8', timeout: 30_000 });
        assert.equal(other.status, 3, `uid 65534 got an answer: ${other.stdout}${other.stderr}`);
        await until('the refusal in the agent log', () => doorCall<string[]>(target.pid, 'agent.log')
          .some((l) => l.includes('refused a connection from uid 65534')));
      }

      abort.abort(); // the terminal closed
      await opened.closed.catch(() => undefined);
      await until('the port to close', () => listeningTcpPorts(target.pid).length === 0);
      // With the port gone the CLI refuses to load flight-profiler's own TCP agent instead.
      const after = spawnSync(shellPath, shellArgs, { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
      assert.notEqual(after.status, 0);
      assert.match(after.stdout + after.stderr, /terminal port of this process is closed/);
      // Its number taken meanwhile by another process (an outgoing connection's port, on a busy
      // machine): the same words, not flight-profiler's "No available debug port" (seen in a full run).
      // (flight-profiler's CLI looks at the port and the one after it.)
      const holder = spawn(VENV_PYTHON, ['-c', 'import socket, sys\nheld = []\nfor port in (int(sys.argv[1]), int(sys.argv[1]) + 1):\n'
        + '    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); held.append(s)\n'
        + '    try: s.bind(("127.0.0.1", port))\n    except OSError: pass  # in use already: taken all the same\n'
        + 'print("BOUND", flush=True); sys.stdin.read()', String(opened.port)], { stdio: ['pipe', 'pipe', 'inherit'] });
      try {
        await new Promise<void>((resolve, reject) => {
          holder.stdout.once('data', () => resolve());
          holder.once('exit', (code) => reject(new Error(`the port holder exited ${code}`)));
        });
        const taken = spawnSync(shellPath, shellArgs, { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
        assert.notEqual(taken.status, 0);
        assert.match(taken.stdout + taken.stderr, /terminal port of this process is closed/);
      } finally {
        holder.kill();
      }
      assert.deepEqual(listeningTcpPorts(target.pid), []);
      assert.equal(new Set(readMaps(target.pid)).size, 1, 'still one agent');
    } finally {
      await session.detach();
    }
  });

  it('closes when the helper that opened it dies (SIGKILL)', async () => {
    const target = await startTarget(['busy_service.py']);
    const session = new Session(target.pid, { log: silentLogger, livenessIntervalMs: 0 });
    try {
      await session.attach();
      const opened = await session.openTerminalPort(new AbortController().signal);
      assert.deepEqual(listeningTcpPorts(target.pid), [opened.port]);
      process.kill(session.helperPid!, 'SIGKILL');
      await until('the port to close after the helper died', () => listeningTcpPorts(target.pid).length === 0);
    } finally {
      await session.detach().catch(() => undefined);
    }
  });
});

/** The agent library copies mapped in the process. */
function readMaps(pid: number): string[] {
  return spawnSync('cat', [`/proc/${pid}/maps`], { encoding: 'utf8' }).stdout.split('\n')
    .filter((l) => l.includes('flight_profiler_agent')).map((l) => l.split(/\s+/).slice(5).join(' '));
}
