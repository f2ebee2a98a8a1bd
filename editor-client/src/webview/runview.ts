/// <reference lib="dom" />
/* The Run view's script, in the webview (bundled by esbuild with uPlot into dist/runview.js and
 * dist/runview.css; loaded with the page's nonce). It renders each `{type: 'state', model}` (a
 * RunViewModel from src/runs.ts): the facts, the charts (updated in place while the run trains),
 * the worst validation examples as links (posting `{type: 'open', file, line}`) and the settings.
 * Every string goes in with textContent. */

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

import { alignSeries, RunViewModel } from '../runs';

declare function acquireVsCodeApi(): { postMessage(m: unknown): void; getState(): unknown; setState(s: unknown): void };

const vscode = acquireVsCodeApi();
const $ = (id: string) => document.getElementById(id) as HTMLElement;

function el(tag: string, cls?: string, text?: string): HTMLElement {
  const e = document.createElement(tag);
  if (cls) {
    e.className = cls;
  }
  if (text !== undefined) {
    e.textContent = text;
  }
  return e;
}

function clear(e: HTMLElement): void {
  while (e.firstChild) {
    e.removeChild(e.firstChild);
  }
}

const charts = new Map<string, uPlot>();
let updates = 0;

function css(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

function chart(id: string, labels: string[], colors: string[], data: (number | null)[][]): void {
  const box = $(id);
  const existing = charts.get(id);
  const xs = data[0];
  box.setAttribute('data-points', String(xs.length));
  if (xs.length === 0) {
    if (!existing && !box.querySelector('.empty')) {
      box.appendChild(el('div', 'empty', 'no points yet'));
    }
    return;
  }
  box.querySelector('.empty')?.remove();
  if (existing) {
    existing.setData(data as uPlot.AlignedData);
    return;
  }
  const fg = css('--vscode-foreground', '#ccc');
  const grid = css('--vscode-panel-border', '#8884');
  const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  const opts: uPlot.Options = {
    width: Math.max(300, box.clientWidth - 8),
    height: 220,
    scales: { x: { time: false } },
    axes: [{ ...axis, label: 'step' }, { ...axis }],
    series: [
      { label: 'step' },
      ...labels.map((label, i) => ({ label, stroke: colors[i], width: 2, spanGaps: true, points: { show: true, size: 4 } })),
    ],
  };
  charts.set(id, new uPlot(opts, data as uPlot.AlignedData, box));
}

function render(m: RunViewModel | null | undefined): void {
  if (!m) {
    return;
  }
  updates += 1;
  document.body.setAttribute('data-status', m.status);
  document.body.setAttribute('data-updates', String(updates));
  document.body.setAttribute('data-points', String(m.train.length));
  document.body.setAttribute('data-eval-points', String(m.eval.length));
  $('title').textContent = `Run ${m.title}`;
  $('problem').textContent = m.problem ?? '';
  const facts = $('facts');
  clear(facts);
  for (const [k, v] of m.facts) {
    const f = el('span', 'fact');
    f.setAttribute('data-key', k);
    f.appendChild(el('span', 'k', k));
    f.appendChild(el('span', 'v', v));
    facts.appendChild(f);
  }
  chart('chart-loss', ['train loss', 'eval loss'], ['#4fa3ff', '#ff9f40'], alignSeries([m.train, m.eval]));
  chart('chart-lr', ['learning rate'], ['#7fd17f'], alignSeries([m.learningRate]));
  chart('chart-tps', ['tokens/s'], ['#d17fd1'], alignSeries([m.tokensPerS]));
  const worst = $('worst');
  clear(worst);
  if (m.worst.length === 0) {
    worst.appendChild(el('div', 'empty', m.running ? 'after the run' : 'none recorded'));
  } else {
    const t = el('table');
    const head = el('tr');
    head.appendChild(el('th', '', 'line'));
    head.appendChild(el('th', '', 'loss'));
    t.appendChild(head);
    for (const w of m.worst) {
      const row = el('tr');
      const td = el('td');
      const a = el('a', 'line-link', `${w.file.split(/[\\/]/).pop() || 'line'}:${w.line}`);
      a.addEventListener('click', () => vscode.postMessage({ type: 'open', file: w.file, line: w.line }));
      td.appendChild(a);
      row.appendChild(td);
      row.appendChild(el('td', '', w.loss));
      t.appendChild(row);
    }
    worst.appendChild(t);
  }
  dataMap(m);
  const settings = $('settings');
  clear(settings);
  for (const [k, v] of m.settings) {
    const row = el('tr');
    row.appendChild(el('th', '', k));
    row.appendChild(el('td', '', v));
    settings.appendChild(row);
  }
}

const REGION_COLOURS: Record<string, string> = { easy: '#4caf50', ambiguous: '#4fa3ff', 'hard-to-learn': '#f44336' };
const SVG = 'http://www.w3.org/2000/svg';

/** The training data map: one circle per training line (variability → x, confidence → y), coloured
 * by region; a click opens the line. */
function dataMap(m: RunViewModel): void {
  const box = $('data-map');
  clear(box);
  const d = m.dataMap;
  $('data-map-note').textContent = d ? d.note : (m.running ? 'after the run' : 'none recorded');
  box.setAttribute('data-points', String(d ? d.points.length : 0));
  if (!d || d.points.length === 0) {
    return;
  }
  const w = Math.max(300, box.clientWidth - 8), h = 260, pad = 36;
  const maxX = Math.max(1e-6, ...d.points.map((p) => p.x));
  const sx = (x: number) => pad + (x / maxX) * (w - pad - 8);
  const sy = (y: number) => h - pad - y * (h - pad - 8);
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('width', String(w));
  svg.setAttribute('height', String(h));
  const fg = css('--vscode-foreground', '#ccc');
  const text = (x: number, y: number, s: string, anchor = 'middle') => {
    const t = document.createElementNS(SVG, 'text');
    t.setAttribute('x', String(x));
    t.setAttribute('y', String(y));
    t.setAttribute('fill', fg);
    t.setAttribute('font-size', '11');
    t.setAttribute('text-anchor', anchor);
    t.textContent = s;
    svg.appendChild(t);
  };
  text(w / 2, h - 6, d.xLabel);
  text(4, 12, 'confidence', 'start');
  text(pad - 4, sy(1) + 4, '1', 'end');
  text(pad - 4, sy(0), '0', 'end');
  for (const p of d.points) {
    const c = document.createElementNS(SVG, 'circle');
    c.setAttribute('cx', String(sx(p.x)));
    c.setAttribute('cy', String(sy(p.y)));
    c.setAttribute('r', '3.5');
    c.setAttribute('fill', REGION_COLOURS[p.region] ?? fg);
    c.setAttribute('fill-opacity', '0.75');
    c.setAttribute('class', 'map-point');
    c.setAttribute('data-line', String(p.line));
    c.setAttribute('data-region', p.region);
    c.style.cursor = 'pointer';
    const title = document.createElementNS(SVG, 'title');
    title.textContent = `line ${p.line}: ${p.region}, confidence ${p.y.toFixed(3)}`;
    c.appendChild(title);
    c.addEventListener('click', () => vscode.postMessage({ type: 'open', file: d.file, line: p.line }));
    svg.appendChild(c);
  }
  box.appendChild(svg);
}

window.addEventListener('message', (event: MessageEvent) => {
  const msg = event.data as { type?: string; model?: RunViewModel };
  if (msg && msg.type === 'state') {
    vscode.setState({ model: msg.model });
    render(msg.model);
  }
});
window.addEventListener('resize', () => {
  for (const [id, c] of charts) {
    c.setSize({ width: Math.max(300, $(id).clientWidth - 8), height: 220 });
  }
});
const saved = vscode.getState() as { model?: RunViewModel } | undefined;
render(saved?.model);
vscode.postMessage({ type: 'ready' });
