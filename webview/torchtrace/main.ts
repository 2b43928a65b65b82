// The PyTorch timeline: the operators of one profiled call on a time axis, one lane per nesting
// level, with zoom, keyboard focus and a details line. Operator names, shapes and frames come from
// the target: they are only ever set as textContent or title.
import '../shared/base.css';
import './style.css';
import { button, el } from '../shared/dom';
import type { FromWebview, TimelineBar, TimelineView, ToWebview } from '../shared/torchProtocol';

declare function acquireVsCodeApi(): { postMessage(message: FromWebview): void };
const vscode = acquireVsCodeApi();
const post = (message: FromWebview) => vscode.postMessage(message);

const us = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(2)} ms` : `${v.toFixed(0)} µs`);


const app = document.getElementById('app')!;
const toolbar = el('div', 'toolbar');
const caption = el('h1', 'caption');
let zoom = 1;
const zoomOut = button('−', 'Zoom out', () => setZoom(zoom / 2), 'btn secondary');
const zoomIn = button('+', 'Zoom in', () => setZoom(zoom * 2), 'btn secondary');
const zoomText = el('span', 'zoom', '100%');
toolbar.append(caption, zoomOut, zoomText, zoomIn,
  button('Reveal File', 'Show the Chrome trace file in the file manager', () => post({ type: 'reveal' }), 'btn secondary'),
  button('Save As…', 'Save a copy of the Chrome trace (chrome://tracing, Perfetto)', () => post({ type: 'saveAs' })));
const note = el('div', 'note');
const scroller = el('div', 'scroller');
const canvas = el('div', 'lanes');
const axis = el('div', 'axis');
scroller.append(axis, canvas);
const details = el('div', 'details', 'Click or focus an operator for its details.');
details.setAttribute('role', 'status');
app.append(toolbar, note, scroller, details);

let view: TimelineView | undefined;

function setZoom(z: number): void {
  zoom = Math.min(256, Math.max(1, z));
  zoomText.textContent = `${Math.round(zoom * 100)}%`;
  canvas.style.width = axis.style.width = `${zoom * 100}%`;
}

function show(bar: TimelineBar): void {
  details.replaceChildren(el('strong', undefined, bar.name),
    el('span', undefined, ` · ${us(bar.durUs)} (self ${us(bar.selfUs)}) at +${us(bar.startUs)}`),
    ...(bar.shape ? [el('span', undefined, ` · shapes ${bar.shape}`)] : []),
    ...(bar.module ? [el('span', undefined, ` · in ${bar.module}`)] : []),
    ...(bar.caller ? [el('span', undefined, ` · from ${bar.caller}`)] : []));
}

function render(v: TimelineView): void {
  view = v;
  caption.textContent = `${v.title} — ${us(v.totalUs)}, ${v.bars.length} operators`;
  caption.title = v.fileName;
  note.textContent = v.leftOut ? `${v.leftOut} shortest operators are not drawn.` : '';
  note.style.display = v.leftOut ? 'block' : 'none';
  canvas.replaceChildren();
  canvas.style.height = `${Math.max(1, v.lanes) * 22}px`;
  const total = Math.max(1, v.totalUs);
  for (const bar of v.bars) {
    const b = el('div', `bar depth-${Math.min(bar.depth, 5)}`);
    b.style.left = `${(bar.startUs / total) * 100}%`;
    b.style.width = `${Math.max(0.05, (bar.durUs / total) * 100)}%`;
    b.style.top = `${bar.depth * 22}px`;
    b.tabIndex = 0;
    b.setAttribute('role', 'button');
    b.title = `${bar.name} · ${us(bar.durUs)}${bar.module ? ` · ${bar.module}` : ''}`;
    b.append(el('span', 'label', bar.name));
    b.addEventListener('click', () => show(bar));
    b.addEventListener('focus', () => show(bar));
    canvas.append(b);
  }
  axis.replaceChildren(...[0, 0.25, 0.5, 0.75, 1].map((f) => {
    const t = el('span', 'tick', us(f * v.totalUs));
    t.style.left = `${f * 100}%`;
    return t;
  }));
  setZoom(zoom);
}

scroller.addEventListener('wheel', (e) => {
  if (!e.ctrlKey || !view) return;
  e.preventDefault();
  setZoom(e.deltaY < 0 ? zoom * 1.25 : zoom / 1.25);
}, { passive: false });

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  if (event.data?.type === 'view') render(event.data.view);
});
post({ type: 'ready' });
