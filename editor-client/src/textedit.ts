/* Edit message as text in VS Code: the server's `tunelint.editText` answer (the value unescaped
 * and a token naming where it is) opened as an ordinary editor tab, a markdown (or, for tool-call
 * arguments, JSON) file of the `tunelint-text:` file system; saving it sends
 * `tunelint.writeText` [token, text], and the server writes the value back into its JSONL line
 * with `workspace/applyEdit` (so undo in the dataset undoes it). A refusal (the line changed
 * there meanwhile, arguments that are not JSON) fails the save with the server's reason; the
 * text stays in its tab. */

import * as vscode from 'vscode';

export const TEXT_SCHEME = 'tunelint-text';
export const EDIT_TEXT_COMMAND = 'tunelint.editText';
export const WRITE_TEXT_COMMAND = 'tunelint.writeText';

export interface Opened {
  text: string;
  token: { uri?: string; lineId?: number; path?: unknown[] } & Record<string, unknown>;
  kind: string;
  language: string;
  title: string;
}

interface Entry extends Opened {
  mtime: number;
}

export type Exec = (command: string, ...args: unknown[]) => Promise<unknown>;

function same(a: Opened['token'], b: Opened['token']): boolean {
  return a.uri === b.uri && a.lineId === b.lineId && JSON.stringify(a.path) === JSON.stringify(b.path);
}

/** The opened values by key (no `vscode` use: tested in test/preview.test.ts). */
export class TextStore {
  readonly entries = new Map<string, Entry>();
  private next = 1;

  constructor(private readonly exec: Exec) {}

  /** A `tunelint.editText` answer; its key (the same value opened again reuses its key). */
  add(result: unknown): string {
    const r = (result ?? {}) as Partial<Opened>;
    if (typeof r.text !== 'string' || !r.token || typeof r.token !== 'object') {
      throw new Error('the server did not answer the message text');
    }
    const entry: Entry = {
      text: r.text, token: r.token, kind: String(r.kind ?? 'text'), language: String(r.language ?? 'markdown'),
      title: String(r.title ?? 'message'), mtime: Date.now(),
    };
    for (const [key, e] of this.entries) {
      if (same(e.token, entry.token)) {
        this.entries.set(key, { ...entry, mtime: Math.max(Date.now(), e.mtime + 1) });
        return key;
      }
    }
    const key = String(this.next++);
    this.entries.set(key, entry);
    return key;
  }

  /** The tab's path: `/<key>/<title>.md` (`.json` for arguments). */
  path(key: string): string {
    const e = this.entries.get(key)!;
    const name = e.title.replace(/[\\/:*?"<>|]+/g, ' ').trim() || 'message';
    return `/${key}/${name}.${e.kind === 'arguments' ? 'json' : 'md'}`;
  }

  keyOf(path: string): string | undefined {
    const key = path.split('/')[1];
    return key !== undefined && this.entries.has(key) ? key : undefined;
  }

  /** Saving the tab: the server writes the text back, or says why not (thrown). */
  async write(key: string, text: string): Promise<void> {
    const e = this.entries.get(key);
    if (!e) {
      throw new Error('this message is no longer open for editing: open it again from its line');
    }
    const result = (await this.exec(WRITE_TEXT_COMMAND, e.token, text)) as { applied?: boolean; token?: Opened['token'] } | undefined;
    if (!result || !result.applied || !result.token) {
      throw new Error('the server did not write the message back');
    }
    e.token = result.token;
    e.text = text;
    e.mtime = Math.max(Date.now(), e.mtime + 1);
  }
}

/** The `tunelint-text:` file system over a TextStore. */
export class TextFileSystem implements vscode.FileSystemProvider {
  private readonly changes = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.changes.event;

  constructor(readonly store: TextStore) {}

  /** Opens a `tunelint.editText` answer in a tab beside the dataset. */
  async open(result: unknown): Promise<vscode.Uri> {
    const key = this.store.add(result);
    const uri = vscode.Uri.from({ scheme: TEXT_SCHEME, path: this.store.path(key) });
    this.changes.fire([{ type: vscode.FileChangeType.Changed, uri }]); // opened again: its new text
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: false });
    return uri;
  }

  private entry(uri: vscode.Uri) {
    const key = this.store.keyOf(uri.path);
    if (key === undefined) {
      throw vscode.FileSystemError.FileNotFound(uri);
    }
    return { key, entry: this.store.entries.get(key)! };
  }

  watch(): vscode.Disposable {
    return new vscode.Disposable(() => undefined);
  }

  stat(uri: vscode.Uri): vscode.FileStat {
    const { entry } = this.entry(uri);
    return { type: vscode.FileType.File, ctime: entry.mtime, mtime: entry.mtime, size: Buffer.byteLength(entry.text) };
  }

  readFile(uri: vscode.Uri): Uint8Array {
    return Buffer.from(this.entry(uri).entry.text, 'utf8');
  }

  async writeFile(uri: vscode.Uri, content: Uint8Array): Promise<void> {
    const { key } = this.entry(uri);
    try {
      await this.store.write(key, Buffer.from(content).toString('utf8'));
    } catch (e) {
      throw vscode.FileSystemError.NoPermissions(`tunelint: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.changes.fire([{ type: vscode.FileChangeType.Changed, uri }]);
  }

  readDirectory(): [string, vscode.FileType][] {
    return [];
  }

  createDirectory(): void {
    throw vscode.FileSystemError.NoPermissions('tunelint: messages open one at a time, from their line');
  }

  delete(): void {
    throw vscode.FileSystemError.NoPermissions('tunelint: close the tab instead');
  }

  rename(): void {
    throw vscode.FileSystemError.NoPermissions('tunelint: a message cannot be renamed');
  }
}
