// The flame graph webview: draws the frames the host sends on a canvas (fast for any profile size:
// the host sends only frames wider than a pixel), and asks the host to zoom, search and open source.
// Every name and path comes from the target: it is only ever set as textContent or drawn as text.
import '../shared/base.css';
import './style.css';
import { el } from '../shared/dom';
import type { FlameView, FlameWebviewState, FromWebview, ToWebview, VisibleFrame } from '../shared/flameProtocol';

declare function acquireVsCodeApi(): { postMessage(message: FromWebview): void; getState(): FlameWebviewState | undefined; setState(state: FlameWebviewState): void };

const vscode = acquireVsCodeApi();
/** One formatter for the table's sample counts: `toLocaleString('en-US')` made one per cell (8 ms for 60 rows). */
const SAMPLES = new Intl.NumberFormat('en-US');
const ROW = 18;
const post = (message: FromWebview) => vscode.postMessage(message);


// ---- layout ---------------------------------------------------------------------------------
const app = document.getElementById('app')!;
const toolbar = el('div', 'toolbar');
const crumbs = el('nav', 'crumbs');
crumbs.setAttribute('aria-label', 'Zoom path');
const search = el('input', 'search');
search.type = 'search';
search.placeholder = 'Search functions or files  ( / )';
search.setAttribute('aria-label', 'Search functions or files');
const matchInfo = el('span', 'match-info');
matchInfo.setAttribute('aria-live', 'polite');
const icicle = el('button', 'toggle', 'Icicle');
icicle.title = 'Flip between flame (roots at the bottom) and icicle (roots at the top)';
const reset = el('button', 'toggle', 'Reset zoom');
reset.title = 'Show the whole profile (Esc)';
const status = el('span', 'status');
const saveSpeedscope = el('button', 'toggle', 'Save speedscope…');
saveSpeedscope.title = 'Save as speedscope JSON (opens in speedscope.app)';
const saveCollapsed = el('button', 'toggle', 'Save collapsed…');
saveCollapsed.title = 'Save as collapsed stacks (flamegraph.pl, py-spy raw); PyFlight: Open CPU Profile File… opens it again';
// A profile of all workers: show all of them or one.
const workerSelect = el('select', 'worker-select');
workerSelect.setAttribute('aria-label', 'Worker');
workerSelect.title = 'Show every worker merged, or one worker';
workerSelect.style.display = 'none';
const saveSvg = el('button', 'toggle', 'Save SVG…');
saveSvg.title = 'Save a static flame graph (SVG) for a report or a ticket';
toolbar.append(crumbs, search, matchInfo, workerSelect, icicle, reset, saveSpeedscope, saveCollapsed, saveSvg, status);

const main = el('div', 'main');
const graphBox = el('div', 'graph');
const canvas = el('canvas');
canvas.tabIndex = 0;
canvas.setAttribute('role', 'img');
canvas.setAttribute('aria-label', 'Flame graph: click a frame to zoom, double-click to open its source line');
graphBox.append(canvas);
const side = el('aside', 'hot');
const legend = el('div', 'legend');
for (const [kind, label] of [['own', 'your code'], ['library', 'libraries'], ['stdlib', 'standard library'], ['native', 'native'], ['idle', 'idle']]) {
  const item = el('span', `legend-item kind-${kind}`);
  item.append(el('i'), el('span', undefined, label));
  legend.append(item);
}
const diffLegend = el('div', 'legend diff-legend');
for (const [cls, label] of [['grew', 'grew (more of all samples after)'], ['shrank', 'shrank'], ['same', 'about the same']]) {
  const item = el('span', `legend-item diff-${cls}`);
  item.append(el('i'), el('span', undefined, label));
  diffLegend.append(item);
}
const hotTitle = el('h2', undefined, 'Hot functions');
const HEADER_HELP: Record<string, string> = {
  self: 'Share of all samples with the function running (the leaf)',
  total: 'Share of all samples with the function anywhere on the stack (counted once per sample)',
  samples: 'Samples with the function running: not a call count (sampling cannot count calls)',
  change: 'Change of the self share, in percentage points',
};
const hotTable = el('table');
// A sampler sees where the stack was, not how often a function was entered: the table says so
// rather than showing a "calls" column it cannot fill.
const hotFootnote = el('p', 'hot-note', 'Samples: how often the function was running (self) when py-spy looked. Sampling cannot count calls; to count them, watch or trace the function.');
side.append(hotTitle, legend, diffLegend, hotTable, hotFootnote);
main.append(graphBox, side);
const tooltip = el('div', 'tooltip');
tooltip.setAttribute('role', 'tooltip');
const note = el('div', 'note');
app.append(toolbar, note, main, tooltip);

