/* The Run view, Runs list and run comparison: the models and formatting (src/runs.ts) from
 * fixtures in the server's shapes, the pages' CSP, and the VS Code side (src/runsui.ts) against
 * the stub: the tree's rows, the Run view polling while the run is going and stopping when it is
 * done or closed, links opening the file at the line, and the comparison with its refusal. */
import * as assert from 'node:assert/strict';
import * as vm from 'node:vm';
import { beforeEach, describe, it } from 'node:test';

import './register';

import {
  alignSeries, COMPARE_RUNS_SCRIPT, compareRunsHtml, compareRunsModel, formatDate, formatDuration, formatLoss, latestRun,
  lossChange, RunComparison, RunDetails, runTreeItem, runViewHtml, runViewModel, RunSummary,
} from '../src/runs';
import { COMPARE_TWO_RUNS, OPEN_LATEST_RUN, OPEN_RUN, registerRunsUi, SHOW_RUN_VIEW, timing } from '../src/runsui';
import { resetAll, waitFor } from './helpers';
import { stub, Uri } from './vscode-stub';

function summary(over: Partial<RunSummary> = {}): RunSummary {
  return {
    name: 'run-20261202-0150', path: '/ws/.tunelint/runs/run-20261202-0150', status: 'completed', problem: null,
    started: '2026-12-02T01:50:00Z', model: 'tiny-gpt2', method: 'lora', duration_s: 125, eval_loss_before: 2.3456,
    eval_loss_after: 1.2, validation: '/ws/validation.jsonl', kind: 'train', ...over,
  };
}

function details(over: Partial<RunDetails> = {}, s: Partial<RunSummary> = {}): RunDetails {
  return {
    summary: summary(s),
    curves: {
      train: [[10, 2.0], [5, 2.5]], eval: [[0, 2.3456], [10, 1.9]], learning_rate: [[5, 0.0002], [10, 0.0001]],
      tokens_per_s: [[5, 1234.4], [10, 1300]],
    },
    progress: { step: 10, total_steps: 20, eta_s: 65 },
    settings: { learning_rate: 0.0002, epochs: 3, packing: false, model: 'tiny-gpt2' },
    worst_examples: [{ line: 4, loss: 3.21, file: '/ws/validation.jsonl' }, { line: 0, loss: 2.5, file: null }],
    ...over,
  };
}

describe('formatting', () => {
  it('losses, durations, dates and the before → after change', () => {
    assert.equal(formatLoss(1.23456), '1.235');
    assert.equal(formatLoss(0.001234), '0.0012');
    assert.equal(formatLoss(null), '–');
    assert.equal(formatLoss(Number.NaN), '–');
    assert.equal(formatDuration(5.4), '5s');
    assert.equal(formatDuration(125), '2m 05s');
    assert.equal(formatDuration(3 * 3600 + 7 * 60), '3h 07m');
    assert.equal(formatDuration(undefined), '–');
    assert.match(formatDate('2026-12-02T01:50:00Z'), /^2026-12-0[12] \d\d:\d\d$/);
    assert.equal(formatDate(null), '');
    assert.equal(formatDate('not a date'), 'not a date');
    assert.equal(lossChange(summary()), '2.346 → 1.200');
    assert.equal(lossChange(summary({ eval_loss_before: null, eval_loss_after: null })), '');
    assert.equal(lossChange(summary({ eval_loss_after: null })), '2.346 → –');
  });

  it('a Runs list row: date, model, method, status, eval loss before → after, duration', () => {
    const row = runTreeItem(summary());
    assert.equal(row.label, 'run-20261202-0150');
    assert.match(row.description, /^2026-12-0[12] \d\d:\d\d · tiny-gpt2 · lora · completed · 2\.346 → 1\.200 · 2m 05s$/);
    assert.equal(row.icon, 'pass');
    assert.equal(runTreeItem(summary({ status: 'running' })).icon, 'sync~spin');
    const broken = runTreeItem(summary({ status: 'broken', problem: 'events.jsonl is truncated', model: null, started: null, duration_s: null }));
    assert.equal(broken.icon, 'error');
    assert.match(broken.tooltip, /status: broken \(events\.jsonl is truncated\)/);
    assert.doesNotMatch(broken.description, /null|undefined/);
  });

  it('the latest training run', () => {
    const runs = [summary({ name: 'a', started: '2026-12-01T00:00:00Z' }), summary({ name: 'b', started: '2026-12-02T00:00:00Z' }),
      summary({ name: 'e', kind: 'eval', started: '2026-12-03T00:00:00Z' })];
    assert.equal(latestRun(runs)?.name, 'b');
    assert.equal(latestRun([]), undefined);
  });
});

