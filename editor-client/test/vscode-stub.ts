/* A small fake of the `vscode` module: just what src/ uses, with knobs for the tests (settings at
 * each level, workspace trust, the active editor, answers to notifications) and a record of
 * what the extension did (messages shown, context keys set, commands run). test/register.ts
 * makes `require('vscode')` load this file. Setting defaults come from package.json, so the
 * tests also check the contributed configuration. */

import * as fs from 'fs';
import * as path from 'path';

type Listener<T> = (e: T) => unknown;

export class Disposable {
  constructor(private readonly fn: () => void = () => undefined) {}
  static from(...ds: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => ds.forEach((d) => d.dispose()));
  }
  dispose(): void {
    this.fn();
  }
}

export class EventEmitter<T> {
  private listeners = new Set<Listener<T>>();
  event = (listener: Listener<T>): Disposable => {
    this.listeners.add(listener);
    return new Disposable(() => this.listeners.delete(listener));
  };
  fire(e: T): void {
    for (const l of [...this.listeners]) {
      l(e);
    }
  }
  get size(): number {
    return this.listeners.size;
  }
  dispose(): void {
    this.listeners.clear();
  }
}

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly authority: string,
    readonly path: string,
  ) {}
  static file(p: string): Uri {
    return new Uri('file', '', p.replace(/\\/g, '/'));
  }
  static parse(s: string): Uri {
    const m = /^([a-zA-Z][\w+.-]*):(?:\/\/([^/]*))?(.*)$/.exec(s);
    if (!m) {
      throw new Error(`bad uri ${s}`);
    }
    return new Uri(m[1], m[2] ?? '', decodeURIComponent(m[3]));
  }
  get fsPath(): string {
    return this.path;
  }
  static from(c: { scheme: string; authority?: string; path?: string }): Uri {
    return new Uri(c.scheme, c.authority ?? '', c.path ?? '');
  }
  static joinPath(base: Uri, ...parts: string[]): Uri {
    return new Uri(base.scheme, base.authority, [base.path.replace(/\/$/, ''), ...parts].join('/'));
  }
  toString(): string {
    return this.scheme === 'file' ? `file://${encodeURI(this.path)}` : `${this.scheme}:${this.path}`;
  }
}

export enum TreeItemCollapsibleState {
  None = 0,
  Collapsed = 1,
  Expanded = 2,
}

export class TreeItem {
  description?: string;
  tooltip?: string;
  iconPath?: unknown;
  contextValue?: string;
  id?: string;
  command?: { command: string; title: string; arguments?: unknown[] };
  constructor(readonly label: string, readonly collapsibleState: TreeItemCollapsibleState = TreeItemCollapsibleState.None) {}
}

export class ThemeIcon {
  constructor(readonly id: string) {}
}

export class Position {
  constructor(readonly line: number, readonly character: number) {}
}

export class Range {
  constructor(readonly start: Position, readonly end: Position) {}
}

export enum StatusBarAlignment {
  Left = 1,
  Right = 2,
}

export class ThemeColor {
  constructor(readonly id: string) {}
}

export enum ViewColumn {
  Active = -1,
  Beside = -2,
  One = 1,
  Two = 2,
}

/** A webview panel: records its html, title and the messages posted to it; `receive` plays the
 * page posting a message; `close` the user closing it. */
export class FakeWebviewPanel {
  title: string;
  visible = true;
  revealed = 0;
  disposed = false;
  readonly messages: unknown[] = [];
  private readonly received = new EventEmitter<unknown>();
  private readonly disposedEmitter = new EventEmitter<void>();
  readonly webview = {
    html: '',
    cspSource: 'vscode-webview://fake',
    options: {} as Record<string, unknown>,
    postMessage: (m: unknown): Promise<boolean> => {
      this.messages.push(m);
      return Promise.resolve(!this.disposed);
    },
    onDidReceiveMessage: (l: Listener<unknown>) => this.received.event(l),
    asWebviewUri: (u: Uri) => u,
  };
  constructor(
    readonly viewType: string,
    title: string,
    readonly showOptions: unknown,
    readonly options: Record<string, unknown>,
  ) {
    this.title = title;
    this.webview.options = options;
  }
  reveal(): void {
    this.revealed++;
  }
  onDidDispose(l: Listener<void>): Disposable {
    return this.disposedEmitter.event(l);
  }
  private readonly viewState = new EventEmitter<unknown>();
  onDidChangeViewState(l: Listener<unknown>): Disposable {
    return this.viewState.event(l);
  }
  /** The user showing or hiding the panel (another tab of its group). */
  setVisible(visible: boolean): void {
    this.visible = visible;
    this.viewState.fire({ webviewPanel: this });
  }
  receive(m: unknown): void {
    this.received.fire(m);
  }
  dispose(): void {
    if (!this.disposed) {
      this.disposed = true;
      this.disposedEmitter.fire();
    }
  }
  close(): void {
    this.dispose();
  }
}

