/** The target lives on this machine, and PyFlight reaches it directly. */
import { execa } from '../common/execa';
import type { TargetHost } from './targetHost';

export const localHost: TargetHost = {
  spawnHelper(python, args, env) {
    return execa(python, [...args], {
      env,
      extendEnv: true,
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      reject: false,
      encoding: 'utf8',
      // Own process group: a terminal's Ctrl+C must not kill it before it turns its probes off.
      // It exits by itself when its stdin closes, so it cannot outlive us.
      detached: true,
    });
  },
};
