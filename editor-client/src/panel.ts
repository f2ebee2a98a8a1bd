/* The side-by-side compare panel in VS Code: one webview panel, reused for every compare, fed
 * by src/compare.ts's model (the server's `tunelint/compareUpdate` notifications and the
 * `tunelint.compare` result). */

import * as vscode from 'vscode';

import { CompareModel, CompareState, CompareUpdate, makeNonce, webviewHtml } from './compare';

export const PANEL_VIEW_TYPE = 'tunelint.compare';

export class ComparePanel implements vscode.Disposable {
  readonly model = new CompareModel();
  panel?: vscode.WebviewPanel;
  /** The last messages posted to the webview (for the tests). */
  posted: unknown[] = [];
  private subscriptions: vscode.Disposable[] = [];

  /** Shows the panel (created once; revealed after), beside the editor, keeping the focus. */
  show(): vscode.WebviewPanel {
    if (this.panel) {
      this.panel.reveal(undefined, true);
      return this.panel;
    }
    const panel = vscode.window.createWebviewPanel(
      PANEL_VIEW_TYPE,
      'tunelint: compare',
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      { enableScripts: true, localResourceRoots: [], retainContextWhenHidden: true, enableFindWidget: true },
    );
    panel.webview.html = webviewHtml(makeNonce(), panel.webview.cspSource);
    this.subscriptions.push(
      panel.webview.onDidReceiveMessage((m: { type?: string }) => {
        if (m && m.type === 'ready') {
          void this.post();
        }
      }),
      panel.onDidDispose(() => {
        this.panel = undefined;
        this.subscriptions.splice(0).forEach((d) => d.dispose());
      }),
    );
    this.panel = panel;
    return panel;
  }

  /** A compare was asked for: show the panel, empty, waiting. */
  begin(uri: string, line: number): void {
    this.model.begin(uri, line);
    this.show();
    this.render();
  }

  /** A `tunelint/compareUpdate` notification. */
  update(params: CompareUpdate): void {
    if (this.model.update(params)) {
      if (!this.panel) {
        this.show(); // a compare started elsewhere (the server's code action through another path)
      }
      this.render();
    }
  }

  result(result: unknown): CompareState | undefined {
    const s = this.model.result(result);
    this.show();
    this.render();
    return s;
  }

  fail(message: string): void {
    this.model.fail(message);
    if (this.panel) {
      this.render();
    }
  }

  private render(): void {
    const s = this.model.state;
    if (this.panel) {
      this.panel.title = s?.run ? `tunelint: compare (${s.run})` : 'tunelint: compare';
    }
    void this.post();
  }

  private async post(): Promise<void> {
    const message = { type: 'state', state: this.model.state ?? null };
    this.posted.push(message);
    if (this.posted.length > 20) {
      this.posted.shift();
    }
    try {
      await this.panel?.webview.postMessage(message);
    } catch {
      // the panel went away meanwhile
    }
  }

  dispose(): void {
    this.panel?.dispose();
    this.panel = undefined;
    this.subscriptions.splice(0).forEach((d) => d.dispose());
  }
}
