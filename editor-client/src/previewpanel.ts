/* The Preview panel in VS Code: one webview beside the editor, following the cursor's line in
 * JSONL editors (src/preview.ts has its model and page), opened by the `tunelint.showPreview`
 * command, the lens on a dataset's first line, or on its own on JSONL files when
 * `tunelint.preview.openAutomatically` is on. Its Edit buttons run `tunelint.editText`
 * (src/textedit.ts opens the tab). */

import * as vscode from 'vscode';

import { makeNonce } from './compare';
import { PREVIEW_REQUEST, PreviewFollower, previewHtml, Requester } from './preview';
import { EDIT_TEXT_COMMAND, TEXT_SCHEME, TextFileSystem, TextStore } from './textedit';

export const PREVIEW_VIEW_TYPE = 'tunelint.preview';
export const SHOW_PREVIEW_COMMAND = 'tunelint.showPreview';
export const AUTO_SETTING = 'preview.openAutomatically';

function isJsonl(doc: vscode.TextDocument | undefined): doc is vscode.TextDocument {
  return doc !== undefined && (doc.languageId === 'jsonl' || doc.uri.path.endsWith('.jsonl')) && doc.uri.scheme !== 'tunelint-text';
}

export class PreviewPanel implements vscode.Disposable {
  panel?: vscode.WebviewPanel;
  readonly follower: PreviewFollower;
  /** The messages posted to the webview (the last 20, for the tests). */
  posted: unknown[] = [];
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly panelSubscriptions: vscode.Disposable[] = [];

  constructor(request: Requester, private readonly editText: (uri: string, line: number, path: unknown[]) => Promise<unknown>) {
    this.follower = new PreviewFollower(request, (state) => void this.post({ type: 'state', state }));
    this.subscriptions.push(
      vscode.window.onDidChangeTextEditorSelection((e) => {
        if (this.panel?.visible && isJsonl(e.textEditor.document)) {
          this.follower.follow(e.textEditor.document.uri.toString(), e.selections[0]?.active.line ?? 0);
        }
      }),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (this.panel?.visible && e.contentChanges.length) { // a hidden panel asks when it shows again
          this.follower.changed(e.document.uri.toString());
        }
      }),
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        if (!editor || !isJsonl(editor.document)) {
          return;
        }
        if (!this.panel && vscode.workspace.getConfiguration('tunelint').get<boolean>(AUTO_SETTING, false)) {
          this.show(editor);
        } else if (this.panel) {
          this.follower.follow(editor.document.uri.toString(), editor.selection.active.line);
        }
      }),
    );
  }

  /** Shows the panel beside the editor, keeping the focus in it, and follows `editor`'s line. */
  show(editor: vscode.TextEditor | undefined = vscode.window.activeTextEditor, line?: number): void {
    if (!this.panel) {
      const panel = vscode.window.createWebviewPanel(
        PREVIEW_VIEW_TYPE,
        'tunelint: preview',
        { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
        { enableScripts: true, localResourceRoots: [], retainContextWhenHidden: true, enableFindWidget: true },
      );
      panel.webview.html = previewHtml(makeNonce(), panel.webview.cspSource);
      this.panelSubscriptions.push(
        panel.webview.onDidReceiveMessage((m: { type?: string; path?: unknown }) => this.received(m)),
        panel.onDidDispose(() => {
          this.panel = undefined;
          this.panelSubscriptions.splice(0).forEach((d) => d.dispose());
        }),
        panel.onDidChangeViewState(() => {
          const editor = vscode.window.activeTextEditor;
          if (panel.visible && editor && isJsonl(editor.document)) {
            this.follower.follow(editor.document.uri.toString(), editor.selection.active.line, true);
          }
        }),
      );
      this.panel = panel;
    } else {
      this.panel.reveal(undefined, true);
    }
    if (editor && isJsonl(editor.document)) {
      this.follower.follow(editor.document.uri.toString(), line ?? editor.selection.active.line, true);
    }
  }

  private received(m: { type?: string; path?: unknown; tab?: unknown }): void {
    if (!m || typeof m !== 'object') {
      return;
    }
    if (m.type === 'ready' && this.follower.state) {
      void this.post({ type: 'state', state: this.follower.state });
    } else if (m.type === 'edit' && Array.isArray(m.path) && this.follower.uri !== undefined) {
      void this.editText(this.follower.uri, this.follower.line, m.path);
    }
  }

  /** Asks for the followed line again (the server restarted). */
  refresh(): void {
    if (this.panel && this.follower.uri !== undefined) {
      this.follower.follow(this.follower.uri, this.follower.line, true);
    }
  }

  /** Shows the "as the model sees it" tab (`model`) or the conversation (`chat`). */
  selectTab(tab: 'chat' | 'model'): void {
    void this.post({ type: 'tab', tab });
  }

  private async post(message: unknown): Promise<void> {
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
    this.follower.dispose();
    this.panel?.dispose();
    this.subscriptions.splice(0).forEach((d) => d.dispose());
  }
}