export enum ProgressLocation {
  SourceControl = 1,
  Window = 10,
  Notification = 15,
}

export enum ConfigurationTarget {
  Global = 1,
  Workspace = 2,
  WorkspaceFolder = 3,
}

// -- state the tests drive and inspect ---------------------------------------------------------

export type Level = 'global' | 'workspace' | 'workspaceFolder';

function packageDefaults(): Record<string, unknown> {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries<{ default?: unknown }>(pkg.contributes.configuration.properties)) {
    out[k] = v.default;
  }
  return out;
}

export interface Shown {
  kind: 'error' | 'warning' | 'info';
  message: string;
  items: string[];
}

export interface FakeStatusBarItem {
  id: string;
  text: string;
  tooltip?: string;
  name?: string;
  command?: string;
  backgroundColor?: ThemeColor;
  visible: boolean;
  show(): void;
  hide(): void;
  dispose(): void;
}

export interface FakeOutputChannel {
  name: string;
  lines: string[];
  shown: number;
  append(s: string): void;
  appendLine(s: string): void;
  show(preserveFocus?: boolean): void;
  clear(): void;
  dispose(): void;
  hide(): void;
  replace(s: string): void;
}

export const stub = {
  defaults: packageDefaults(),
  levels: { global: {}, workspace: {}, workspaceFolder: {} } as Record<Level, Record<string, unknown>>,
  trusted: true,
  folders: [] as string[],
  shown: [] as Shown[],
  /** The answer the next notifications give (the button clicked), by message kind. */
  answer: undefined as string | undefined,
  openDialogAnswer: undefined as Uri[] | undefined,
  contexts: new Map<string, unknown>(),
  executed: [] as { command: string; args: unknown[] }[],
  registered: new Map<string, (...args: unknown[]) => unknown>(),
  clipboard: '',
  statusItems: [] as FakeStatusBarItem[],
  panels: [] as FakeWebviewPanel[],
  /** Tree views created (window.createTreeView), quick picks shown and their answers (each a label,
   * taken in turn), documents opened (window.showTextDocument). */
  trees: [] as { id: string; options: unknown }[],
  quickPicks: [] as { items: { label: string }[]; options: unknown }[],
  quickPickAnswers: [] as string[],
  opened: [] as { uri: Uri; options: unknown }[],
  /** Titles of the progress notifications shown (window.withProgress). */
  progress: [] as string[],
  channels: [] as FakeOutputChannel[],
  extensions: new Map<string, unknown>(),
  activeTextEditor: undefined as { document: { uri: Uri; languageId: string }; selection?: { active: { line: number; character: number } } } | undefined,
  configEmitter: new EventEmitter<{ affectsConfiguration(section: string): boolean }>(),
  trustEmitter: new EventEmitter<void>(),

  reset(): void {
    this.levels = { global: {}, workspace: {}, workspaceFolder: {} };
    this.trusted = true;
    this.folders = [];
    this.shown = [];
    this.answer = undefined;
    this.openDialogAnswer = undefined;
    this.contexts = new Map();
    this.executed = [];
    this.registered = new Map();
    this.clipboard = '';
    this.statusItems = [];
    this.panels = [];
    this.trees = [];
    this.quickPicks = [];
    this.quickPickAnswers = [];
    this.opened = [];
    this.progress = [];
    this.channels = [];
    this.extensions = new Map();
    this.activeTextEditor = undefined;
    this.configEmitter = new EventEmitter();
    this.trustEmitter = new EventEmitter();
  },

  /** Change a setting (full key, e.g. `tunelint.interpreter`) and fire the change event. */
  set(level: Level, key: string, value: unknown): void {
    if (value === undefined) {
      delete this.levels[level][key];
    } else {
      this.levels[level][key] = value;
    }
    this.configEmitter.fire({
      affectsConfiguration: (section: string) => key === section || key.startsWith(`${section}.`) || section.startsWith(`${key}.`),
    });
  },

  openJsonl(p: string, line = 0): void {
    this.activeTextEditor = { document: { uri: Uri.file(p), languageId: 'jsonl' }, selection: { active: { line, character: 0 } } };
  },
};