describe('the Run view model', () => {
  it('sorts the curves, and shows step, ETA, learning rate and tokens/s while running', () => {
    const m = runViewModel(details({}, { status: 'running', duration_s: null, eval_loss_after: null }));
    assert.ok(m.running);
    assert.deepEqual(m.train, [[5, 2.5], [10, 2.0]]);
    const facts = Object.fromEntries(m.facts);
    assert.equal(facts.step, '10 / 20');
    assert.equal(facts.ETA, '1m 05s');
    assert.equal(facts['train loss'], '2.000');
    assert.equal(facts['learning rate'], '1.00e-4');
    assert.equal(facts['tokens/s'], '1300');
    assert.equal(facts.duration, undefined);
    assert.deepEqual(m.settings, [['learning_rate', '0.0002'], ['epochs', '3'], ['packing', 'false'], ['model', 'tiny-gpt2']]);
  });

  it('after the run: duration, the eval change, worst examples with their file (the validation file by default)', () => {
    const m = runViewModel(details());
    assert.ok(!m.running);
    const facts = Object.fromEntries(m.facts);
    assert.equal(facts.duration, '2m 05s');
    assert.equal(facts.ETA, undefined);
    assert.equal(facts['eval loss'], '2.346 → 1.200');
    assert.deepEqual(m.worst, [{ line: 4, loss: '3.210', file: '/ws/validation.jsonl' }, { line: 0, loss: '2.500', file: '/ws/validation.jsonl' }]);
  });

  it('the training data map: a point per line on the training file, its note; none without dynamics', () => {
    const m = runViewModel(details({ data_map: {
      file: '/ws/train.jsonl', lines: 3, confidence_threshold: 0.2, variability_threshold: 0.05, note: null,
      points: [[7, 0.05, 0.01, 'hard-to-learn'], [2, 0.9, 0.02, 'easy'], [5, 'x' as never, 0.1, 'easy']],
    } }));
    assert.deepEqual(m.dataMap?.points, [{ line: 7, x: 0.01, y: 0.05, region: 'hard-to-learn' },
      { line: 2, x: 0.02, y: 0.9, region: 'easy' }]);
    assert.equal(m.dataMap?.file, '/ws/train.jsonl');
    assert.match(m.dataMap?.xLabel ?? '', /^variability/);
    const one = runViewModel(details({ data_map: { file: '/ws/t.jsonl', lines: 9, variability_threshold: null,
      note: 'one pass', points: [[1, 0.3, null, 'easy']] } }));
    assert.equal(one.dataMap?.points[0].x, 0);
    assert.match(one.dataMap?.xLabel ?? '', /one epoch/);
    assert.equal(one.dataMap?.note, 'one pass; 1 of 9 lines shown (the hardest first)');
    assert.equal(runViewModel(details()).dataMap, undefined);
  });

  it('reads the flat shape too (the summary fields at the top level)', () => {
    const { summary: s, ...rest } = details();
    const m = runViewModel({ ...s, ...rest } as RunDetails);
    assert.equal(m.title, 'run-20261202-0150');
    assert.equal(m.train.length, 2);
    assert.equal(m.worst[0].file, '/ws/validation.jsonl');
  });

  it('a partial or broken run: no curves, no crash', () => {
    const m = runViewModel({ summary: summary({ status: 'broken', problem: 'no events.jsonl' }) } as RunDetails);
    assert.deepEqual([m.train, m.eval, m.worst, m.settings], [[], [], [], []]);
    assert.equal(m.problem, 'no events.jsonl');
    const junk = runViewModel({ summary: summary(), curves: { train: [[1, 'x'], 'y', [2, 1.5]] as never } } as RunDetails);
    assert.deepEqual(junk.train, [[2, 1.5]]);
  });

  it('aligns series on one step axis for the chart', () => {
    assert.deepEqual(alignSeries([[[0, 3], [10, 2]], [[5, 2.5], [10, 1.9]]]), [[0, 5, 10], [3, null, 2], [null, 2.5, 1.9]]);
    assert.deepEqual(alignSeries([[]]), [[], []]);
  });
});

