import assert from 'node:assert/strict';
import { buildPickerEntries, formatCpu, formatMemory, isJustStarted } from '../../../src/processes/pickerItems';
import type { ProcessInfo } from '../../../src/processes/processInfo';
import { cpuPercent, parseProcStat, parseStatusRss, parseUptime, toProcessInfo } from '../../../src/processes/procfsParser';
import { parsePsOutput, parsePsUsage } from '../../../src/processes/psParser';
import { isPyFlightOwnProcess } from '../../../src/processes/pythonDetection';
import type { ProcSource } from '../../../src/host/targetHost';
import { listFromProc } from '../../../src/processes/processLister';
import { RECORDED, recordedFile } from './recorded';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

// test/fixtures/recorded/processes/usage (README.md, "CPU, memory, PyFlight's own processes").
const usageFile = (...parts: string[]) => recordedFile('usage', ...parts);
const stat = (pid: number, name = 'stat') => parseProcStat(usageFile('linux', 'proc', String(pid), name))!;
const [T0, T1] = usageFile('stat-1s-interval-ms').trim().split(/\s+/).map(Number);
const BUSY = 26356; // python -c "while True: pass"
const IDLE = 26357; // python -c "time.sleep(600)"
const HELPER = 26361; // python -u -m pyflight_helper
const CLIENT = 26440; // python -m flight_profiler.client <pid> --cmd help (run by the helper to inject)
const SHELL = 26636; // sh -c 'sleep 3', read 0.3 s after it started

function info(pid: number, context: { uptime?: number } = {}): ProcessInfo {
  const read = (name: string) => usageFile('linux', 'proc', String(pid), name);
  return toProcessInfo({ stat: stat(pid), status: read('status'), cmdline: read('cmdline'), exeLink: read('exe') },
    { users: new Map([[0, 'root']]), bootTime: 1795698503, ...context });
}

describe('process usage (recorded /proc and ps)', () => {
  it('CPU: utime+stime delta over the interval, as top shows it', () => {
    const elapsed = T1 - T0;
    assert.equal(Math.round(cpuPercent(stat(BUSY), stat(BUSY, 'stat.1s'), elapsed)!), 98); // 99 ticks in 1.013 s
    assert.ok(cpuPercent(stat(IDLE), stat(IDLE, 'stat.1s'), elapsed)! < 1);
    assert.equal(cpuPercent(stat(HELPER), stat(HELPER, 'stat.1s'), elapsed), 0);
    assert.equal(cpuPercent(stat(BUSY), stat(IDLE, 'stat.1s'), elapsed), undefined, 'another process');
    assert.equal(cpuPercent(stat(BUSY), { ...stat(BUSY, 'stat.1s'), startTicks: 1 }, elapsed), undefined, 'pid reused');
  });

  it('memory: VmRSS of status, in bytes', () => {
    assert.equal(parseStatusRss(usageFile('linux', 'proc', String(BUSY), 'status')), 8756 * 1024);
    assert.equal(parseStatusRss('Name:\tzombie\nState:\tZ (zombie)\n'), undefined);
    assert.equal(info(IDLE).rssBytes, 26524 * 1024);
  });

  it('age: precise from /proc/uptime (btime is whole seconds)', () => {
    const uptime = parseUptime(usageFile('linux', 'proc', 'uptime'));
    assert.equal(uptime, 976.37);
    assert.equal(info(SHELL, { uptime }).ageMs, 310);
  });

  it('ps: %cpu and rss (KiB) by pid', () => {
    const usage = parsePsUsage(usageFile('ps', 'ps-usage-linux-procps.txt'));
    assert.deepEqual(usage.get(BUSY), { cpuPercent: 99.1, rssBytes: 8756 * 1024 });
    assert.deepEqual(usage.get(IDLE), { cpuPercent: 0.4, rssBytes: 26548 * 1024 });
    const [row] = parsePsOutput(`${BUSY}     1     0 root     Thu Nov 26 13:24:11 2026 /x/python -c pass`, '', usageFile('ps', 'ps-usage-linux-procps.txt'));
    assert.equal(row.cpuPercent, 99.1);
    assert.equal(row.rssBytes, 8756 * 1024);
  });

  it('shown as "CPU 98%" and "8.6 MB"', () => {
    assert.equal(formatCpu(97.7), 'CPU 98%');
    assert.equal(formatCpu(0.4), 'CPU 0.4%');
    assert.equal(formatCpu(0), 'CPU 0%');
    assert.equal(formatCpu(undefined), undefined);
    assert.equal(formatMemory(8756 * 1024), '8.6 MB');
    assert.equal(formatMemory(26524 * 1024), '26 MB');
    assert.equal(formatMemory(3 * 1024 ** 3), '3.0 GB');
    assert.equal(formatMemory(900 * 1024), '900 KB');
  });
});

