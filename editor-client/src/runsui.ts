/* The Runs list (a tree view in the explorer), the Run view (a webview panel per run that polls
 * `tunelint.runDetails` about every second while the run is going) and the run comparison (a
 * webview fed by `tunelint.compareRuns`). The data comes from the server's commands (through the
 * language client, which registers them as VS Code commands); the models are in src/runs.ts. */

import * as vscode from 'vscode';

import { makeNonce } from './compare';
import {
  COMPARE_RUNS, compareRunsHtml, detailsSummary, compareRunsModel, latestRun, LIST_RUNS, RUN_DETAILS, RunComparison, RunDetails,
  runTreeItem, runViewHtml, runViewModel, RunSummary,
} from './runs';

export const RUNS_VIEW = 'tunelint.runs';
export const OPEN_RUN = 'tunelint.openRun';
export const OPEN_LATEST_RUN = 'tunelint.openLatestRun';
export const SHOW_RUN_VIEW = 'tunelint.showRunView';
export const COMPARE_TWO_RUNS = 'tunelint.compareTwoRuns';
export const REFRESH_RUNS = 'tunelint.refreshRuns';

/** How often a running run's view asks for its details (ms); the tests shorten it. */
export const timing = { pollMs: 1000, listMs: 5000 };

export type Exec = (command: string, ...args: unknown[]) => Promise<unknown>;

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

class RunItem extends vscode.TreeItem {
  constructor(readonly run: RunSummary) {
    const v = runTreeItem(run);
    super(v.label, vscode.TreeItemCollapsibleState.None);
    this.description = v.description;
    this.tooltip = v.tooltip;
    this.iconPath = new vscode.ThemeIcon(v.icon);
    this.contextValue = 'tunelintRun';
    this.id = run.path;
    this.command = { command: SHOW_RUN_VIEW, title: 'Open run', arguments: [run.path] };
  }
}

export class RunsTree implements vscode.TreeDataProvider<RunItem> {
  runs: RunSummary[] = [];
  extra: string[] = [];
  private emitter = new vscode.EventEmitter<RunItem | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private signature = '';

  constructor(private readonly exec: Exec) {}

  async refresh(): Promise<RunSummary[]> {
    let runs: RunSummary[] = [];
    try {
      const r = await this.exec(LIST_RUNS);
      runs = Array.isArray(r) ? (r as RunSummary[]) : [];
    } catch {
      return this.runs; // the server is not up yet
    }
    for (const p of this.extra) {
      if (!runs.some((r) => r.path === p)) {
        try {
          const summary = detailsSummary((await this.exec(RUN_DETAILS, p)) as RunDetails | undefined);
          if (summary) {
            runs.push(summary);
          }
        } catch {
          // not a run folder (any more)
        }
      }
    }
    const sig = JSON.stringify(runs);
    this.runs = runs;
    if (sig !== this.signature) {
      this.signature = sig;
      this.emitter.fire(undefined);
    }
    return runs;
  }

  getTreeItem(e: RunItem): vscode.TreeItem {
    return e;
  }

  getChildren(e?: RunItem): RunItem[] {
    return e ? [] : this.runs.map((r) => new RunItem(r));
  }
}

/** One Run view panel, for one run folder. */
export class RunView implements vscode.Disposable {
  panel: vscode.WebviewPanel;
  details?: RunDetails;
  private timer?: ReturnType<typeof setTimeout>;
  private disposed = false;
  polls = 0;

  constructor(readonly run: string, private readonly exec: Exec, extensionUri: vscode.Uri, private readonly onClosed: () => void,
    private readonly onStatus: (status: string) => void) {
    const dist = vscode.Uri.joinPath(extensionUri, 'dist');
    this.panel = vscode.window.createWebviewPanel('tunelint.run', `Run ${run.split(/[\\/]/).pop()}`,
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      { enableScripts: true, localResourceRoots: [dist], retainContextWhenHidden: true, enableFindWidget: true });
    const w = this.panel.webview;
    w.html = runViewHtml(makeNonce(), w.cspSource, w.asWebviewUri(vscode.Uri.joinPath(dist, 'runview.js')).toString(),
      w.asWebviewUri(vscode.Uri.joinPath(dist, 'runview.css')).toString());
    w.onDidReceiveMessage((m: { type?: string; file?: string; line?: number }) => {
      if (m?.type === 'ready') {
        void this.post();
      } else if (m?.type === 'open' && typeof m.file === 'string') {
        void openLine(m.file, Number(m.line) || 0);
      }
    });
    this.panel.onDidDispose(() => this.dispose());
    void this.poll();
  }