describe('the comparison model', () => {
  const cmp: RunComparison = {
    a: summary({ name: 'A' }), b: summary({ name: 'B', path: '/ws/.tunelint/runs/B' }),
    metrics: [['eval_loss_after', 1.2, 1.35], ['duration_s', 125, 300]],
    settings_differ: [['learning_rate', 0.0002, 0.0001]],
    lines: [{ line: 1, loss_a: 1, loss_b: 1.1, diff: 0.1 }, { line: 3, loss_a: 2, loss_b: 1.5, diff: -0.5 }, { line: 2, loss_a: 1, loss_b: null, diff: null }],
  };
  it('metrics side by side, differing settings, lines by largest difference first', () => {
    const m = compareRunsModel(cmp);
    assert.equal(m.a, 'A');
    assert.deepEqual(m.metrics, [['eval_loss_after', '1.2', '1.35'], ['duration_s', '125', '300']]);
    assert.deepEqual(m.settings, [['learning_rate', '0.0002', '0.0001']]);
    assert.deepEqual(m.lines.map((l) => [l.line, l.diff]), [[3, '-0.500'], [1, '+0.100'], [2, '–']]);
    assert.equal(m.file, '/ws/validation.jsonl');
  });
});

describe('the pages', () => {
  it('a strict CSP with a nonce; the Run view loads only its bundled script and style', () => {
    const html = runViewHtml('abc123', 'vscode-webview://x', 'https://file+.vscode-resource/dist/runview.js', 'https://file+.vscode-resource/dist/runview.css');
    assert.match(html, /default-src 'none'/);
    assert.match(html, /script-src 'nonce-abc123'/);
    assert.match(html, /<script nonce="abc123" src="https:\/\/file\+\.vscode-resource\/dist\/runview\.js"><\/script>/);
    assert.match(html, /<link rel="stylesheet" href="https:\/\/file\+\.vscode-resource\/dist\/runview\.css">/);
    assert.doesNotMatch(html, /https?:\/\/(?!file\+)/);
    assert.throws(() => runViewHtml('a"b', 'x', 'y', 'z'));
    assert.match(compareRunsHtml('n0nce', 'vscode-webview://x'), /<script nonce="n0nce">/);
  });

  it('the comparison script renders with textContent only and posts line links', () => {
    const posted: unknown[] = [];
    const elements = new Map<string, FakeEl>();
    class FakeEl {
      children: FakeEl[] = [];
      textContent = '';
      className = '';
      attrs: Record<string, string> = {};
      listeners: Record<string, () => void> = {};
      constructor(readonly tag: string) {}
      appendChild(c: FakeEl) { this.children.push(c); return c; }
      removeChild(c: FakeEl) { this.children = this.children.filter((x) => x !== c); }
      get firstChild() { return this.children[0] ?? null; }
      setAttribute(k: string, v: string) { this.attrs[k] = v; }
      addEventListener(k: string, f: () => void) { this.listeners[k] = f; }
      set innerHTML(_: string) { throw new Error('innerHTML used'); }
    }
    const doc = {
      getElementById: (id: string) => { if (!elements.has(id)) { elements.set(id, new FakeEl('div')); } return elements.get(id); },
      createElement: (t: string) => new FakeEl(t),
      body: new FakeEl('body'),
    };
    let onMessage: (e: { data: unknown }) => void = () => undefined;
    const ctx = {
      document: doc, Node: FakeEl,
      window: { addEventListener: (_: string, f: (e: { data: unknown }) => void) => { onMessage = f; } },
      acquireVsCodeApi: () => ({ postMessage: (m: unknown) => posted.push(JSON.parse(JSON.stringify(m))), getState: () => undefined, setState: () => undefined }),
    };
    vm.runInNewContext(COMPARE_RUNS_SCRIPT, ctx);
    assert.deepEqual(posted, [{ type: 'ready' }]);
    const m = compareRunsModel({ a: summary({ name: 'A' }), b: summary({ name: '<b>B</b>' }), metrics: [], settings_differ: [],
      lines: [{ line: 3, loss_a: 1, loss_b: 2, diff: 1 }] });
    onMessage({ data: { type: 'state', state: m } });
    assert.equal(elements.get('title')?.textContent, 'A vs <b>B</b>');
    const rows = elements.get('lines')!.children;
    const link = rows[1].children[0].children[0];
    assert.equal(link.textContent, 'line 3');
    link.listeners.click();
    assert.deepEqual(posted[1], { type: 'open', file: '/ws/validation.jsonl', line: 3 });
    onMessage({ data: { type: 'state', state: { error: 'different validation files' } } });
    assert.equal(elements.get('error')?.textContent, 'different validation files');
    assert.equal(doc.body.attrs['data-status'], 'error');
  });
});

