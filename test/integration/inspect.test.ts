import assert from 'node:assert/strict';
import * as path from 'node:path';
import { ErrorCode, PyFlightError } from '../../src/common/errors';
import { silentLogger } from '../../src/common/logger';
import { LiveValues } from '../../src/inspect/liveValues';
import { resolveClass } from '../../src/inspect/resolveClass';
import { valueTree } from '../../src/inspect/valueTree';
import { Session } from '../../src/session/session';
import { pyflightJson, useAttachedService, useForeignHelper } from '../support/attached';
import { FIXTURES, helpersOwnedBy, startTarget, type Target } from '../support/fixtures';

const SERVICE_PY = path.join(FIXTURES, 'inspect_service.py');
const GREETING = 'Grüße <b>bold</b> & <script>alert(1)</script> — ✓';

const pyflight = (args: string[]) => pyflightJson(args, 'inspect-cli');

const failsWith = (code: ErrorCode, message: RegExp) => (e: PyFlightError) => {
  assert.equal(e.code, code, `${e.code}: ${e.message}`);
  assert.match(e.message, message);
  assert.ok(e.hint, 'a next step');
  return true;
};

describe('inspect: values (getglobal) and instances (vmtool) of inspect_service.py', function () {
  this.timeout(90_000);
  useForeignHelper();
  const attached = useAttachedService(['inspect_service.py']);
  let service: Target;
  let session: Session;
  before(() => ({ service, session } = attached));

  it('a module global, as the agent renders it, folds into a tree', async () => {
    const config = await session.getglobal({ module: '__main__', field: 'CONFIG' });
    assert.equal(session.agentLoaded, true, 'loaded on demand');
    assert.equal(config.type, "<class 'dict'>");
    assert.equal(config.expand, 2);
    const tree = valueTree(config.value);
    assert.deepEqual(tree.map((n) => [n.label, n.value]), [['debug', 'False'], ['limits', '{…} 2 items'], ['region', '"eu-west"']]);
    assert.deepEqual(tree[1].children.map((n) => [n.label, n.value]), [['burst', '[1, 2, 3]'], ['orders', '3']]);
    const deeper = await session.getglobal({ module: '__main__', field: 'CONFIG', expand: 3, expr: "target['limits']" });
    assert.equal(deeper.expr, "target['limits']");
    assert.deepEqual(valueTree(deeper.value).find((n) => n.label === 'burst')?.children.map((n) => n.value), ['1', '2', '3']);
    const raw = await session.getglobal({ module: '__main__', field: 'CONFIG', raw: true });
    assert.equal(raw.value, "{'region': 'eu-west', 'limits': {'orders': 3, 'burst': [1, 2, 3]}, 'debug': False}");
  });

  it('a class attribute, and a string with unicode and HTML, come back as they are', async () => {
    const tax = await session.getglobal({ module: '__main__', class: 'Order', field: 'TAX_RATE' });
    assert.deepEqual([tax.class, tax.field, tax.type, tax.value], ['Order', 'TAX_RATE', "<class 'float'>", '0.2']);
    const greeting = await session.getglobal({ module: '__main__', field: 'GREETING' });
    assert.equal(greeting.value, `"${GREETING}"`);
  });

  it('lists the globals of a module, without dunders, with kinds and previews of built-in values only', async () => {
    const { globals } = await session.call('listGlobals', { module: '__main__' });
    const byName = new Map(globals.map((g) => [g.name, g]));
    assert.deepEqual(byName.get('CONFIG'), { name: 'CONFIG', type: 'dict', kind: 'value', preview: '3 items' });
    assert.deepEqual(byName.get('GREETING'), { name: 'GREETING', type: 'str', kind: 'value', preview: `'${GREETING}'` });
    assert.equal(byName.get('Order')?.kind, 'class');
    assert.equal(byName.get('serve')?.kind, 'function');
    assert.equal(byName.get('threading')?.kind, 'module');
    assert.deepEqual(byName.get('RUSH'), { name: 'RUSH', type: 'RushOrder', kind: 'value', preview: '' });
    assert.ok(!globals.some((g) => g.name.startsWith('__')));
  });

  it('counts every live instance of a class and renders the first ones, each on its own', async () => {
    const all = await session.call('getInstances', { module: '__main__', class: 'Order' });
    assert.equal(all.count, 3, 'the RushOrder (a subclass) is not an Order to vmtool');
    assert.equal(new Set(all.instances.map((i) => i.id)).size, 3);
    assert.deepEqual(all.instances.map((i) => i.type), ['__main__.Order', '__main__.Order', '__main__.Order']);
    const customers = all.instances.map((i) => valueTree(i.value).find((n) => n.label === 'customer')?.value).sort();
    assert.deepEqual(customers, ['"<img src=x onerror=alert(1)>"', '"ada"', '"grace"']);
    const two = await session.call('getInstances', { module: '__main__', class: 'Order', limit: 2 });
    assert.deepEqual([two.count, two.instances.length], [3, 2]);
    const total = await session.call('getInstances', { module: '__main__', class: 'Order', expr: 'sum(o.total for o in instances)' });
    assert.deepEqual([total.expr, total.type, total.value], ['sum(o.total for o in instances)', "<class 'float'>", '112.0']);
    const rush = await session.call('getInstances', { module: '__main__', class: 'RushOrder' });
    assert.equal(rush.count, 1);
  });

  it('the file under the cursor: a class name resolves to its real module and name; anything else is not a class', async () => {
    const { module } = await session.call('module', { file: SERVICE_PY });
    assert.equal(module, '__main__');
    assert.deepEqual(await resolveClass(session, module, { field: 'Order' }), { module: '__main__', class: 'Order' });
    assert.deepEqual(await resolveClass(session, module, { class: 'threading', field: 'Thread' }), { module: 'threading', class: 'Thread' });
    await assert.rejects(resolveClass(session, module, { field: 'CONFIG' }), failsWith(ErrorCode.ClassNotFound, /^CONFIG in module __main__ is not a class \(it is a dict\)\.$/));
  });

  it('unknown module, class or name, bad expressions and a class without instances: one code each, with a next step', async () => {
    // A real module the target never imported: named as not imported, and still not imported after.
    await assert.rejects(session.getglobal({ module: 'xml.dom.minidom', field: 'parseString' }),
      failsWith(ErrorCode.ModuleNotFound, /^Module xml\.dom\.minidom is not imported in the target process\.$/));
    await assert.rejects(session.call('getInstances', { module: 'xml.dom.minidom', class: 'Document' }), failsWith(ErrorCode.ModuleNotFound, /xml\.dom\.minidom/));
    const still = await session.getglobal({ module: 'sys', field: 'modules', expr: "'xml.dom.minidom' in target", raw: true });
    assert.equal(still.value, 'False', 'PyFlight imported a module into the target');
    await assert.rejects(session.getglobal({ module: '__main__', class: 'Nope', field: 'x' }), failsWith(ErrorCode.ClassNotFound, /^No class named Nope in module __main__\.$/));
    await assert.rejects(session.call('getInstances', { module: '__main__', class: 'Nope' }), failsWith(ErrorCode.ClassNotFound, /^No class named Nope in module __main__\.$/));
    await assert.rejects(session.call('getInstances', { module: '__main__', class: 'CONFIG' }), failsWith(ErrorCode.ClassNotFound, /CONFIG/));
    await assert.rejects(session.getglobal({ module: '__main__', field: 'NOPE' }), failsWith(ErrorCode.NameNotFound, /^No global named NOPE in module __main__\.$/));
    await assert.rejects(session.getglobal({ module: '__main__', class: 'Order', field: 'customer' }),
      failsWith(ErrorCode.NameNotFound, /^Class Order in module __main__ has no attribute customer\.$/));
    await assert.rejects(session.getglobal({ module: '__main__', field: 'CONFIG', expr: 'target[' }), failsWith(ErrorCode.BadExpression, /not a valid Python expression/));
    await assert.rejects(session.getglobal({ module: '__main__', field: 'CONFIG', expr: "target['nope']" }),
      failsWith(ErrorCode.BadExpression, /^The expression target\['nope'\] failed in the target: KeyError: 'nope'$/));
    await assert.rejects(session.getglobal({ module: '__main__', field: 'MIXED_KEYS' }),
      failsWith(ErrorCode.BadExpression, /^The value cannot be rendered by flight-profiler: TypeError: '<' not supported/));
    assert.equal((await session.getglobal({ module: '__main__', field: 'MIXED_KEYS', raw: true })).value, "{1: 'one', 'two': 2}");
    await assert.rejects(session.call('getInstances', { module: '__main__', class: 'Order', expr: 'instances[5].total' }),
      failsWith(ErrorCode.BadExpression, /failed in the target: IndexError: list index out of range$/));
    await assert.rejects(session.call('getInstances', { module: '__main__', class: 'Refund' }), failsWith(ErrorCode.NoInstances, /^No live instances of __main__\.Refund in the process\.$/));
    await assert.rejects(session.call('getInstances', { module: '__main__', class: 'Order', limit: 0 }), (e: PyFlightError) => e.code === ErrorCode.BadArgument);
    assert.equal(session.state, 'ready');
  });

  it('Force GC frees the garbage cycles the fixture piles up and says how many objects went', async () => {
    await new Promise((r) => setTimeout(r, 300)); // a few Baskets (a cycle each) more
    const result = await session.call('forceGc', {});
    assert.ok(result.unreachable > 0, JSON.stringify(result));
    assert.ok(result.objectsAfter < result.objectsBefore, JSON.stringify(result));
    assert.ok(result.rssKibBefore! > 0 && result.rssKibAfter! > 0);
    const again = await session.call('getInstances', { module: '__main__', class: 'Basket', expr: 'len(instances)' }).catch((e: PyFlightError) => e.code);
    assert.ok(again === ErrorCode.NoInstances || Number((again as { value: string }).value) < 50, `baskets left: ${JSON.stringify(again)}`);
  });

  it('hovers: one request per name, kept briefly, only from a session whose agent is loaded', async () => {
    let now = 1_000;
    const values = new LiveValues(silentLogger, 3000, () => now);
    const first = await values.valueOf([session], SERVICE_PY, { field: 'REQUESTS_SERVED' });
    assert.equal(first?.result.type, "<class 'int'>");
    assert.equal(values.requests, 2, 'the module of the file, then the value');
    const again = await values.valueOf([session], SERVICE_PY, { field: 'REQUESTS_SERVED' });
    assert.equal(again?.result.value, first?.result.value);
    assert.equal(values.requests, 2, 'kept: asked nothing more');
    now += 3000;
    const later = await values.valueOf([session], SERVICE_PY, { class: 'Order', field: 'CURRENCY' });
    assert.equal(later?.result.value, '"EUR"');
    assert.equal(values.requests, 3, 'the module is kept; one request for the new name');
    assert.equal(await values.valueOf([session], SERVICE_PY, { field: 'NOT_THERE' }), undefined);

    // A second process, attached read-only: a hover loads nothing into it and asks it nothing.
    const other = await startTarget(['inspect_service.py']);
    const readOnly = new Session(other.pid, { log: silentLogger, livenessIntervalMs: 0,
      confirmAgentLoad: async () => assert.fail('a hover asked to load the agent') });
    await readOnly.attach();
    try {
      const before = values.requests;
      assert.equal(await values.valueOf([readOnly], SERVICE_PY, { field: 'REQUESTS_SERVED' }), undefined);
      assert.equal(values.requests, before);
      assert.equal(readOnly.agentLoaded, false);
      const stacks = await readOnly.call('stack', { includeAgentThreads: true });
      assert.ok(!stacks.threads.some((t) => t.name?.startsWith('flight-profiler')), 'an agent thread runs in the read-only target');
    } finally {
      await readOnly.detach();
    }
  });

  it('pyflight getglobal / globals / vmtool --json, errors with their codes, no helper left', () => {
    const value = pyflight(['getglobal', String(service.pid), '__main__', 'Order', 'TAX_RATE']);
    assert.equal(value.status, 0, JSON.stringify(value.json));
    assert.deepEqual(value.json, { pid: service.pid, module: '__main__', class: 'Order', field: 'TAX_RATE', expr: 'target', type: "<class 'float'>",
      value: '0.2', expand: 2, raw: false });
    const withE = pyflight(['getglobal', String(service.pid), '__main__', 'CONFIG', '-e', 'len(target)', '-r']);
    assert.equal(withE.json.value, '3');
    const globals = pyflight(['globals', String(service.pid), '__main__']);
    assert.ok(globals.json.globals.some((g: { name: string; kind: string }) => g.name === 'Order' && g.kind === 'class'));
    const instances = pyflight(['vmtool', String(service.pid), 'getInstances', '-c', '__main__', 'Order', '-n', '1', '-x', '2']);
    assert.equal(instances.status, 0, JSON.stringify(instances.json));
    assert.deepEqual([instances.json.count, instances.json.instances.length, instances.json.limit, instances.json.expand], [3, 1, 1, 2]);
    assert.deepEqual(helpersOwnedBy(instances.owner), [], 'helper outlived the CLI');
    const counted = pyflight(['vmtool', String(service.pid), '-a', 'getInstances', '-c', '__main__ Order', '-e', 'len(instances)']);
    assert.equal(counted.json.value, '3');
    const gc = pyflight(['vmtool', String(service.pid), 'forceGc']);
    assert.equal(gc.status, 0, JSON.stringify(gc.json));
    assert.deepEqual(Object.keys(gc.json).sort(), ['objectsAfter', 'objectsBefore', 'pid', 'rssKibAfter', 'rssKibBefore', 'unreachable']);
    const none = pyflight(['vmtool', String(service.pid), 'getInstances', '-c', '__main__', 'Refund']);
    assert.deepEqual([none.status, none.json.error.code], [1, 'NO_INSTANCES']);
    const bad = pyflight(['vmtool', String(service.pid), 'getInstances', '-c', '__main__']);
    assert.deepEqual([bad.status, bad.json.error.code], [2, 'BAD_ARGUMENT']);
    const missing = pyflight(['getglobal', String(service.pid), 'no_such_module', 'X']);
    assert.deepEqual([missing.status, missing.json.error.code], [1, 'MODULE_NOT_FOUND']);
  });
});