  async poll(): Promise<void> {
    if (this.disposed) {
      return;
    }
    this.polls += 1;
    let status = detailsSummary(this.details)?.status;
    try {
      const d = (await this.exec(RUN_DETAILS, this.run)) as RunDetails | undefined;
      const summary = detailsSummary(d);
      if (d && summary) {
        const before = status;
        this.details = d;
        status = summary.status;
        this.panel.title = `Run ${summary.name}`;
        void this.post();
        if (before !== undefined && before !== status) {
          this.onStatus(String(status));
        }
      }
    } catch (e) {
      if (this.polls === 1) {
        void vscode.window.showErrorMessage(`tunelint: cannot read the run ${this.run}: ${errorText(e)}`);
      }
    }
    if (!this.disposed && (status === undefined || status === 'running')) {
      this.timer = setTimeout(() => void this.poll(), timing.pollMs);
      this.timer.unref?.();
    }
  }

  async post(): Promise<void> {
    if (!this.details) {
      return;
    }
    try {
      await this.panel.webview.postMessage({ type: 'state', model: runViewModel(this.details) });
    } catch {
      // closed meanwhile
    }
  }

  dispose(): void {
    if (this.disposed) {
      return;
    }
    this.disposed = true;
    if (this.timer) {
      clearTimeout(this.timer);
    }
    this.onClosed();
    this.panel.dispose();
  }
}

/** Opens `file` (a path or URI) at `line` (1-based, as the run files count). */
export async function openLine(file: string, line: number): Promise<void> {
  try {
    const uri = /^[a-z][a-z0-9+.-]+:\/\//i.test(file) ? vscode.Uri.parse(file) : vscode.Uri.file(file);
    const pos = new vscode.Position(Math.max(0, line - 1), 0);
    await vscode.window.showTextDocument(uri, { selection: new vscode.Range(pos, pos), viewColumn: vscode.ViewColumn.One });
  } catch (e) {
    void vscode.window.showErrorMessage(`tunelint: cannot open ${file}: ${errorText(e)}`);
  }
}

/** The comparison webview (one, reused). */
export class CompareRunsView implements vscode.Disposable {
  panel?: vscode.WebviewPanel;
  state: unknown;

  show(state: unknown): void {
    this.state = state;
    if (!this.panel) {
      const panel = vscode.window.createWebviewPanel('tunelint.compareRuns', 'tunelint: compare runs', vscode.ViewColumn.Active,
        { enableScripts: true, localResourceRoots: [], retainContextWhenHidden: true, enableFindWidget: true });
      panel.webview.html = compareRunsHtml(makeNonce(), panel.webview.cspSource);
      panel.webview.onDidReceiveMessage((m: { type?: string; file?: string; line?: number }) => {
        if (m?.type === 'ready') {
          void panel.webview.postMessage({ type: 'state', state: this.state });
        } else if (m?.type === 'open' && typeof m.file === 'string') {
          void openLine(m.file, Number(m.line) || 0);
        }
      });
      panel.onDidDispose(() => {
        this.panel = undefined;
      });
      this.panel = panel;
    } else {
      this.panel.reveal();
    }
    void this.panel.webview.postMessage({ type: 'state', state });
  }

  dispose(): void {
    this.panel?.dispose();
  }
}

