import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { callerFrames, importedLater, onlyGrowing, type GrowingHolders } from '../../src/diagnose/memory';
import { biggestContainer, chainText, createdText, holderName, holdersReport, pauseText, searchText } from '../../src/memory/holders';
import type { MemHoldersResult, WatchRecord } from '../../src/protocol/helper';

// Real answers of `pyflight mem holders` and of the creation-site watch, recorded from
// test/fixtures/leaky_registry.py and leaky_service.py by test/fixtures/record_holders_answers.mjs.
const DIR = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'recorded', 'holders');
const load = <T>(name: string): T => JSON.parse(fs.readFileSync(path.join(DIR, `${name}.json`), 'utf8')) as T;

describe('memory holders (recorded referrer searches)', () => {
  it('a bound-method listener list inside a module-level object: the path to the biggest container and the whole chain', () => {
    const result = load<MemHoldersResult>('registry-request-context');
    const top = result.holders[0];
    assert.equal(biggestContainer(top), 2);
    const { path: where, size } = holderName(top);
    assert.equal(where, "__main__.BUS._listeners['shutdown']");
    assert.match(size, /^list, [\d,]+ entries$/);
    assert.match(chainText(top), /^__main__\.BUS \(__main__\.EventBus\) → \._listeners \(dict, 1 entry\) → \['shutdown'\] \(list, [\d,]+ entries\) → \[\d+\] \(method\) → \.__self__ \(__main__\.RequestContext\)$/);
    assert.equal(top.definition?.what, '__main__.EventBus._listeners');
    assert.equal(path.basename(top.definition!.file), 'leaky_registry.py');
  });

  it('samples reached through different entries of one container: that container is named, not a longer one below it (judge 12)', () => {
    const result = load<MemHoldersResult>('journal-rows-list');
    const top = result.holders[0];
    assert.ok(top.samples >= 2, String(top.samples));
    // the rows list of each batch (300 entries) is longer than the batches dict, which is what gains an entry per batch
    const rows = top.steps[top.steps.length - 1];
    assert.equal(rows.type, 'list');
    assert.ok(rows.len! > top.steps[biggestContainer(top)].len!, JSON.stringify(top.steps));
    const { path: where, size } = holderName(top);
    assert.equal(where, "__main__.JOURNAL.state['batches']");
    assert.match(size, /^dict, [\d,]+ entries$/);
    // one sample, and whether it is new is not known (no lengths before): the biggest container, as before
    assert.equal(holderName({ ...top, samples: 1 }).path, "__main__.JOURNAL.state['batches'][…]['rows']");
  });

  it('one sample of a built-in type that is new since the lengths before the interval: the container that gains one per new object', () => {
    // as the memory diagnosis asks: memContainers, 3 s, then memHolders with them as `before`
    const result = load<MemHoldersResult>('journal-rows-list-after-interval');
    const top = result.holders[0];
    assert.equal(top.samples, 1);
    assert.equal(top.fresh, true);
    assert.equal(holderName(top).path, "__main__.JOURNAL.state['batches']");
    // a container that was there before and grew is itself what grows: the biggest container
    assert.equal(holderName({ ...top, fresh: false, samples: 3 }).path, "__main__.JOURNAL.state['batches'][…]['rows']");
  });

  it('a chain rooted in a module imported between the censuses is left out, its samples unexplained (judge 12: celery.app.defaults)', () => {
    const result = load<MemHoldersResult>('registry-dict');
    assert.equal(result.holders[0].root.module, '__main__');
    const late = importedLater(result, ['__main__', 'celery.app.defaults']) as MemHoldersResult;
    assert.deepEqual(late.holders, []);
    assert.equal(late.unresolved, result.unresolved + result.holders[0].samples);
    assert.equal(importedLater(result, ['celery.app.defaults']), result);
    assert.equal(importedLater(result, undefined), result);
  });

  it('a bounded store that replaces its entries holds the newest objects, not the growth: its chains are left out (judge 13)', () => {
    // Line objects: each document's lines list (150) is longer than the store of 100 documents
    const result = load<MemHoldersResult>('bounded-store-line-after-interval');
    const store = result.holders.find((h) => h.root.path === '__main__.STORE')!;
    assert.ok(store, JSON.stringify(result.holders.map((h) => h.root.path)));
    assert.equal(store.steps[0].len, store.steps[0].lenBefore, 'the store did not grow');
    assert.ok(store.steps[biggestContainer(store)].len! > store.steps[0].len!, 'the biggest container on its chain is a document\'s lines');
    const growing = onlyGrowing(result) as GrowingHolders;
    assert.ok(growing.holders.length >= 1);
    assert.ok(growing.holders.every((h) => h.root.path === '__main__.REJECTED'), JSON.stringify(growing.holders.map((h) => h.root.path)));
    assert.deepEqual(growing.replacedOnly?.map((h) => h.root.path), ['__main__.STORE']);
    assert.equal(growing.unresolved, result.unresolved + store.samples);
    assert.equal(holderName(growing.holders[0]).path, '__main__.REJECTED');
    // nothing to leave out: the same answer
    const journal = load<MemHoldersResult>('journal-rows-list-after-interval');
    assert.equal(onlyGrowing(journal), journal);
  });

  it('a pause the host stretched (load 5: a 20 ms C call lasting 1.9 s) says how much of it PyFlight computed', () => {
    assert.equal(pauseText(1873, 21.4), '1873 ms (21 ms of it computing: the host kept the process off its CPUs for the rest)');
    assert.equal(pauseText(300, 280), '300 ms');
    assert.equal(pauseText(30, 1), '30 ms');
    assert.equal(pauseText(400, undefined), '400 ms');
  });

  it('a class-attribute dict found from the containers of a built-in type', () => {
    const result = load<MemHoldersResult>('registry-dict');
    assert.equal(result.builtin, true);
    assert.equal(result.instances, null);
    const { path: where, size } = holderName(result.holders[0]);
    assert.equal(where, '__main__.SessionStore._by_token');
    assert.match(size, /^dict, [\d,]+ entries$/);
    assert.match(searchText(result), /^The referrer search in the target explained 1 of 1 sampled containers in [\d.]+ s \(\d+ objects expanded, \d+ heap passes\)\.$/);
  });

  it('a module-level list; the plain text report names the defining line and says tracemalloc was not tracing', () => {
    const result = load<MemHoldersResult>('service-leaky-cache-entry');
    const lines = holdersReport(4242, result);
    assert.match(lines[0], /^Process 4242: what holds __main__\.LeakyCacheEntry \([\d,]+ live instances\)\.$/);
    assert.ok(lines.some((l) => /^ {2}__main__\.SESSION_CACHE \(list, [\d,]+ entries\) — 5 of 5 samples$/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /^ {4}defined at .*leaky_service\.py:\d+ \(__main__\.SESSION_CACHE\)$/.test(l)), lines.join('\n'));
    assert.equal(result.createdAt, null);
    assert.match(createdText(result), /^Where they are created is not known: tracemalloc is not tracing/);
  });

  it('the creation watch: the frames before flight-profiler\'s wrapper, the caller of __init__ last', () => {
    const records = load<Array<{ type: string; data: WatchRecord }>>('registry-watch-init-stack').filter((r) => r.type === 'record');
    assert.ok(records.length >= 1);
    const frames = callerFrames(records[0].data.value);
    assert.deepEqual(frames.slice(-2).map((f) => f.function), ['request_loop', 'handle_request']);
    assert.equal(path.basename(frames[frames.length - 1].file), 'leaky_registry.py');
    assert.ok(frames.every((f) => !f.file.includes('flight_profiler')));
    assert.deepEqual(callerFrames('not a stack'), []);
  });
});