function lookup(full: string): unknown {
  for (const level of ['workspaceFolder', 'workspace', 'global'] as Level[]) {
    const v = stub.levels[level][full];
    if (v !== undefined) {
      return v;
    }
  }
  return stub.defaults[full];
}

// -- the API -------------------------------------------------------------------------------------

export const workspace = {
  get isTrusted(): boolean {
    return stub.trusted;
  },
  get workspaceFolders() {
    return stub.folders.length ? stub.folders.map((f, index) => ({ uri: Uri.file(f), name: path.basename(f), index })) : undefined;
  },
  getConfiguration(section?: string, _scope?: unknown) {
    const prefix = section ? `${section}.` : '';
    return {
      get<T>(key: string, fallback?: T): T | undefined {
        const v = lookup(prefix + key);
        return (v === undefined ? fallback : v) as T | undefined;
      },
      has(key: string): boolean {
        return lookup(prefix + key) !== undefined;
      },
      inspect<T>(key: string) {
        const full = prefix + key;
        return {
          key: full,
          defaultValue: stub.defaults[full] as T | undefined,
          globalValue: stub.levels.global[full] as T | undefined,
          workspaceValue: stub.levels.workspace[full] as T | undefined,
          workspaceFolderValue: stub.levels.workspaceFolder[full] as T | undefined,
        };
      },
      update(): Promise<void> {
        return Promise.resolve();
      },
    };
  },
  onDidChangeConfiguration(listener: Listener<{ affectsConfiguration(section: string): boolean }>): Disposable {
    return stub.configEmitter.event(listener);
  },
  onDidGrantWorkspaceTrust(listener: Listener<void>): Disposable {
    return stub.trustEmitter.event(listener);
  },
  onDidChangeTextDocument(listener: Listener<unknown>): Disposable {
    return editorEvents.documentChanged.event(listener);
  },
  registerFileSystemProvider(scheme: string, provider: unknown): Disposable {
    editorEvents.fileSystems.set(scheme, provider);
    return new Disposable(() => editorEvents.fileSystems.delete(scheme));
  },
  openTextDocument(uri: Uri): Promise<unknown> {
    return Promise.resolve({ uri });
  },
};

function show(kind: Shown['kind']) {
  return (message: string, ...items: unknown[]): Promise<string | undefined> => {
    const labels = items.filter((i): i is string => typeof i === 'string');
    stub.shown.push({ kind, message, items: labels });
    const a = stub.answer;
    return Promise.resolve(a !== undefined && labels.includes(a) ? a : undefined);
  };
}