/** Registers the Runs list, the Run view and the comparison. `exec` runs a server command. */
export function registerRunsUi(context: { subscriptions: vscode.Disposable[]; extensionUri: vscode.Uri }, exec: Exec): RunsTree {
  const tree = new RunsTree(exec);
  const views = new Map<string, RunView>();
  const compare = new CompareRunsView();
  const open = async (run: string) => {
    const existing = views.get(run);
    if (existing) {
      existing.panel.reveal();
      return existing;
    }
    const v = new RunView(run, exec, context.extensionUri, () => views.delete(run), () => void tree.refresh());
    views.set(run, v);
    return v;
  };
  const pickRun = async (title: string, exclude?: string): Promise<RunSummary | undefined> => {
    const runs = (await tree.refresh()).filter((r) => r.path !== exclude);
    if (runs.length === 0) {
      void vscode.window.showWarningMessage('tunelint: no runs found under .tunelint/runs.');
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(runs.map((r) => {
      const v = runTreeItem(r);
      return { label: v.label, description: v.description, run: r };
    }), { title, matchOnDescription: true });
    return picked?.run;
  };
  const argPath = (a: unknown): string | undefined => {
    if (typeof a === 'string') {
      return a;
    }
    if (a && typeof a === 'object' && 'run' in a) {
      return (a as RunItem).run.path;
    }
    return undefined;
  };
  const treeView = vscode.window.createTreeView(RUNS_VIEW, { treeDataProvider: tree, showCollapseAll: false, canSelectMany: true });
  const timer = setInterval(() => void tree.refresh(), timing.listMs);
  timer.unref?.();
  context.subscriptions.push(
    treeView, compare,
    { dispose: () => clearInterval(timer) },
    { dispose: () => [...views.values()].forEach((v) => v.dispose()) },
    vscode.commands.registerCommand(REFRESH_RUNS, () => tree.refresh()),
    vscode.commands.registerCommand(SHOW_RUN_VIEW, async (a?: unknown) => {
      const p = argPath(a) ?? (await pickRun('Open a run'))?.path;
      return p ? open(p) : undefined;
    }),
    vscode.commands.registerCommand(OPEN_LATEST_RUN, async () => {
      const r = latestRun(await tree.refresh());
      if (!r) {
        void vscode.window.showWarningMessage('tunelint: no runs found under .tunelint/runs.');
        return undefined;
      }
      return open(r.path);
    }),
    vscode.commands.registerCommand(OPEN_RUN, async (a?: unknown) => {
      let p = argPath(a);
      if (!p) {
        const picked = await vscode.window.showOpenDialog({ canSelectFiles: false, canSelectFolders: true, canSelectMany: false,
          openLabel: 'Open run', defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri });
        p = picked?.[0]?.fsPath;
      }
      if (!p) {
        return undefined;
      }
      if (!tree.extra.includes(p)) {
        tree.extra.push(p);
      }
      void tree.refresh();
      return open(p);
    }),
    vscode.commands.registerCommand(COMPARE_TWO_RUNS, async (a?: unknown, b?: unknown) => {
      let pa = argPath(a);
      let pb = argPath(b);
      if (Array.isArray(b) && b.length >= 2) { // the tree's context menu with two selected
        pa = argPath(b[0]);
        pb = argPath(b[1]);
      }
      pa = pa ?? (await pickRun('Compare two runs: the first run'))?.path;
      if (!pa) {
        return undefined;
      }
      pb = pb && pb !== pa ? pb : (await pickRun(`Compare ${pa.split(/[\\/]/).pop()} with…`, pa))?.path;
      if (!pb) {
        return undefined;
      }
      let result: unknown;
      try {
        result = await exec(COMPARE_RUNS, pa, pb);
      } catch (e) {
        const message = errorText(e);
        void vscode.window.showErrorMessage(`tunelint: cannot compare the runs: ${message}`);
        compare.show({ error: message });
        return undefined;
      }
      const r = result as RunComparison & { error?: unknown; refused?: unknown; message?: unknown };
      const refusal = r && typeof r === 'object' && !r.lines && (r.error ?? r.refused ?? r.message);
      if (!r || typeof r !== 'object' || refusal) {
        const message = typeof refusal === 'string' ? refusal : 'the server did not compare them';
        void vscode.window.showErrorMessage(`tunelint: cannot compare the runs: ${message}`);
        compare.show({ error: message });
        return undefined;
      }
      const model = compareRunsModel(r);
      compare.show(model);
      return model;
    }),
  );
  void tree.refresh();
  return tree;
}
