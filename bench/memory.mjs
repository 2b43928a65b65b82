// `npm run bench -- memory`: PyFlight's heap census against pympler's summary (flight-profiler's
// `mem`, what Memory Diff used before issue 19) on one generated service with a big heap, in one run.
// The service (test/fixtures/big_heap_service.py) holds BENCH_MEMORY_SESSIONS Session objects (default
// 800,000: about 66 objects each, 53 M objects, 2.2 GB) and keeps logging in 200 more a second, never
// dropped; its heartbeat thread wakes every 10 ms and prints its longest gap each second.
// Reported: the census diff's time, objects per second, the longest heartbeat gap during it (the
// target's pause; the gap before it, at rest, beside it), the extra RSS, whether the leaking class
// is first; the holder search for PriceRequest with gc.get_referrers passes and with sliced passes
// (time, passes, longest heartbeat gap); the same for one pympler summary (a pympler diff is two of
// them and the interval).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const python = join(root, '.venv', 'bin', 'python');
const service = join(root, 'test', 'fixtures', 'big_heap_service.py');
const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const LEAK = '__main__.Session';

function rssKib(pid) {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Samples the target's RSS every 100 ms while `work` runs: [result, peak KiB]. */
async function withPeakRss(pid, work) {
  let peak = rssKib(pid);
  const timer = setInterval(() => { try { peak = Math.max(peak, rssKib(pid)); } catch { /* exited */ } }, 100);
  try {
    return [await work(), peak];
  } finally {
    clearInterval(timer);
    peak = Math.max(peak, rssKib(pid));
  }
}

/** The longest heartbeat gap (ms) the service printed for the seconds from `from` to `to` (ms since the epoch). */
function longestGap(output, from, to) {
  const gaps = [...output().matchAll(/^BEAT (\d+\.\d+) (\d+\.\d+)$/gm)].map((m) => ({ at: Number(m[1]) * 1000, gap: Number(m[2]) }))
    .filter((b) => b.at >= from && b.at <= to + 1100);
  return gaps.length ? Math.max(...gaps.map((b) => b.gap)) : null;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function benchMemory(Session) {
  const sessions = Number(process.env.BENCH_MEMORY_SESSIONS ?? 800000);
  const freeGib = os.freemem() / 2 ** 30;
  const needGib = sessions * 2.6e3 * 2.5 / 2 ** 30; // the heap, and pympler's own lists beside it
  if (needGib > freeGib * 0.8) throw new Error(`bench memory: ${sessions} sessions need about ${needGib.toFixed(1)} GiB, ${freeGib.toFixed(1)} GiB free: lower BENCH_MEMORY_SESSIONS`);
  const child = spawn(python, [service, String(sessions), '200'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out = (out + d).slice(-200_000); });
  child.stderr.on('data', (d) => { out = (out + d).slice(-200_000); });
  const output = () => out;
  const built = Date.now();
  try {
    for (let i = 0; i < 1800 && !/READY \d+/.test(out); i++) await sleep(500);
    const pid = child.pid;
    if (!/READY \d+/.test(out)) throw new Error(`big_heap_service.py not ready: ${out.slice(-500)}`);
    const buildSeconds = (Date.now() - built) / 1000;
    const session = new Session(pid, { log: silent, livenessIntervalMs: 0 });
    await session.attach();
    await session.loadAgent();
    await sleep(3000);
    const rest = longestGap(output, Date.now() - 3000, Date.now());

    // The census diff (what Memory Diff and the memory diagnosis run).
    const rssBefore = rssKib(pid);
    let t = Date.now();
    const [diff, censusPeak] = await withPeakRss(pid, () => session.call('memDiff', { interval: 5, limit: 20, maxSeconds: 600 }));
    const diffMs = Date.now() - t;
    await sleep(1500);
    const censusGap = longestGap(output, t, t + diffMs);
    const objects = diff.totals.after.objects;
    const census = diff.census[1];
    const census0 = diff.census[0];

    // The holder search (what the memory diagnosis asks for a grower it cannot place from the census):
    // PriceRequest, kept by the lru cache, through gc.get_referrers passes and through sliced passes.
    const holders = {};
    for (const sliced of [false, true]) {
      t = Date.now();
      const r = await session.call('memHolders', { module: '__main__', class: 'PriceRequest', samples: 2, maxSeconds: 60, sliced });
      const ms = Date.now() - t;
      await sleep(1500);
      holders[sliced ? 'sliced' : 'get_referrers'] = {
        search_s: Number((ms / 1000).toFixed(1)), heap_passes: r.heapPasses, longest_heartbeat_gap_ms: longestGap(output, t, t + ms),
        longest_pause_in_target_ms: r.longestPauseMs, get_objects_ms: r.listMs, holder: r.holders[0] ? r.holders[0].root.path : null, stopped_by: r.stoppedBy,
      };
    }

    // pympler's summary, once, on the same heap (flight-profiler's `mem summary`: one walk; its diff is two).
    const rssBeforePympler = rssKib(pid);
    t = Date.now();
    let pympler;
    let pymplerError;
    let pymplerPeak = rssBeforePympler;
    try {
      [pympler, pymplerPeak] = await withPeakRss(pid, () => session.call('memSummary', { limit: 20, maxSeconds: 1800, engine: 'pympler' }));
    } catch (error) {
      pymplerError = String(error?.message ?? error);
    }
    const pymplerMs = Date.now() - t;
    await sleep(1500);
    const pymplerGap = longestGap(output, t, t + pymplerMs);
    await session.detach();
    const pct = (peak, before) => Number((100 * (peak - before) / before).toFixed(1));
    return {
      sessions, heap_objects: objects, tracked_objects: census.tracked, rss_mb: Math.round(rssBefore / 1024), build_s: Number(buildSeconds.toFixed(1)),
      heartbeat_gap_at_rest_ms: rest,
      census: {
        diff_s: Number((diffMs / 1000).toFixed(1)), interval_s: 5,
        census_s: [Number((census0.elapsedMs / 1000).toFixed(1)), Number((census.elapsedMs / 1000).toFixed(1))],
        objects_per_s: Math.round(objects / (census.elapsedMs / 1000)),
        longest_heartbeat_gap_ms: censusGap,
        longest_slice_ms: Math.max(census0.longestSliceMs, census.longestSliceMs),
        get_objects_pause_ms: Math.max(census0.listMs, census.listMs),
        list_mb: Number((census.listBytes / 2 ** 20).toFixed(1)),
        extra_rss_pct: pct(censusPeak, rssBefore),
        leaking_class_first: diff.rows[0]?.type === LEAK, first_rows: diff.rows.slice(0, 3).map((r) => r.type),
      },
      holder_search: holders,
      pympler_summary: pymplerError ? { error: pymplerError, after_s: Number((pymplerMs / 1000).toFixed(1)), longest_heartbeat_gap_ms: pymplerGap } : {
        summary_s: Number((pymplerMs / 1000).toFixed(1)),
        objects_per_s: Math.round(objects / (pymplerMs / 1000)),
        longest_heartbeat_gap_ms: pymplerGap,
        extra_rss_pct: pct(pymplerPeak, rssBeforePympler),
        leaking_class_first: pympler.rows[0]?.type === LEAK, first_rows: pympler.rows.slice(0, 3).map((r) => r.type),
        diff_estimate_s: Number(((2 * pymplerMs) / 1000 + 5).toFixed(1)),
      },
      speedup: pymplerError ? null : Number((((2 * pymplerMs) / 1000 + 5) / (diffMs / 1000)).toFixed(1)),
      note: 'speedup: a pympler diff (two summaries and the 5 s interval) over the census diff measured; the gap at rest is the machine\'s own noise',
    };
  } finally {
    child.kill('SIGKILL');
  }
}