export const window = {
  get activeTextEditor() {
    return stub.activeTextEditor;
  },
  showErrorMessage: show('error'),
  showWarningMessage: show('warning'),
  showInformationMessage: show('info'),
  createWebviewPanel(viewType: string, title: string, showOptions: unknown, options: Record<string, unknown> = {}): FakeWebviewPanel {
    const p = new FakeWebviewPanel(viewType, title, showOptions, options);
    stub.panels.push(p);
    return p;
  },
  withProgress<R>(options: { location: ProgressLocation; title?: string }, task: (progress: { report(v: unknown): void }) => Promise<R>): Promise<R> {
    stub.progress.push(options.title ?? '');
    return task({ report() {} });
  },
  createTreeView(id: string, options: unknown) {
    stub.trees.push({ id, options });
    return new Disposable();
  },
  showQuickPick<T extends { label: string }>(items: T[] | Promise<T[]>, options?: unknown): Promise<T | undefined> {
    return Promise.resolve(items).then((list) => {
      stub.quickPicks.push({ items: list, options });
      const want = stub.quickPickAnswers.shift();
      return list.find((i) => i.label === want);
    });
  },
  showTextDocument(uri: Uri, options?: unknown): Promise<unknown> {
    stub.opened.push({ uri, options });
    return Promise.resolve({});
  },
  showOpenDialog(): Promise<Uri[] | undefined> {
    return Promise.resolve(stub.openDialogAnswer);
  },
  onDidChangeTextEditorSelection(listener: Listener<unknown>): Disposable {
    return editorEvents.selectionChanged.event(listener);
  },
  onDidChangeActiveTextEditor(listener: Listener<unknown>): Disposable {
    return editorEvents.activeEditorChanged.event(listener);
  },
  createStatusBarItem(id: string, _alignment?: StatusBarAlignment, _priority?: number): FakeStatusBarItem {
    const item: FakeStatusBarItem = {
      id,
      text: '',
      visible: false,
      show() {
        item.visible = true;
      },
      hide() {
        item.visible = false;
      },
      dispose() {
        item.visible = false;
      },
    };
    stub.statusItems.push(item);
    return item;
  },
  createOutputChannel(name: string): FakeOutputChannel {
    const ch: FakeOutputChannel = {
      name,
      lines: [],
      shown: 0,
      append(s) {
        ch.lines.push(s);
      },
      appendLine(s) {
        ch.lines.push(s);
      },
      show() {
        ch.shown++;
      },
      clear() {
        ch.lines = [];
      },
      dispose() {},
      hide() {},
      replace(s) {
        ch.lines = [s];
      },
    };
    stub.channels.push(ch);
    return ch;
  },
};

export const commands = {
  registerCommand(command: string, fn: (...args: unknown[]) => unknown): Disposable {
    if (stub.registered.has(command)) {
      throw new Error(`command '${command}' already exists`);
    }
    stub.registered.set(command, fn);
    return new Disposable(() => stub.registered.delete(command));
  },
  executeCommand(command: string, ...args: unknown[]): Promise<unknown> {
    stub.executed.push({ command, args });
    if (command === 'setContext') {
      stub.contexts.set(args[0] as string, args[1]);
      return Promise.resolve(undefined);
    }
    const fn = stub.registered.get(command);
    return Promise.resolve(fn ? fn(...args) : undefined);
  },
};

export const env = {
  clipboard: {
    writeText(s: string): Promise<void> {
      stub.clipboard = s;
      return Promise.resolve();
    },
    readText(): Promise<string> {
      return Promise.resolve(stub.clipboard);
    },
  },
};

export const extensions = {
  getExtension(id: string) {
    return stub.extensions.get(id);
  },
};

// -- for the Preview panel and Edit message as text (test/preview.test.ts) -----------------------

/** The editor's events the Preview panel follows, and the file systems and lens providers
 * registered (fire them from tests). */
export const editorEvents = {
  selectionChanged: new EventEmitter<unknown>(),
  documentChanged: new EventEmitter<unknown>(),
  activeEditorChanged: new EventEmitter<unknown>(),
  fileSystems: new Map<string, unknown>(),
  lenses: [] as unknown[],
};

export const languages = {
  registerCodeLensProvider(_selector: unknown, provider: unknown): Disposable {
    editorEvents.lenses.push(provider);
    return new Disposable(() => editorEvents.lenses.splice(editorEvents.lenses.indexOf(provider), 1));
  },
};

export class CodeLens {
  constructor(readonly range: Range, readonly command?: { title: string; command: string; arguments?: unknown[] }) {}
}

export enum FileType {
  Unknown = 0,
  File = 1,
  Directory = 2,
}

export enum FileChangeType {
  Changed = 1,
  Created = 2,
  Deleted = 3,
}

export class FileSystemError extends Error {
  static FileNotFound(what?: unknown): FileSystemError {
    return new FileSystemError(`FileNotFound: ${String(what)}`);
  }
  static NoPermissions(what?: unknown): FileSystemError {
    return new FileSystemError(String(what));
  }
}
