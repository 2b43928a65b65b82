// The memory webview: a sortable table of types (count, size, or their deltas), a bar chart of the
// biggest growers, snapshots to show or compare, and how to list a growing type's instances.
// Every type name comes from the target: it is only ever set as textContent.
import '../shared/base.css';
import './style.css';
import { button, dottedName, el } from '../shared/dom';
import { formatBytes, formatCount } from '../shared/units';
import type { FromWebview, MemoryView, MemoryWebviewState, MemTableRow, SortKey, ToWebview } from '../shared/memoryProtocol';

declare function acquireVsCodeApi(): { postMessage(message: FromWebview): void; getState(): MemoryWebviewState | undefined; setState(state: MemoryWebviewState): void };

const vscode = acquireVsCodeApi();
const post = (message: FromWebview) => vscode.postMessage(message);



// ---- layout ---------------------------------------------------------------------------------
const app = document.getElementById('app')!;
const toolbar = el('div', 'toolbar');
const caption = el('h1', 'caption');
const summaryButton = button('Summary', 'Take a summary now: the biggest types by size (a full heap walk in the process)', () => post({ type: 'summary' }));
const diffButton = button('Diff…', 'What grows: two censuses of the heap some seconds apart (in slices: the process keeps running)', () => post({ type: 'diff' }));
const csvButton = button('Save CSV…', 'Save the table as CSV', () => post({ type: 'exportCsv' }), 'btn secondary');
toolbar.append(caption, summaryButton, diffButton, csvButton);

const busy = el('div', 'busy');
busy.setAttribute('role', 'status');
const busyText = el('span');
const cancelButton = button('Cancel', 'Stop the diff (a census in progress stops in the process too)', () => post({ type: 'cancel' }), 'btn secondary');
busy.append(busyText, cancelButton);

const snapshotsBar = el('div', 'snapshots');
const showSelect = el('select');
showSelect.setAttribute('aria-label', 'Snapshot shown');
const fromSelect = el('select');
fromSelect.setAttribute('aria-label', 'Compare from (earlier summary)');
const toSelect = el('select');
toSelect.setAttribute('aria-label', 'Compare to (later summary)');
const compareButton = button('Compare', 'Deltas between two summaries of this session', () => {
  post({ type: 'compare', from: Number(fromSelect.value), to: Number(toSelect.value) });
}, 'btn secondary');
const compareBox = el('span', 'compare');
compareBox.append(el('span', 'label', 'Compare'), fromSelect, el('span', 'label', 'with'), toSelect, compareButton);
snapshotsBar.append(el('span', 'label', 'Snapshot'), showSelect, compareBox);
showSelect.addEventListener('change', () => post({ type: 'show', id: Number(showSelect.value) }));

const note = el('div', 'note');
const main = el('div', 'main');
const tableBox = el('div', 'table-box');
const table = el('table', 'types');
tableBox.append(table);
const side = el('aside', 'side');
const chartTitle = el('h2', undefined, 'Biggest growers');
const chart = el('div', 'chart');
chart.setAttribute('role', 'list');
chart.setAttribute('aria-label', 'Biggest growers by size');
const instances = el('div', 'instances');
instances.setAttribute('aria-live', 'polite');
side.append(chartTitle, chart, instances);
main.append(tableBox, side);
const empty = el('div', 'empty', 'No snapshot yet: take a Summary, or a Diff to see what grows.');
app.append(toolbar, busy, snapshotsBar, note, empty, main);

// ---- state --------------------------------------------------------------------------------------
let view: MemoryView | undefined;
const state: MemoryWebviewState = vscode.getState() ?? { sort: 'growth', descending: true };
let picked: string | undefined;
let busyTimer: ReturnType<typeof setInterval> | undefined;

/** A census diff ranks rows by `growth` (what the user owns); summaries and pympler diffs have none. */
const hasGrowth = () => Boolean(view?.rows.some((r) => r.growth !== undefined));

function sortKey(): SortKey {
  return state.sort === 'growth' && !hasGrowth() ? 'size' : state.sort;
}