describe('the Runs list, the Run view and the comparison in VS Code', () => {
  let calls: { command: string; args: unknown[] }[];
  let running: RunDetails;
  let answers: Record<string, (args: unknown[]) => unknown>;
  const context = () => ({ subscriptions: [] as { dispose(): unknown }[], extensionUri: Uri.file('/ext') }) as never as { subscriptions: { dispose(): unknown }[]; extensionUri: never };
  const exec = async (command: string, ...args: unknown[]) => {
    calls.push({ command, args });
    const f = answers[command];
    if (!f) {
      throw new Error(`command '${command}' not found`);
    }
    return f(args);
  };

  beforeEach(() => {
    resetAll();
    timing.pollMs = 10;
    calls = [];
    running = details({}, { status: 'running', path: '/ws/.tunelint/runs/r1', name: 'r1' });
    answers = {
      'tunelint.listRuns': () => [summary({ name: 'r1', path: '/ws/.tunelint/runs/r1', started: '2026-12-02T02:00:00Z' }),
        summary({ name: 'r0', path: '/ws/.tunelint/runs/r0', started: '2026-12-01T02:00:00Z' })],
      'tunelint.runDetails': () => running,
    };
  });

  it('lists the runs in a tree; a row opens its Run view', async () => {
    const ctx = context();
    const tree = registerRunsUi(ctx, exec);
    assert.deepEqual(stub.trees.map((t) => t.id), ['tunelint.runs']);
    await tree.refresh();
    const rows = tree.getChildren();
    assert.deepEqual(rows.map((r) => r.label), ['r1', 'r0']);
    assert.equal(rows[0].contextValue, 'tunelintRun');
    assert.deepEqual(rows[0].command?.arguments, ['/ws/.tunelint/runs/r1']);
    ctx.subscriptions.forEach((d) => d.dispose());
  });

  it('no server yet: an empty list, no error', async () => {
    answers = {};
    const ctx = context();
    const tree = registerRunsUi(ctx, exec);
    assert.deepEqual(await tree.refresh(), []);
    assert.equal(stub.shown.length, 0);
    ctx.subscriptions.forEach((d) => d.dispose());
  });

  it('the Run view polls while the run is going, stops when it is done, and opens a worst example at its line', async () => {
    const ctx = context();
    registerRunsUi(ctx, exec);
    await stub.registered.get(SHOW_RUN_VIEW)!('/ws/.tunelint/runs/r1');
    const panel = stub.panels[0];
    assert.equal(panel.viewType, 'tunelint.run');
    assert.match(panel.webview.html, /src="file:\/\/\/ext\/dist\/runview\.js"/);
    assert.deepEqual(panel.options.localResourceRoots, [Uri.joinPath(Uri.file('/ext'), 'dist')]);
    await waitFor(() => calls.filter((c) => c.command === 'tunelint.runDetails').length >= 3);
    assert.deepEqual(calls.find((c) => c.command === 'tunelint.runDetails')?.args, ['/ws/.tunelint/runs/r1']);
    running = details({}, { status: 'completed', path: '/ws/.tunelint/runs/r1', name: 'r1' });
    await waitFor(() => panel.messages.some((m) => (m as { model: { status: string } }).model.status === 'completed'));
    await new Promise((r) => setTimeout(r, 30));
    const polls = calls.filter((c) => c.command === 'tunelint.runDetails').length;
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(calls.filter((c) => c.command === 'tunelint.runDetails').length, polls, 'no polling after the run ended');
    panel.receive({ type: 'open', file: '/ws/validation.jsonl', line: 4 });
    await waitFor(() => stub.opened.length === 1);
    assert.equal(stub.opened[0].uri.fsPath, '/ws/validation.jsonl');
    assert.equal((stub.opened[0].options as { selection: { start: { line: number } } }).selection.start.line, 3, '1-based line 4 is the editor line 3');
    ctx.subscriptions.forEach((d) => d.dispose());
  });

  it('closing the Run view stops polling', async () => {
    const ctx = context();
    registerRunsUi(ctx, exec);
    await stub.registered.get(OPEN_LATEST_RUN)!();
    await waitFor(() => calls.filter((c) => c.command === 'tunelint.runDetails').length >= 2);
    stub.panels[0].close();
    await new Promise((r) => setTimeout(r, 30));
    const polls = calls.filter((c) => c.command === 'tunelint.runDetails').length;
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(calls.filter((c) => c.command === 'tunelint.runDetails').length, polls);
    assert.deepEqual(calls.find((c) => c.command === 'tunelint.runDetails')?.args, ['/ws/.tunelint/runs/r1'], 'the latest run');
    ctx.subscriptions.forEach((d) => d.dispose());
  });

  it('Open run… takes any folder from the picker', async () => {
    const ctx = context();
    registerRunsUi(ctx, exec);
    stub.openDialogAnswer = [Uri.file('/elsewhere/my-run')];
    await stub.registered.get(OPEN_RUN)!();
    await waitFor(() => calls.some((c) => c.command === 'tunelint.runDetails' && c.args[0] === '/elsewhere/my-run'));
    stub.panels.forEach((p) => p.close());
    ctx.subscriptions.forEach((d) => d.dispose());
  });

  it('compares the two runs selected in the list (its context menu)', async () => {
    const ctx = context();
    const tree = registerRunsUi(ctx, exec);
    answers['tunelint.compareRuns'] = () => ({ a: summary({ name: 'r1' }), b: summary({ name: 'r0' }), lines: [] });
    await tree.refresh();
    const [r1, r0] = tree.getChildren();
    await stub.registered.get(COMPARE_TWO_RUNS)!(r1, [r1, r0]);
    assert.deepEqual(calls.find((c) => c.command === 'tunelint.compareRuns')?.args, ['/ws/.tunelint/runs/r1', '/ws/.tunelint/runs/r0']);
    assert.equal(stub.quickPicks.length, 0, 'no pick needed');
    ctx.subscriptions.forEach((d) => d.dispose());
  });

  it('compares two runs picked from the list, and shows a refusal as an error', async () => {
    const ctx = context();
    registerRunsUi(ctx, exec);
    answers['tunelint.compareRuns'] = () => ({ a: summary({ name: 'r1' }), b: summary({ name: 'r0' }), metrics: [], settings_differ: [],
      lines: [{ line: 0, loss_a: 1, loss_b: 2, diff: 1 }] });
    stub.quickPickAnswers = ['r1', 'r0'];
    const model = await stub.registered.get(COMPARE_TWO_RUNS)!();
    assert.deepEqual(calls.find((c) => c.command === 'tunelint.compareRuns')?.args, ['/ws/.tunelint/runs/r1', '/ws/.tunelint/runs/r0']);
    assert.deepEqual(stub.quickPicks[1].items.map((i) => i.label), ['r0'], 'the second pick leaves out the first');
    assert.equal((model as { lines: unknown[] }).lines.length, 1);
    const panel = stub.panels.find((p) => p.viewType === 'tunelint.compareRuns')!;
    assert.ok(panel);
    answers['tunelint.compareRuns'] = () => { throw new Error('the runs were evaluated on different validation files'); };
    await stub.registered.get(COMPARE_TWO_RUNS)!('/ws/.tunelint/runs/r1', '/ws/.tunelint/runs/r0');
    assert.match(stub.shown.at(-1)!.message, /cannot compare the runs: the runs were evaluated on different validation files/);
    assert.equal(stub.shown.at(-1)!.kind, 'error');
    assert.deepEqual(panel.messages.at(-1), { type: 'state', state: { error: 'the runs were evaluated on different validation files' } });
    ctx.subscriptions.forEach((d) => d.dispose());
  });
});
