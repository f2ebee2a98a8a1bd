/* The Run view, the Runs list and the run comparison: their models and formatting, from what the
 * server's `tunelint.listRuns`, `tunelint.runDetails` and `tunelint.compareRuns` return, and the
 * webview pages (a strict Content-Security-Policy with a nonce; the Run view's script is
 * dist/runview.js, bundled by esbuild with uPlot from npm; every string goes in with
 * textContent). No `vscode` import (tested in test/runs.test.ts). */

import { pageHead, WEBVIEW_DOM } from './webviewdom';

export const LIST_RUNS = 'tunelint.listRuns';
export const RUN_DETAILS = 'tunelint.runDetails';
export const COMPARE_RUNS = 'tunelint.compareRuns';

export type Status = 'running' | 'completed' | 'cancelled' | 'failed' | 'broken';

export interface RunSummary {
  name: string;
  path: string;
  status: Status | string;
  problem?: string | null;
  started?: string | null;
  model?: string | null;
  method?: string | null;
  duration_s?: number | null;
  eval_loss_before?: number | null;
  eval_loss_after?: number | null;
  validation?: string | null;
  kind?: string;
}

export type Point = [number, number];

export interface WorstExample {
  line: number;
  loss: number;
  file?: string | null;
}

/** `tunelint.runDetails`' answer: the summary's fields with curves, progress, settings and worst
 * examples (or, as first planned, the summary under `summary`: both are read). Lines are 1-based. */
export interface RunDetails extends Partial<RunSummary> {
  summary?: RunSummary;
  curves?: { train?: Point[]; eval?: Point[]; learning_rate?: Point[]; tokens_per_s?: Point[] };
  progress?: { step?: number; total_steps?: number; eta_s?: number | null } | null;
  settings?: Record<string, unknown>;
  worst_examples?: WorstExample[];
  data_map?: DataMap | null;
}

/** The training data map of a run (trainer/history.py `_data_map`): `[line, confidence,
 * variability (null with one epoch), region]` per training line. */
export interface DataMap {
  file?: string | null;
  lines?: number;
  points?: [number, number, number | null, string][];
  confidence_threshold?: number | null;
  variability_threshold?: number | null;
  note?: string | null;
}

/** A point of the Run view's data map: x variability (0 with one epoch), y confidence. */
export interface MapPoint {
  line: number;
  x: number;
  y: number;
  region: string;
}