function sorted(rows: MemTableRow[]): MemTableRow[] {
  const key = sortKey();
  const sign = state.descending ? -1 : 1;
  return [...rows].sort((a, b) => {
    const order = key === 'type' ? a.type.localeCompare(b.type) : (a[key] ?? 0) - (b[key] ?? 0);
    return sign * order || a.type.localeCompare(b.type);
  });
}

function sizeText(row: MemTableRow, deltas: boolean): string {
  return `${row.sizeApprox && row.size !== 0 ? '~' : ''}${formatBytes(row.size, deltas)}`;
}

function setSort(key: SortKey): void {
  if (state.sort === key) state.descending = !state.descending;
  else Object.assign(state, { sort: key, descending: key !== 'type' });
  vscode.setState(state);
  renderTable();
}

function renderTable(): void {
  if (!view?.shown) return;
  const deltas = view.shown.deltas;
  const header = el('tr');
  const census = hasGrowth();
  const columns: [SortKey, string, string][] = [
    ['type', 'type', 'name'],
    ['count', deltas ? 'Δ objects' : 'objects', 'num'],
    ['size', deltas ? 'Δ size' : 'size', 'num'],
    ...(census ? [['growth', 'Δ owned', 'num owned'] as [SortKey, string, string]] : []),
  ];
  const key = sortKey();
  for (const [k, label, cls] of columns) {
    const th = el('th', cls);
    th.setAttribute('aria-sort', key === k ? (state.descending ? 'descending' : 'ascending') : 'none');
    const b = button(`${label}${key === k ? (state.descending ? ' ▼' : ' ▲') : ''}`,
      k === 'growth' ? 'Sort by what your code owns: a class with what its instances hold alone, a built-in type by the growth no class explains'
        : k === 'size' && census ? 'Sort by Δ size: the raw types' : `Sort by ${label}`, () => setSort(k), 'sort');
    b.dataset.key = k;
    th.append(b);
    header.append(th);
  }
  header.append(el('th', 'act'));
  const body = sorted(view.rows).map((row) => {
    const tr = el('tr');
    if (row.type === picked) tr.classList.add('picked');
    if (deltas && row.size > 0) tr.classList.add('grew');
    if (deltas && row.size < 0) tr.classList.add('shrank');
    const name = el('td', 'name');
    name.append(dottedName(row.type, 'type'));
    if (row.bookkeeping) name.append(el('span', 'tag', 'incl. pympler'));
    if (row.partial) name.append(el('span', 'tag', 'one side only'));
    if (row.owns) name.append(el('div', 'owns', row.owns));
    if (row.heldBy) {
      // under the name, not a column of its own: a narrow panel squeezed that column to a few letters
      const held = el('div', 'held', 'held by ');
      held.append(dottedName(row.heldBy, 'holder'));
      name.append(held);
    }
    name.title = [row.type, row.owns, row.heldBy && `held by ${row.heldBy}`].filter(Boolean).join('\n');
    const act = el('td', 'act');
    if (row.instances) act.append(button('Instances', `List the live ${row.type} objects`, () => showInstances(row), 'link'));
    tr.append(name, el('td', 'num', formatCount(row.count, deltas)), el('td', 'num', sizeText(row, deltas)));
    if (census) {
      const owned = el('td', 'num owned', row.growth === undefined ? '' : formatBytes(row.growth, true));
      owned.title = row.owner ? 'Its own growth plus what its instances hold alone' : 'The growth no class of yours explains';
      tr.append(owned);
    }
    tr.append(act);
    return tr;
  });
  table.replaceChildren(header, ...body);
}