// ---- state --------------------------------------------------------------------------------------
let view: FlameView | undefined;
let hovered: VisibleFrame | undefined;
const saved = vscode.getState();
if (saved?.query) search.value = saved.query;

function percent(part: number, whole: number): string {
  if (!whole) return '0%';
  const p = (100 * part) / whole;
  return `${p >= 10 ? p.toFixed(0) : p.toFixed(1)}%`;
}

/** The theme's colour per frame kind, read once per draw (a computed-style read per frame cost
 * more than drawing the frames). */
function kindColors(style: CSSStyleDeclaration): Record<VisibleFrame['kind'], string> {
  const of = (kind: VisibleFrame['kind']) => style.getPropertyValue(`--kind-${kind}`).trim() || '#888';
  return { own: of('own'), library: of('library'), stdlib: of('stdlib'), native: of('native'), idle: of('idle') };
}

/** "+8.5 pts" / "−3.0 pts" / "±0": a change of share, in percentage points. */
function points(fraction: number): string {
  const p = fraction * 100;
  if (Math.abs(p) < 0.05) return '±0';
  return `${p > 0 ? '+' : '−'}${Math.abs(p).toFixed(1)} pts`;
}

/** Diff mode: the largest |change| among the frames on screen (colours are relative to it). */
function maxDelta(frames: VisibleFrame[]): number {
  return frames.reduce((m, f) => (f.depth > 0 && f.diff ? Math.max(m, Math.abs(f.diff.delta)) : m), 0);
}

// ---- drawing --------------------------------------------------------------------------------------
function draw(): void {
  if (!view) return;
  const width = graphBox.clientWidth;
  const depth = view.frames.reduce((m, f) => Math.max(m, f.depth), 0) + 1;
  const height = depth * ROW; // as tall as the stacks: the graph starts at the top, no empty band
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.floor(width * ratio);
  canvas.height = Math.floor(height * ratio);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const font = getComputedStyle(document.body);
  ctx.font = `12px ${font.getPropertyValue('--vscode-editor-font-family') || 'monospace'}`;
  ctx.textBaseline = 'middle';
  const text = font.getPropertyValue('--frame-text').trim() || '#000';
  const dimText = font.getPropertyValue('--vscode-foreground').trim() || text;
  const matchColor = font.getPropertyValue('--match').trim() || '#e0a000';
  const searching = Boolean(view.search?.query);
  const diff = Boolean(view.diff);
  const largest = diff ? maxDelta(view.frames) : 0;
  const grew = font.getPropertyValue('--diff-grew').trim() || '#e51400';
  const shrank = font.getPropertyValue('--diff-shrank').trim() || '#1a85ff';
  const same = font.getPropertyValue('--diff-same').trim() || '#c8c8c8';
  const colors = kindColors(font);
  for (const f of view.frames) {
    const x = f.x * width;
    const w = f.w * width;
    const y = view.icicle ? f.depth * ROW : height - (f.depth + 1) * ROW;
    const dimmed = searching && !f.match;
    ctx.globalAlpha = dimmed ? 0.3 : 1;
    if (diff && f.diff && !f.match) {
      // Neutral, then red (grew) or blue (shrank) over it, as strong as the change relative to the largest.
      ctx.fillStyle = same;
      ctx.fillRect(x, y, Math.max(w - 0.5, 0.5), ROW - 1);
      const strength = largest > 0 ? Math.min(1, Math.abs(f.diff.delta) / largest) : 0;
      if (strength > 0.02) {
        ctx.globalAlpha = (dimmed ? 0.3 : 1) * (0.2 + 0.8 * strength);
        ctx.fillStyle = f.diff.delta > 0 ? grew : shrank;
        ctx.fillRect(x, y, Math.max(w - 0.5, 0.5), ROW - 1);
      }
      ctx.globalAlpha = dimmed ? 0.3 : 1;
    } else {
      ctx.fillStyle = f.match ? matchColor : colors[f.kind];
      ctx.fillRect(x, y, Math.max(w - 0.5, 0.5), ROW - 1);
    }
    if (w > 30) {
      // Dimmed frames lie over the editor background: their text takes the theme's foreground.
      ctx.globalAlpha = dimmed ? 0.7 : 1;
      ctx.fillStyle = dimmed ? dimText : text;
      ctx.save();
      ctx.beginPath();
      ctx.rect(x, y, w - 2, ROW);
      ctx.clip();
      ctx.fillText(f.name, x + 3, y + ROW / 2);
      ctx.restore();
    }
  }
  ctx.globalAlpha = 1;
}

