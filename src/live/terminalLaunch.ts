import * as path from 'node:path';
import type { TerminalPortRecord } from '../protocol/helper';

/**
 * flight-profiler's console-script entry point, with `quit` exiting 0 (upstream exits 1 on quit,
 * which VS Code reports as a failed terminal process), and with its own loading disabled: if the
 * port PyFlight opened is gone, the CLI would otherwise load flight-profiler's own agent, which
 * listens on TCP for any local user. The CLI looks for a free port only once nothing answers on the
 * one it was given, so that lookup means the same: the port is closed (another process may even have
 * taken its number since, as an outgoing connection's port: "No available debug port" then).
 */
const LAUNCH = [
  'import sys',
  'from flight_profiler.plugins import cli_plugin',
  'cli_plugin.QuitCliPlugin.do_action = lambda self, cmd: sys.exit(0)',
  'import flight_profiler.client as client',
  'client.find_port_available = client.do_inject_on_linux = client.do_inject_on_mac = client.do_inject_with_sys_remote_exec = '
    + 'lambda *a, **k: sys.exit("PyFlight: the terminal port of this process is closed; close this terminal and open it again.")',
  'sys.exit(client.run())',
].join('; ');

/**
 * How the terminal runs flight-profiler's CLI on `pid` through the port the agent opened: with the
 * session's interpreter (its bin directory first on PATH), told to look at that one port (the CLI
 * asks PYFLIGHT_INJECT_START_PORT..END_PORT-1 for the pid), and, for a process with a network
 * namespace of its own (a container), inside that namespace, where its 127.0.0.1 is.
 */
export function terminalCommand(python: string, pid: number, port: TerminalPortRecord, extraArgs: string[] = []):
{ shellPath: string; shellArgs: string[]; env: Record<string, string> } {
  const cli = ['-c', LAUNCH, String(pid), ...extraArgs];
  const env = { PATH: `${path.dirname(python)}${path.delimiter}${process.env.PATH ?? ''}`,
    PYFLIGHT_INJECT_START_PORT: String(port.port), PYFLIGHT_INJECT_END_PORT: String(port.port + 1) };
  return port.ownNetwork
    ? { shellPath: 'nsenter', shellArgs: ['--target', String(pid), '--net', '--', python, ...cli], env }
    : { shellPath: python, shellArgs: cli, env };
}