/** A lens on a dataset's first line that opens the panel. */
export class PreviewLens implements vscode.CodeLensProvider {
  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    if (!isJsonl(doc) || doc.lineCount === 0) {
      return [];
    }
    const at = new vscode.Range(new vscode.Position(0, 0), new vscode.Position(0, 0));
    return [new vscode.CodeLens(at, { title: '$(open-preview) Preview examples', command: SHOW_PREVIEW_COMMAND, arguments: [] })];
  }
}

/** What registerPreview needs of the controller: a request to the running server, and a hook on a
 * server command's result. */
export interface PreviewHost {
  request(method: string, params: unknown): Promise<unknown>;
  readonly resultHandlers: Map<string, (result: unknown) => unknown>;
  /** The server is ready (again, after a restart): the panel asks again. */
  onReady(listener: () => void): vscode.Disposable;
}

/** The Preview panel, its command and lens, and the `tunelint-text:` tabs of Edit message as text. */
export function registerPreview(context: { subscriptions: vscode.Disposable[] }, host: PreviewHost): PreviewPanel {
  const exec = (command: string, ...args: unknown[]) => Promise.resolve(vscode.commands.executeCommand(command, ...args));
  const texts = new TextFileSystem(new TextStore(exec));
  host.resultHandlers.set(EDIT_TEXT_COMMAND, (result) => texts.open(result));
  const panel = new PreviewPanel(
    (uri, line) => host.request(PREVIEW_REQUEST, { uri, line }),
    (uri, line, path) => exec(EDIT_TEXT_COMMAND, uri, line, path),
  );
  context.subscriptions.push(
    panel,
    host.onReady(() => panel.refresh()),
    vscode.workspace.registerFileSystemProvider(TEXT_SCHEME, texts, { isCaseSensitive: true }),
    vscode.languages.registerCodeLensProvider([{ language: 'jsonl' }, { pattern: '**/*.jsonl' }], new PreviewLens()),
    vscode.commands.registerCommand(SHOW_PREVIEW_COMMAND, (uri?: unknown, line?: unknown, tab?: unknown) => {
      const editor = vscode.window.activeTextEditor;
      const wanted = typeof uri === 'string' ? uri : uri instanceof vscode.Uri ? uri.toString() : undefined;
      const match = editor && (wanted === undefined || editor.document.uri.toString() === wanted) ? editor : undefined;
      panel.show(match, typeof line === 'number' ? line : undefined);
      if (tab === 'model' || tab === 'chat') {
        panel.selectTab(tab);
      }
    }),
  );
  const active = vscode.window.activeTextEditor;
  if (active && isJsonl(active.document) && vscode.workspace.getConfiguration('tunelint').get<boolean>(AUTO_SETTING, false)) {
    panel.show(active);
  }
  return panel;
}