function frameAt(event: MouseEvent): VisibleFrame | undefined {
  if (!view) return undefined;
  const rect = canvas.getBoundingClientRect();
  const px = (event.clientX - rect.left) / rect.width;
  const py = event.clientY - rect.top;
  const depth = view.icicle ? Math.floor(py / ROW) : Math.floor((rect.height - py) / ROW);
  return view.frames.find((f) => f.depth === depth && px >= f.x && px < f.x + f.w);
}

function showTooltip(frame: VisibleFrame | undefined, event: MouseEvent): void {
  hovered = frame;
  if (!frame || !view) {
    tooltip.style.display = 'none';
    return;
  }
  const d = view.diff;
  const lines = frame.diff && d
    ? [
      el('div', 'tt-delta', `total ${percent(frame.diff.beforeTotal, d.beforeSamples)} → ${percent(frame.total, d.afterSamples)} of all (${points(frame.diff.delta)})`),
      el('div', undefined, `self ${percent(frame.diff.beforeSelf, d.beforeSamples)} → ${percent(frame.self, d.afterSamples)} of all (${points(frame.diff.selfDelta)})`),
      el('div', undefined, `samples before ${frame.diff.beforeTotal} · after ${frame.total}`),
    ]
    : [
      el('div', undefined, `total ${frame.total} samples · ${percent(frame.total, view.totalSamples)} of all`),
      el('div', undefined, `self ${frame.self} samples · ${percent(frame.self, view.totalSamples)} of all`),
    ];
  tooltip.replaceChildren(
    el('div', 'tt-name', frame.name),
    el('div', 'tt-where', frame.where ?? '(no source: native or built-in)'),
    ...lines,
    el('div', 'tt-hint', 'click: zoom · double-click: open source'),
  );
  tooltip.style.display = 'block';
  const x = Math.min(event.clientX + 12, window.innerWidth - tooltip.offsetWidth - 8);
  const y = Math.min(event.clientY + 12, window.innerHeight - tooltip.offsetHeight - 8);
  tooltip.style.left = `${x}px`;
  tooltip.style.top = `${y}px`;
}

