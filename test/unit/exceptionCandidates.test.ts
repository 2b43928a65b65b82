import assert from 'node:assert/strict';
import { ownFunctionsOnStacks } from '../../src/diagnose/exception';
import type { StackFrame, StackResult, ThreadStack } from '../../src/protocol/helper';

const APP = '/srv/app/orders.py';
const py = (fn: string, file: string, line: number): StackFrame => ({ function: fn, file, line, kind: 'python' });
const thread = (name: string, frames: StackFrame[], activity: ThreadStack['activity'] = 'sleeping'): ThreadStack =>
  ({ tid: name.length, name, daemon: true, holdsGil: false, gcCollecting: false, frames, activity });
const sample = (threads: ThreadStack[]): StackResult => ({ pid: 7, capturedAt: 0, threads, hiddenAgentThreads: 0, native: false });

describe('exception candidates from stack samples (issue 20: a thin or starved profile)', () => {
  it('the user\'s functions on every thread, idle ones included, most seen first, with their own-code callers', () => {
    // Innermost first: a worker asleep in a "database" call inside process_order, another waiting in queue.get.
    const busy = thread('order-worker-0', [py('sleep', '/usr/lib/python3.11/time.py', 1), py('process_order', APP, 40), py('handle_request', APP, 52),
      py('worker', APP, 60), py('Thread.run', '/usr/lib/python3.11/threading.py', 975)]);
    const idle = thread('order-worker-1', [py('Condition.wait', '/usr/lib/python3.11/threading.py', 320), py('Queue.get', '/usr/lib/python3.11/queue.py', 171),
      py('worker', APP, 60)], 'waiting');
    const lib = thread('pool', [py('Session.send', '/venv/lib/python3.11/site-packages/requests/sessions.py', 700), py('<module>', APP, 1)]);
    const callers = new Map<string, Set<string>>();
    const found = ownFunctionsOnStacks([sample([busy, idle, lib]), sample([busy, idle])], callers);
    assert.deepEqual(found.map((c) => c.function), ['worker', 'process_order', 'handle_request']);
    assert.deepEqual(found[1], { function: 'process_order', file: APP, line: 40 });
    assert.deepEqual([...callers.get(`process_order\u0000${APP}`)!], [`handle_request\u0000${APP}`]);
    assert.deepEqual([...callers.get(`handle_request\u0000${APP}`)!], [`worker\u0000${APP}`]);
    assert.equal(callers.has(`worker\u0000${APP}`), false);
  });
});
