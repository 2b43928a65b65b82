// The one rule for "which children are a master's workers" (src/processes/workers.ts), on py-spy dumps
// recorded from real gunicorn and uvicorn processes (test/fixtures/recorded/processes/README.md).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { ProcessInfo } from '../../../src/processes/processInfo';
import { detectServers } from '../../../src/processes/pythonDetection';
import { buildPickerEntries } from '../../../src/processes/pickerItems';
import { confirmWorkers, mainThreadFrames, runsWorkerCode, workersOf, type MainFrame } from '../../../src/processes/workers';
import { RECORDED } from './recorded';

const dump = (name: string) => readFileSync(path.join(RECORDED, 'main-frames', name), 'utf8');
const pidOf = (json: string) => (JSON.parse(json) as Array<{ pid: number }>)[0].pid;
const frames = (name: string) => { const json = dump(name); return mainThreadFrames(json, pidOf(json))!; };

const GUNICORN = '/venv/bin/python /venv/bin/gunicorn -w 2 -c gunicorn_helper_conf.py -b unix:/tmp/x.sock flask_app:app';
const proc = (pid: number, ppid: number, commandLine: string): ProcessInfo =>
  ({ pid, ppid, user: 'root', commandLine, isPython: true, startedAt: 1000 + pid });

describe('workers: a child that runs the server\'s worker code', () => {
  it('reads the main thread of a py-spy dump', () => {
    const worker = frames('gunicorn-sync-worker.json');
    assert.equal(worker[0].name, 'SyncWorker.wait');
    assert.ok(runsWorkerCode('gunicorn', worker));
    assert.ok(runsWorkerCode('uvicorn', frames('uvicorn-spawn-worker.json')), 'subprocess_started → Server.run');
    assert.ok(!runsWorkerCode('gunicorn', frames('gunicorn-helper-fork.json')), 'a fork of the master running sidecar()');
    assert.ok(!runsWorkerCode('uvicorn', frames('uvicorn-resource-tracker.json')));
    assert.equal(mainThreadFrames('not json', 1), undefined);
  });

  it('a helper the master forked has the workers\' command line, and is not a worker; when frames cannot be read, the command line decides', async () => {
    const listed = detectServers([proc(100, 1, GUNICORN), proc(101, 100, GUNICORN), proc(102, 100, GUNICORN), proc(103, 100, GUNICORN)]);
    assert.deepEqual(workersOf(100, listed).map((p) => p.pid), [101, 102, 103], 'by command line alone, the helper looks like a worker');
    const recorded: Record<number, MainFrame[] | undefined> = {
      101: frames('gunicorn-sync-worker.json'), 102: frames('gunicorn-helper-fork.json'), 103: undefined,
    };
    const confirmed = await confirmWorkers(listed, async (p) => recorded[p.pid]);
    assert.deepEqual(workersOf(100, confirmed).map((p) => p.pid), [101, 103]);
    assert.equal(confirmed.find((p) => p.pid === 102)!.server, undefined, 'listed as a plain Python process');
    const entries = buildPickerEntries(confirmed, { showAllProcesses: false, now: 5000 });
    const places = entries.flatMap((e) => (e.type === 'process' ? [[e.process.pid, e.place]] : []));
    assert.deepEqual(places.filter(([, place]) => place === 'worker').map(([pid]) => pid), [101, 103]);
  });

  it('multiprocessing\'s resource tracker of a uvicorn master is never a candidate', () => {
    const master = proc(200, 1, '/venv/bin/python /venv/bin/uvicorn --workers 2 --uds /tmp/u.sock fastapi_app:app');
    const tracker = proc(201, 200, '/venv/bin/python -B -c from multiprocessing.resource_tracker import main;main(6)');
    const worker = proc(202, 200, '/venv/bin/python -B -c from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=7, pipe_handle=9) --multiprocessing-fork');
    assert.deepEqual(workersOf(200, detectServers([master, tracker, worker])).map((p) => p.pid), [202]);
  });
});