// ---- rendering the rest ------------------------------------------------------------------------
function render(): void {
  if (!view) return;
  crumbs.replaceChildren(...view.breadcrumb.flatMap((c, i) => {
    const link = el('button', 'crumb', i === 0 ? 'all' : c.name);
    link.title = i === 0 ? 'Show the whole profile' : `Zoom to ${c.name}`;
    link.addEventListener('click', () => post({ type: 'zoom', id: c.id }));
    return i ? [el('span', 'sep', '›'), link] : [link];
  }));
  const s = view.search;
  matchInfo.textContent = s?.query ? `${s.matchCount} ${s.matchCount === 1 ? 'match' : 'matches'} · ${percent(s.matchedSamples, view.totalSamples)} of samples` : '';
  icicle.setAttribute('aria-pressed', String(view.icicle));
  const d = view.diff;
  status.textContent = d ? `before ${d.beforeSamples} · after ${d.afterSamples} samples` : `${view.totalSamples} samples${view.live ? ' · recording…' : ''}`;
  note.textContent = d ? `Difference: ${d.before} → ${d.after}. Widths are the after-profile; red grew, blue shrank (share of each profile's samples).` : view.note ?? '';
  note.classList.toggle('diff-note', Boolean(d));
  note.style.display = d || view.note ? 'block' : 'none';
  legend.style.display = d ? 'none' : '';
  diffLegend.style.display = d ? '' : 'none';
  hotTitle.textContent = d ? 'Biggest changes (self)' : 'Hot functions';
  const w = view.workers;
  workerSelect.style.display = w ? '' : 'none';
  if (w) {
    const all = el('option', undefined, `all ${w.options.length} workers`);
    all.value = '';
    workerSelect.replaceChildren(all, ...w.options.map((o) => {
      const option = el('option', undefined, `worker ${o.pid} · ${o.samples} samples${o.error ? ' · failed' : ''}`);
      option.value = String(o.pid);
      if (o.error) option.title = o.error;
      return option;
    }));
    workerSelect.value = w.selected === undefined ? '' : String(w.selected);
  }
  const header = el('tr');
  if (d) header.append(el('th', undefined, 'function'), el('th', 'num', 'self'), el('th', 'num', 'change'));
  else header.append(el('th', undefined, 'function'), el('th', 'num', 'self'), el('th', 'num', 'total'), el('th', 'num', 'samples'));
  header.querySelectorAll<HTMLElement>('th.num').forEach((th) => { th.title = HEADER_HELP[th.textContent ?? ''] ?? ''; });
  hotFootnote.style.display = d ? 'none' : '';
  hotTable.replaceChildren(header, ...view.hot.map((row) => {
    const tr = el('tr', row.diff ? `diff-${row.diff.delta > 0 ? 'grew' : row.diff.delta < 0 ? 'shrank' : 'same'}` : `kind-${row.kind}`);
    tr.tabIndex = 0;
    tr.title = `${row.where ?? ''}\nclick or Enter: open source`;
    const name = el('td', 'fn');
    name.append(el('i'), el('span', undefined, row.name));
    if (row.diff) {
      const selfText = `${percent(row.diff.beforeSelfPercent, 100)} → ${percent(row.self, view!.totalSamples)}`;
      tr.append(name, el('td', 'num', selfText), el('td', 'num delta', points(row.diff.delta / 100)));
    } else {
      tr.append(name, el('td', 'num', percent(row.self, view!.totalSamples)), el('td', 'num', percent(row.total, view!.totalSamples)),
        el('td', 'num', SAMPLES.format(row.self)));
    }
    const open = () => post({ type: 'openHot', index: row.index });
    tr.addEventListener('click', open);
    tr.addEventListener('keydown', (e) => { if (e.key === 'Enter') open(); });
    return tr;
  }));
  draw();
}

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  const message = event.data;
  if (message.type === 'view') {
    view = message.view;
    render();
  }
});

// ---- input ---------------------------------------------------------------------------------------
let searchTimer: ReturnType<typeof setTimeout> | undefined;
search.addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    vscode.setState({ query: search.value });
    post({ type: 'search', query: search.value });
  }, 120);
});
canvas.addEventListener('mousemove', (e) => showTooltip(frameAt(e), e));
canvas.addEventListener('mouseleave', (e) => showTooltip(undefined, e));
canvas.addEventListener('click', (e) => {
  const frame = frameAt(e);
  if (frame) post({ type: 'zoom', id: frame.id });
});
canvas.addEventListener('dblclick', (e) => {
  const frame = frameAt(e);
  if (frame) post({ type: 'open', id: frame.id });
});
canvas.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && hovered) post({ type: 'open', id: hovered.id });
});
workerSelect.addEventListener('change', () => post({ type: 'worker', pid: workerSelect.value ? Number(workerSelect.value) : null }));
saveSpeedscope.addEventListener('click', () => post({ type: 'export', format: 'speedscope' }));
saveCollapsed.addEventListener('click', () => post({ type: 'export', format: 'collapsed' }));
saveSvg.addEventListener('click', () => post({ type: 'export', format: 'svg' }));
reset.addEventListener('click', () => view && post({ type: 'zoom', id: view.breadcrumb[0].id }));
icicle.addEventListener('click', () => view && post({ type: 'setIcicle', icicle: !view.icicle }));
document.addEventListener('keydown', (e) => {
  if (e.key === '/' && document.activeElement !== search) {
    e.preventDefault();
    search.focus();
  } else if (e.key === 'Escape' && view) {
    post({ type: 'zoom', id: view.breadcrumb[0].id });
  }
});
let resizeTimer: ReturnType<typeof setTimeout> | undefined;
new ResizeObserver(() => {
  draw();
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => post({ type: 'resize', width: graphBox.clientWidth }), 150);
}).observe(graphBox);

post({ type: 'ready', width: graphBox.clientWidth || 800 });
if (search.value) post({ type: 'search', query: search.value });