describe('process picker leaves out PyFlight itself and sorts just-started shells last', () => {
  it("PyFlight's helper and flight-profiler's client are PyFlight's own processes; the targets are not", () => {
    assert.equal(isPyFlightOwnProcess(info(HELPER)), true);
    assert.equal(isPyFlightOwnProcess(info(CLIENT)), true);
    assert.equal(isPyFlightOwnProcess(info(BUSY)), false);
    assert.equal(isPyFlightOwnProcess(info(SHELL)), false);
    assert.equal(isPyFlightOwnProcess({ commandLine: '/venv/bin/flight_profiler 1234' }), true);
  });

  it('the picker does not list them', () => {
    const processes = [BUSY, IDLE, HELPER, CLIENT].map((pid) => info(pid));
    const listed = buildPickerEntries(processes, { showAllProcesses: true, now: T0 })
      .flatMap((e) => (e.type === 'process' ? [e.process.pid] : []));
    assert.deepEqual(listed.sort(), [BUSY, IDLE]);
  });

  it('a shell younger than a second is listed after the other processes, not among the first rows', () => {
    const uptime = parseUptime(usageFile('linux', 'proc', 'uptime'))!;
    const shell = info(SHELL, { uptime });
    assert.equal(isJustStarted(shell, Date.now()), true);
    const older: ProcessInfo = { pid: 500, ppid: 1, user: 'root', commandLine: '/usr/sbin/sshd -D', isPython: false, startedAt: shell.startedAt! - 60_000, ageMs: 60_000 };
    const entries = buildPickerEntries([info(BUSY), older, shell], { showAllProcesses: true, now: shell.startedAt! + 300 });
    const others = entries.flatMap((e) => (e.type === 'process' && e.place === 'other' ? [e.process.pid] : []));
    assert.deepEqual(others, [500, SHELL]);
    // A second later it is an ordinary process again, newest first.
    const later = buildPickerEntries([older, { ...shell, ageMs: 5000 }], { showAllProcesses: true, now: shell.startedAt! + 5000 });
    assert.deepEqual(later.flatMap((e) => (e.type === 'process' ? [e.process.pid] : [])), [SHELL, 500]);
  });
});

describe('listFromProc with cpuSampleMs (recorded first and second read)', () => {
  it('reads every stat again after the interval and sets CPU use; a process gone by then has none', async () => {
    const proc = path.join(RECORDED, 'usage', 'linux', 'proc');
    const reads = new Map<string, number>();
    const read = (relative: string) => {
      const n = (reads.get(relative) ?? 0) + 1;
      reads.set(relative, n);
      // The second read of a stat is the one recorded a second later (absent for the client: it had exited).
      const file = path.join(proc, n > 1 && relative.endsWith('/stat') ? `${relative}.1s` : relative);
      try {
        return readFileSync(file, 'utf8');
      } catch {
        return undefined;
      }
    };
    const source: ProcSource = { list: () => readdirSync(proc), read, readLink: read, readPasswd: () => undefined };
    const listed = await listFromProc(source, { cpuSampleMs: 10 });
    const byPid = new Map(listed.map((p) => [p.pid, p]));
    assert.ok(byPid.get(BUSY)!.cpuPercent! > byPid.get(IDLE)!.cpuPercent!, 'the busy loop uses more CPU than the sleeper');
    assert.equal(byPid.get(HELPER)!.cpuPercent, 0);
    assert.equal(byPid.get(CLIENT)!.cpuPercent, undefined);
    assert.equal(byPid.get(BUSY)!.rssBytes, 8756 * 1024);
  });
});