export interface RunComparison {
  a: RunSummary;
  b: RunSummary;
  validation?: string | null;
  metrics?: [string, unknown, unknown][];
  settings_differ?: [string, unknown, unknown][];
  lines?: { line: number; loss_a: number | null; loss_b: number | null; diff: number | null }[];
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function formatLoss(v: unknown): string {
  const n = num(v);
  return n === undefined ? '–' : n.toFixed(n !== 0 && Math.abs(n) < 0.01 ? 4 : 3);
}

export function formatDuration(v: unknown): string {
  const n = num(v);
  if (n === undefined || n < 0) {
    return '–';
  }
  const s = Math.round(n);
  if (s < 60) {
    return `${s}s`;
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  }
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** `2026-12-02 01:51` (local time) from an ISO time; '' when there is none. */
export function formatDate(iso: unknown): string {
  if (typeof iso !== 'string' || !iso) {
    return '';
  }
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) {
    return iso;
  }
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function formatValue(v: unknown): string {
  if (v === undefined || v === null) {
    return '–';
  }
  if (typeof v === 'number') {
    return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  }
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** `2.310 → 1.204` */
export function lossChange(s: RunSummary): string {
  if (num(s.eval_loss_before) === undefined && num(s.eval_loss_after) === undefined) {
    return '';
  }
  return `${formatLoss(s.eval_loss_before)} → ${formatLoss(s.eval_loss_after)}`;
}

/** One row of the Runs list: its label, description and tooltip. */
export function runTreeItem(s: RunSummary): { label: string; description: string; tooltip: string; icon: string } {
  const parts = [formatDate(s.started), s.model ?? '', s.method ?? '', String(s.status ?? ''), lossChange(s),
    num(s.duration_s) !== undefined ? formatDuration(s.duration_s) : ''].filter((p) => p);
  const icon = s.status === 'running' ? 'sync~spin' : s.status === 'completed' ? 'pass' : s.status === 'cancelled' ? 'circle-slash' : 'error';
  const tooltip = [
    s.name, s.path, `status: ${s.status}${s.problem ? ` (${s.problem})` : ''}`,
    `model: ${s.model ?? '–'}`, `method: ${s.method ?? '–'}`, `started: ${formatDate(s.started) || '–'}`,
    `eval loss: ${lossChange(s) || '–'}`, `duration: ${formatDuration(s.duration_s)}`,
  ].join('\n');
  return { label: s.name, description: parts.join(' · '), tooltip, icon };
}

/** What the Run view shows: the header facts and the curves, ready for the chart. */
export interface RunViewModel {
  title: string;
  status: string;
  running: boolean;
  facts: [string, string][];
  train: Point[];
  eval: Point[];
  learningRate: Point[];
  tokensPerS: Point[];
  settings: [string, string][];
  worst: { line: number; loss: string; file: string }[];
  dataMap?: { file: string; points: MapPoint[]; lines: number; xLabel: string; note: string;
    yCut?: number; xCut?: number };
  problem?: string;
}

function dataMapModel(m: DataMap | null | undefined): RunViewModel['dataMap'] {
  if (!m || !Array.isArray(m.points) || typeof m.file !== 'string') {
    return undefined;
  }
  const onePass = num(m.variability_threshold) === undefined;
  const points = m.points
    .filter((p) => Array.isArray(p) && num(p[0]) !== undefined && num(p[1]) !== undefined)
    .map((p) => ({ line: p[0], x: num(p[2]) ?? 0, y: p[1], region: String(p[3] ?? '') }));
  const shown = num(m.lines) !== undefined && (m.lines as number) > points.length
    ? `${points.length} of ${m.lines} lines shown (the hardest first)` : '';
  return {
    file: m.file, points, lines: num(m.lines) ?? points.length,
    xLabel: onePass ? 'one epoch: no variability' : 'variability (std of gold-token probability across epochs)',
    note: [m.note ?? '', shown].filter(Boolean).join('; '),
    yCut: num(m.confidence_threshold), xCut: num(m.variability_threshold),
  };
}

function points(v: unknown): Point[] {
  if (!Array.isArray(v)) {
    return [];
  }
  return v.filter((p): p is Point => Array.isArray(p) && num(p[0]) !== undefined && num(p[1]) !== undefined)
    .map((p) => [p[0], p[1]] as Point)
    .sort((x, y) => x[0] - y[0]);
}

function last(p: Point[]): number | undefined {
  return p.length ? p[p.length - 1][1] : undefined;
}

/** The run's summary in a runDetails answer. */
export function detailsSummary(d: RunDetails | undefined | null): RunSummary | undefined {
  if (!d || typeof d !== 'object') {
    return undefined;
  }
  if (d.summary && typeof d.summary === 'object') {
    return d.summary;
  }
  return typeof d.name === 'string' && typeof d.status === 'string' ? (d as RunSummary) : undefined;
}

export function runViewModel(d: RunDetails): RunViewModel {
  const s = (detailsSummary(d) ?? {}) as RunSummary;
  const c = d?.curves ?? {};
  const train = points(c.train);
  const evals = points(c.eval);
  const lr = points(c.learning_rate);
  const tps = points(c.tokens_per_s);
  const pr = d?.progress ?? null;
  const running = s.status === 'running';
  const facts: [string, string][] = [
    ['status', String(s.status ?? '')],
    ['model', s.model ?? '–'],
    ['method', s.method ?? '–'],
    ['started', formatDate(s.started) || '–'],
  ];
  if (pr && num(pr.step) !== undefined) {
    facts.push(['step', num(pr.total_steps) !== undefined ? `${pr.step} / ${pr.total_steps}` : String(pr.step)]);
  }
  if (running) {
    facts.push(['ETA', pr && num(pr.eta_s) !== undefined ? formatDuration(pr.eta_s) : '–']);
  } else {
    facts.push(['duration', formatDuration(s.duration_s)]);
  }
  facts.push(['train loss', formatLoss(last(train))]);
  facts.push(['eval loss', lossChange(s) || formatLoss(last(evals))]);
  facts.push(['learning rate', last(lr) !== undefined ? (last(lr) as number).toExponential(2) : '–']);
  facts.push(['tokens/s', last(tps) !== undefined ? String(Math.round(last(tps) as number)) : '–']);
  const settings = Object.entries(d?.settings ?? {}).map(([k, v]) => [k, formatValue(v)] as [string, string]);
  const worst = (Array.isArray(d?.worst_examples) ? d.worst_examples : [])
    .filter((w) => w && num(w.line) !== undefined)
    .map((w) => ({ line: w.line, loss: formatLoss(w.loss), file: String(w.file ?? s.validation ?? '') }));
  return {
    title: s.name ?? '', status: String(s.status ?? ''), running, facts, train, eval: evals, learningRate: lr, tokensPerS: tps,
    settings, worst, dataMap: dataMapModel(d?.data_map), problem: s.problem ?? undefined,
  };
}

/** The chart's data: one shared x axis (the steps of every series), `null` where a series has no
 * point (uPlot's aligned data). */
export function alignSeries(series: Point[][]): (number | null)[][] {
  const xs = [...new Set(series.flatMap((s) => s.map((p) => p[0])))].sort((a, b) => a - b);
  const out: (number | null)[][] = [xs];
  for (const s of series) {
    const m = new Map(s.map((p) => [p[0], p[1]]));
    out.push(xs.map((x) => (m.has(x) ? (m.get(x) as number) : null)));
  }
  return out;
}

/** What the comparison page shows. */
export interface CompareRunsModel {
  a: string;
  b: string;
  metrics: [string, string, string][];
  settings: [string, string, string][];
  lines: { line: number; a: string; b: string; diff: string }[];
  file: string;
}

/** `tunelint.compareRuns`' answer (lines are 1-based). */
export function compareRunsModel(c: RunComparison): CompareRunsModel {
  const metrics = (c.metrics ?? []).map(([k, a, b]) => [String(k), formatValue(a), formatValue(b)] as [string, string, string]);
  const settings = (c.settings_differ ?? []).map(([k, a, b]) => [String(k), formatValue(a), formatValue(b)] as [string, string, string]);
  const lines = [...(c.lines ?? [])]
    .sort((x, y) => Math.abs(num(y.diff) ?? 0) - Math.abs(num(x.diff) ?? 0))
    .map((l) => ({ line: l.line, a: formatLoss(l.loss_a), b: formatLoss(l.loss_b),
      diff: num(l.diff) === undefined ? '–' : `${(l.diff as number) > 0 ? '+' : ''}${(l.diff as number).toFixed(3)}` }));
  return { a: c.a?.name ?? '', b: c.b?.name ?? '', metrics, settings, lines, file: String(c.validation ?? c.a?.validation ?? c.b?.validation ?? '') };
}

/** The summary the Run view starts from when asked for `path` (the run with that folder). */
export function latestRun(runs: RunSummary[]): RunSummary | undefined {
  const ts = (s: RunSummary) => (s.started ? Date.parse(s.started) || 0 : 0);
  return [...runs].filter((r) => (r.kind ?? 'train') === 'train').sort((x, y) => ts(y) - ts(x))[0] ?? runs[0];
}

const STYLE = `
  body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); padding: 0 12px 12px; }
  h1 { font-size: 1.2em; margin: 10px 0 4px; } h2 { font-size: 1.05em; margin: 14px 0 6px; }
  .facts { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 6px 0; }
  .fact .k { opacity: 0.7; margin-right: 4px; }
  .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 10px; }
  .chart { border: 1px solid var(--vscode-panel-border, #8884); border-radius: 4px; padding: 4px; min-height: 60px; }
  .chart .u-legend { color: var(--vscode-foreground); }
  table { border-collapse: collapse; } td, th { text-align: left; padding: 2px 10px 2px 0; font-family: var(--vscode-editor-font-family); }
  th { opacity: 0.8; font-weight: normal; }
  a { color: var(--vscode-textLink-foreground); cursor: pointer; }
  .problem, .error { color: var(--vscode-errorForeground); }
  .empty { opacity: 0.7; font-style: italic; }
`;

/** The Run view's page; `scriptUri` / `styleUri` are dist/runview.js and dist/runview.css as webview URIs. */
export function runViewHtml(nonce: string, cspSource: string, scriptUri: string, styleUri: string): string {
  const q = (v: string) => v.replace(/[&"<>]/g, (ch) => `&#${ch.charCodeAt(0)};`);
  return `${pageHead('tunelint: run', nonce, cspSource, STYLE, { img: 'data:', stylesheet: styleUri })}
<body data-status="none" data-points="0" data-updates="0">
<h1 id="title">Run</h1>
<div id="problem" class="problem"></div>
<div id="facts" class="facts"></div>
<section class="charts">
  <div><h2>Loss</h2><div class="chart" id="chart-loss"></div></div>
  <div><h2>Learning rate</h2><div class="chart" id="chart-lr"></div></div>
  <div><h2>Tokens/s</h2><div class="chart" id="chart-tps"></div></div>
</section>
<h2>Worst validation examples</h2>
<div id="worst"></div>
<h2>Training data map</h2>
<div id="data-map-note" class="empty"></div>
<div class="chart" id="data-map"></div>
<h2>Settings</h2>
<table id="settings"></table>
<script nonce="${nonce}" src="${q(scriptUri)}"></script>
</body>
</html>`;
}

/** The comparison page's script: renders `{type: 'state', state: CompareRunsModel | {error}}`, posts
 * `{type: 'open', file, line}` when a line is clicked. */
export const COMPARE_RUNS_SCRIPT = String.raw`(function () {
  'use strict';
${WEBVIEW_DOM}
  function table(id, head, rows) {
    const t = $(id);
    clear(t);
    const tr = el('tr');
    for (const h of head) { tr.appendChild(el('th', '', h)); }
    t.appendChild(tr);
    for (const r of rows) {
      const row = el('tr');
      for (const c of r) { row.appendChild(c instanceof Node ? wrap(c) : el('td', '', c)); }
      t.appendChild(row);
    }
  }
  function wrap(n) { const td = el('td'); td.appendChild(n); return td; }
  function render(s) {
    if (!s) { return; }
    $('error').textContent = s.error || '';
    document.body.setAttribute('data-status', s.error ? 'error' : 'done');
    if (s.error) { $('title').textContent = 'Runs not compared'; return; }
    $('title').textContent = s.a + ' vs ' + s.b;
    table('metrics', ['metric', s.a, s.b], s.metrics);
    if (s.settings.length) { table('settings', ['setting', s.a, s.b], s.settings); } else { clear($('settings')); }
    $('settings-empty').textContent = s.settings.length ? '' : 'The two runs have the same settings.';
    table('lines', ['line', s.a, s.b, 'difference'], s.lines.map((l) => {
      const a = el('a', 'line-link', 'line ' + l.line);
      a.addEventListener('click', () => vscode.postMessage({ type: 'open', file: s.file, line: l.line }));
      return [a, l.a, l.b, l.diff];
    }));
  }
  window.addEventListener('message', (event) => {
    const m = event.data;
    if (m && m.type === 'state') { vscode.setState({ state: m.state }); render(m.state); }
  });
  const saved = vscode.getState();
  render(saved ? saved.state : undefined);
  vscode.postMessage({ type: 'ready' });
})();`;

export function compareRunsHtml(nonce: string, cspSource: string): string {
  return `${pageHead('tunelint: compare runs', nonce, cspSource, STYLE, { img: 'data:' })}
<body data-status="none">
<h1 id="title">Compare runs</h1>
<div id="error" class="error"></div>
<h2>Metrics</h2><table id="metrics"></table>
<h2>Settings that differ</h2><div id="settings-empty" class="empty"></div><table id="settings"></table>
<h2>Validation lines (largest differences first)</h2><table id="lines"></table>
<script nonce="${nonce}">${COMPARE_RUNS_SCRIPT}</script>
</body>
</html>`;
}