function renderChart(): void {
  if (!view) return;
  const growers = view.growers;
  const census = hasGrowth();
  const value = (g: MemTableRow) => (census ? g.growth ?? 0 : g.size);
  const valueText = (g: MemTableRow) => (census ? formatBytes(g.growth ?? 0, true) : sizeText(g, true));
  chartTitle.textContent = census ? 'Biggest growers (what your code owns)' : 'Biggest growers';
  chartTitle.style.display = view.shown?.deltas ? 'block' : 'none';
  chart.style.display = view.shown?.deltas ? 'block' : 'none';
  const max = Math.max(1, ...growers.map(value));
  chart.replaceChildren(...(growers.length ? growers.map((g) => {
    const item = el('div', 'bar-row');
    item.setAttribute('role', 'listitem');
    item.title = `${g.type}: ${formatCount(g.count, true)} objects, ${sizeText(g, true)}${census ? `, ${valueText(g)} with what they hold` : ''}`;
    const label = el('div', 'bar-label');
    label.append(dottedName(g.type, 'bar-name'), el('span', 'bar-value', valueText(g)));
    const track = el('div', 'bar-track');
    const bar = el('div', g.bookkeeping ? 'bar bookkeeping' : 'bar');
    bar.style.width = `${Math.max(1, (100 * value(g)) / max)}%`;
    track.append(bar);
    item.append(label, track);
    if (g.instances) {
      item.classList.add('clickable');
      item.tabIndex = 0;
      item.addEventListener('click', () => showInstances(g));
      item.addEventListener('keydown', (e) => { if (e.key === 'Enter') showInstances(g); });
    }
    return item;
  }) : [el('div', 'muted', 'Nothing grew.')]));
}

/** One click: PyFlight lists the live instances in its Values view (vmtool getInstances in the process). */
function showInstances(row: MemTableRow): void {
  picked = row.type;
  const how = row.instances;
  if (!how) return;
  post({ type: 'instances', module: how.module, class: how.class });
  const copy = button('Copy', 'Copy the command line', () => post({ type: 'copy', text: how.cli }), 'btn secondary');
  const box = el('div', 'cmd');
  box.append(el('code', undefined, how.cli), copy);
  instances.replaceChildren(
    el('h2', undefined, `Instances of ${row.type}`),
    el('p', undefined, 'Listed in the PyFlight Values view (each one expandable; Refresh there counts them again). From a terminal:'),
    box,
    el('p', 'muted', 'Instances of subclasses are not counted; -n 1000 renders more of them, -e "len(instances)" evaluates an expression on all.'),
  );
  renderTable();
}

function options(select: HTMLSelectElement, items: { id: number; label: string }[], value: number | undefined): void {
  select.replaceChildren(...items.map((s) => {
    const o = el('option', undefined, s.label);
    o.value = String(s.id);
    return o;
  }));
  if (value !== undefined) select.value = String(value);
}

function renderBusy(): void {
  clearInterval(busyTimer);
  if (!view?.busy) {
    busy.style.display = 'none';
    return;
  }
  const b = view.busy;
  const tick = () => {
    const left = b.waitingUntil ? Math.max(0, Math.ceil((b.waitingUntil - Date.now()) / 1000)) : undefined;
    busyText.textContent = b.progress ? `${b.label}: ${b.progress}` : left === undefined ? b.label
      : left > 0 ? `${b.label}: second census in ${left} s` : `${b.label}: taking the second census…`;
  };
  tick();
  busyTimer = setInterval(tick, 500);
  busy.style.display = 'flex';
}

function render(): void {
  if (!view) return;
  caption.textContent = view.shown ? view.shown.caption : view.title;
  summaryButton.disabled = diffButton.disabled = !view.live || Boolean(view.busy);
  csvButton.disabled = !view.shown;
  renderBusy();
  const summaries = view.snapshots.filter((s) => s.kind === 'summary');
  snapshotsBar.style.display = view.snapshots.length ? 'flex' : 'none';
  options(showSelect, view.compared ? [{ id: -1, label: '(comparison)' }, ...view.snapshots] : view.snapshots, view.compared ? -1 : view.selected);
  compareBox.style.display = summaries.length >= 2 ? 'inline-flex' : 'none';
  options(fromSelect, summaries, view.compared?.from ?? summaries[summaries.length - 2]?.id);
  options(toSelect, summaries, view.compared?.to ?? summaries[summaries.length - 1]?.id);
  note.textContent = view.shown?.note ?? '';
  note.style.display = view.shown?.note ? 'block' : 'none';
  empty.style.display = view.shown ? 'none' : 'block';
  main.style.display = view.shown ? 'flex' : 'none';
  if (picked && !view.rows.some((r) => r.type === picked)) {
    picked = undefined;
    instances.replaceChildren();
  }
  renderTable();
  renderChart();
}

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  if (event.data.type === 'view') {
    view = event.data.view;
    render();
  }
});

post({ type: 'ready' });
