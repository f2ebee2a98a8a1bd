/* The server's life in the editor: find a way to start it, start the language client, restart it
 * when the program to run changes, show its state and a running job's progress in the status
 * bar, and set a context key per server command. The language client itself comes from a
 * factory (src/extension.ts makes a real one; the tests a fake), so this module runs against a
 * stubbed `vscode` in tests. */

import * as vscode from 'vscode';
import type { LanguageClientOptions, StaticFeature } from 'vscode-languageclient';
import type {
  ConfigurationParams,
  ProgressToken,
  RegistrationParams,
  WorkDoneProgressBegin,
  WorkDoneProgressEnd,
  WorkDoneProgressReport,
} from 'vscode-languageserver-protocol';

import {
  COMPARE_COMMAND,
  contextKeys,
  DOCUMENT_COMMANDS,
  experimentalCapabilities,
  RUNNING_KEY,
  SERVE_COMMAND,
  STOP_SERVE_COMMAND,
  TRUSTED_COMMANDS,
} from './capabilities';
import { COMPARE_UPDATE, CompareUpdate } from './compare';
import {
  chooseLaunch,
  describeProblem,
  isInside,
  Launch,
  launchCandidates,
  Problem,
  PROBE_TIMEOUT_MS,
  resolveProgramPath,
  RunFn,
  trustedValue,
} from './launch';
import { ComparePanel } from './panel';
import { PythonEnvironments } from './python';
import { needsRestart, serverSettings } from './settings';

export const SECTION = 'tunelint';
export const SHOW_OUTPUT_COMMAND = 'tunelint.showOutput';
export const RESTART_COMMAND = 'tunelint.restartServer';

/** vscode-languageclient's `State` (kept here so this module needs no runtime import of it). */
export const ClientState = { Stopped: 1, Running: 2, Starting: 3 } as const;

export interface ServerLaunch {
  command: string;
  args: string[];
  options: { cwd?: string; env?: NodeJS.ProcessEnv };
}

/** The part of vscode-languageclient's `LanguageClient` used here. */
export interface ClientLike {
  start(): Promise<void>;
  stop(timeout?: number): Promise<void>;
  readonly initializeResult: { capabilities?: { executeCommandProvider?: { commands?: string[] } }; serverInfo?: { name: string; version?: string } } | undefined;
  onDidChangeState(listener: (e: { oldState: number; newState: number }) => void): vscode.Disposable;
  registerFeature(feature: StaticFeature): void;
  onNotification(method: string, handler: (params: any) => void): vscode.Disposable;
  sendRequest?(method: string, params: unknown): Promise<unknown>;
}

/** The client capabilities only this extension has: `experimental.tunelintComparePanel`. */
export const tunelintFeature: StaticFeature = {
  fillClientCapabilities(capabilities) {
    capabilities.experimental = { ...((capabilities.experimental as object | undefined) ?? {}), ...experimentalCapabilities() };
  },
  initialize() {},
  getState: () => ({ kind: 'static' }),
  clear() {},
};

export type ClientFactory = (server: ServerLaunch, options: LanguageClientOptions) => ClientLike;

export interface Deps {
  createClient: ClientFactory;
  run: RunFn;
  python: PythonEnvironments;
  output: vscode.OutputChannel;
  trace: vscode.OutputChannel;
  platform?: NodeJS.Platform;
  probeTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  home?: string;
  /** The side-by-side compare panel (default: a webview panel). */
  comparePanel?: ComparePanel;
}

export type ServerState = 'stopped' | 'starting' | 'ready' | 'error';

interface Job {
  title: string;
  percentage?: number;
  message?: string;
}

export const DOCUMENT_SELECTOR = [
  { scheme: 'file', language: 'jsonl' },
  { scheme: 'untitled', language: 'jsonl' },
  { scheme: 'file', pattern: '**/*.jsonl' },
];

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function isUri(v: unknown): v is vscode.Uri {
  return typeof v === 'object' && v !== null && typeof (v as vscode.Uri).scheme === 'string' && typeof (v as vscode.Uri).fsPath === 'string';
}

export class Controller implements vscode.Disposable {
  readonly statusItem: vscode.StatusBarItem;
  state: ServerState = 'stopped';
  stateDetail = '';
  launch?: Launch;
  version?: string;
  /** The commands the running server offers. */
  commands = new Set<string>();
  /** What the extension does with a server command's result (e.g. tunelint.editText opens a tab). */
  readonly resultHandlers = new Map<string, (result: unknown) => unknown>();
  private readonly readyEmitter = new vscode.EventEmitter<void>();
  /** Fires each time the server is ready (started, restarted). */
  readonly onReady = this.readyEmitter.event;
  readonly comparePanel: ComparePanel;
  private client?: ClientLike;
  private clientListener?: vscode.Disposable;
  private stopping = false;
  private queue: Promise<void> = Promise.resolve();
  private restartQueued = false;
  private jobs = new Map<ProgressToken, Job>();
  private shownProblem?: string;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly platform: NodeJS.Platform;

  constructor(private readonly deps: Deps) {
    this.platform = deps.platform ?? process.platform;
    this.comparePanel = deps.comparePanel ?? new ComparePanel();
    this.statusItem = vscode.window.createStatusBarItem('tunelint.status', vscode.StatusBarAlignment.Right, 100);
    this.statusItem.name = 'tunelint';
    this.statusItem.command = SHOW_OUTPUT_COMMAND;
    this.disposables.push(
      this.statusItem,
      this.comparePanel,
      this.readyEmitter,
      vscode.commands.registerCommand(RESTART_COMMAND, () => {
        this.shownProblem = undefined; // asked for: say again what is wrong, if it still is
        return this.restart('restart requested');
      }),
      vscode.commands.registerCommand(SHOW_OUTPUT_COMMAND, () => this.deps.output.show(true)),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (needsRestart((s) => e.affectsConfiguration(s))) {
          void this.restart('tunelint.path / tunelint.interpreter changed');
        }
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => void this.restart('the workspace is now trusted')),
      deps.python.onDidChange(() => {
        if (this.launch === undefined || this.launch.source === 'Python extension' || this.launch.source === 'PATH') {
          void this.restart("the Python extension's interpreter changed");
        }
      }),
    );
    this.render();
  }

  log(message: string): void {
    this.deps.output.appendLine(`[${new Date().toISOString()}] ${message}`);
  }

  // -- life cycle ---------------------------------------------------------------------------

  private enqueue(step: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(step, step).catch((e) => this.log(`internal error: ${errorText(e)}`));
    return this.queue;
  }

  start(): Promise<void> {
    return this.enqueue(() => this.doStart());
  }

  stop(): Promise<void> {
    return this.enqueue(() => this.doStop());
  }

  /** Stop and start again; restarts asked for while one is waiting are merged into it. */
  restart(reason: string): Promise<void> {
    if (this.restartQueued) {
      return this.queue;
    }
    this.restartQueued = true;
    return this.enqueue(async () => {
      this.restartQueued = false;
      this.log(`restarting the server: ${reason}`);
      await this.doStop();
      await this.doStart();
    });
  }

  /** The program settings, as this workspace's trust allows them. */
  private programSettings(): { path?: string; interpreter?: string } {
    const trusted = vscode.workspace.isTrusted;
    const cfg = vscode.workspace.getConfiguration(SECTION);
    const out: { path?: string; interpreter?: string } = {};
    for (const key of ['path', 'interpreter'] as const) {
      const v = trustedValue(cfg.inspect<string>(key), trusted);
      if (v.ignored !== undefined) {
        this.log(`not using the workspace's tunelint.${key} (${v.ignored}): the workspace is not trusted; only your user settings apply`);
      }
      if (v.value !== undefined) {
        out[key] = resolveProgramPath(v.value, this.folderPaths()[0], this.deps.home ?? process.env.HOME ?? process.env.USERPROFILE);
      }
    }
    return out;
  }

  private folderPaths(): string[] {
    return (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
  }

  /** The launch candidates, best first (see launchCandidates), less in an untrusted workspace
   * any program inside the workspace's folders. */
  async candidates(): Promise<Launch[]> {
    const trusted = vscode.workspace.isTrusted;
    const { path, interpreter } = this.programSettings();
    let pythonExtension: string | undefined;
    if (path === undefined && interpreter === undefined) {
      const resource = vscode.window.activeTextEditor?.document.uri ?? vscode.workspace.workspaceFolders?.[0]?.uri;
      pythonExtension = await this.deps.python.activeInterpreter(resource);
    }
    const all = launchCandidates({ path, interpreter, pythonExtension, platform: this.platform });
    if (trusted) {
      return all;
    }
    const folders = this.folderPaths();
    const outside = (c: Launch) => {
      const inside = /[\\/]/.test(c.command) && isInside(c.command, folders, this.platform);
      if (inside) {
        this.log(`not running ${c.command} (${c.source}): it lies inside the untrusted workspace`);
      }
      return !inside;
    };
    const allowed = all.filter(outside);
    // an explicit setting that was dropped: fall back to the Pythons on PATH
    return allowed.length ? allowed : launchCandidates({ platform: this.platform }).filter(outside);
  }

  private async doStart(): Promise<void> {
    this.setState('starting');
    let candidates: Launch[];
    try {
      candidates = await this.candidates();
    } catch (e) {
      this.setState('error', `could not work out how to start the server: ${errorText(e)}`);
      return;
    }
    const choice = await chooseLaunch(candidates, this.deps.run, this.deps.probeTimeoutMs ?? PROBE_TIMEOUT_MS);
    for (const p of choice.probes) {
      const where = `${p.launch.command} ${p.launch.args.join(' ')} (${p.launch.source})`;
      if (p.status === 'ok') {
        this.log(`found tunelint ${p.version ?? ''} via ${where}`);
      } else if (p.status === 'timeout') {
        this.log(`${where}: ${p.detail}; starting it anyway`);
      } else {
        this.log(`${where}: ${p.status}${p.detail ? `: ${p.detail}` : ''}`);
      }
    }
    if (choice.launch === undefined) {
      const problem = describeProblem(choice.problem, this.platform);
      this.launch = choice.problem?.launch;
      this.setState('error', problem.message);
      this.log(problem.message);
      void this.notify(problem);
      return;
    }
    this.shownProblem = undefined;
    this.launch = choice.launch;
    this.version = choice.version;
    const server: ServerLaunch = {
      command: choice.launch.command,
      args: choice.launch.args,
      options: { cwd: this.folderPaths()[0], env: { ...(this.deps.env ?? process.env), PYTHONUNBUFFERED: '1' } },
    };
    let client: ClientLike;
    try {
      client = this.deps.createClient(server, this.clientOptions());
    } catch (e) {
      this.setState('error', `could not create the language client: ${errorText(e)}`);
      return;
    }
    this.client = client;
    this.commands = new Set();
    try {
      client.registerFeature(tunelintFeature);
      const onUpdate = client.onNotification(COMPARE_UPDATE, (params: CompareUpdate) => {
        if (this.client === client) {
          this.comparePanel.update(params);
        }
      });
      const states = client.onDidChangeState((e) => this.onClientState(client, e.newState));
      this.clientListener = vscode.Disposable.from(onUpdate, states);
    } catch (e) {
      this.setState('error', `could not set up the language client: ${errorText(e)}`);
      return;
    }
    try {
      await client.start();
    } catch (e) {
      if (this.client === client) {
        this.setState('error', `the server did not start: ${errorText(e)}`);
        this.log(`the server did not start: ${errorText(e)}`);
      }
      return;
    }
    if (this.client !== client) {
      return;
    }
    await this.refreshCommands(client);
    const info = client.initializeResult?.serverInfo;
    this.version = info?.version ?? this.version;
    this.setState('ready');
  }

  private async doStop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.clientListener?.dispose();
    this.clientListener = undefined;
    this.jobs.clear();
    this.commands = new Set();
    await this.applyContextKeys();
    if (client === undefined) {
      return;
    }
    this.stopping = true;
    try {
      await client.stop(2000);
    } catch (e) {
      this.log(`stopping the server: ${errorText(e)}`);
    } finally {
      this.stopping = false;
    }
    this.setState('stopped');
  }

  private onClientState(client: ClientLike, state: number): void {
    if (client !== this.client) {
      return;
    }
    if (state === ClientState.Running) {
      this.setState('ready');
      void this.refreshCommands(client); // after a crash the client restarts the server itself
    } else if (state === ClientState.Starting) {
      this.setState('starting');
    } else if (state === ClientState.Stopped && !this.stopping) {
      this.jobs.clear();
      this.commands = new Set(); // the client unregistered them
      void this.applyContextKeys();
      this.setState('error', 'the server stopped; see the output channel');
    }
  }

  /** The commands the server lists in its initialize result, as context keys. */
  private async refreshCommands(client: ClientLike): Promise<void> {
    for (const c of client.initializeResult?.capabilities?.executeCommandProvider?.commands ?? []) {
      this.commands.add(c);
    }
    await this.applyContextKeys();
  }

  async dispose(): Promise<void> {
    await this.stop();
    for (const d of this.disposables.splice(0)) {
      try {
        d.dispose();
      } catch {
        // ignore
      }
    }
  }

  // -- the user's view ----------------------------------------------------------------------

  /** One notification per distinct problem while it lasts (not one per restart attempt). */
  async notify(problem: Problem): Promise<void> {
    if (this.shownProblem === problem.message) {
      return;
    }
    this.shownProblem = problem.message;
    const picked = await vscode.window.showErrorMessage(problem.message, ...problem.actions);
    switch (picked) {
      case 'Copy install command':
        if (problem.installCommand) {
          await vscode.env.clipboard.writeText(problem.installCommand);
        }
        break;
      case 'Select interpreter':
        if (this.deps.python.available) {
          await vscode.commands.executeCommand('python.setInterpreter');
        } else {
          await vscode.commands.executeCommand('workbench.action.openSettings', 'tunelint.interpreter');
        }
        break;
      case 'Open settings':
        await vscode.commands.executeCommand('workbench.action.openSettings', '@ext:tunelint.tunelint');
        break;
    }
  }

  private setState(state: ServerState, detail = ''): void {
    this.state = state;
    this.stateDetail = detail;
    void vscode.commands.executeCommand('setContext', RUNNING_KEY, state === 'ready');
    this.render();
    if (state === 'ready') {
      this.readyEmitter.fire();
    }
  }

  private async applyContextKeys(): Promise<void> {
    const keys = contextKeys(this.client ? [...this.commands] : undefined);
    await Promise.all(Object.entries(keys).map(([k, v]) => vscode.commands.executeCommand('setContext', k, v)));
  }

  /** The status bar item: the server's state, or the running job's progress. */
  render(): void {
    const item = this.statusItem;
    const job = [...this.jobs.values()].pop();
    const where = this.launch ? `${this.launch.command} ${this.launch.args.join(' ')}` : '';
    item.backgroundColor = undefined;
    if (job && this.state === 'ready') {
      const pct = job.percentage !== undefined ? ` ${Math.round(job.percentage)}%` : '';
      const msg = job.message ? ` ${job.message}` : '';
      const full = `${job.title}${pct}${msg}`;
      item.text = `$(sync~spin) tunelint: ${full.length > 60 ? `${full.slice(0, 59)}…` : full}`;
      item.tooltip = `tunelint: ${full}\nClick for the output.`;
    } else if (this.state === 'ready') {
      item.text = '$(check) tunelint';
      item.tooltip = `tunelint ${this.version ?? ''} is running (${where}).\nClick for the output.`;
    } else if (this.state === 'starting') {
      item.text = '$(sync~spin) tunelint';
      item.tooltip = 'tunelint: starting the language server…';
    } else if (this.state === 'error') {
      item.text = '$(error) tunelint';
      item.tooltip = `tunelint: ${this.stateDetail}\nClick for the output; "tunelint: Restart server" tries again.`;
      item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
    } else {
      item.text = '$(circle-slash) tunelint';
      item.tooltip = 'tunelint: the language server is stopped.';
    }
    item.show();
  }

  /** A `$/progress` work-done notification from the server. */
  onProgress(token: ProgressToken, value: WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd): void {
    if (value.kind === 'begin') {
      this.jobs.set(token, { title: value.title, percentage: value.percentage, message: value.message });
    } else if (value.kind === 'report') {
      const job = this.jobs.get(token) ?? { title: '' };
      if (value.percentage !== undefined) {
        job.percentage = value.percentage;
      }
      if (value.message !== undefined) {
        job.message = value.message;
      }
      this.jobs.set(token, job);
    } else {
      this.jobs.delete(token);
      if (value.message) {
        this.log(`job finished: ${value.message}`);
      }
    }
    this.render();
  }

  // -- the language client's options ----------------------------------------------------------

  clientOptions(): LanguageClientOptions {
    return {
      documentSelector: DOCUMENT_SELECTOR,
      synchronize: { configurationSection: SECTION },
      initializationOptions: serverSettings(vscode.workspace.getConfiguration(SECTION)),
      outputChannel: this.deps.output,
      traceOutputChannel: this.deps.trace,
      middleware: {
        workspace: {
          configuration: (params, token, next) => this.configuration(params, token, next),
        },
        executeCommand: async (command, args, next) => {
          const forwarded = await this.commandArguments(command, args);
          if (forwarded === undefined) {
            return undefined;
          }
          return this.runCommand(command, forwarded, () => next(command, forwarded));
        },
        handleWorkDoneProgress: (token, params, next) => {
          try {
            this.onProgress(token, params);
          } finally {
            next(token, params);
          }
        },
        handleRegisterCapability: async (params: RegistrationParams, next) => {
          const result = await (next as unknown as (p: RegistrationParams) => Promise<void>)(params);
          let changed = false;
          for (const r of params.registrations) {
            const cmds = (r.registerOptions as { commands?: unknown } | undefined)?.commands;
            if (r.method === 'workspace/executeCommand' && Array.isArray(cmds)) {
              for (const c of cmds) {
                if (typeof c === 'string') {
                  this.commands.add(c);
                  changed = true;
                }
              }
            }
          }
          if (changed) {
            await this.applyContextKeys();
          }
          return result;
        },
      },
    };
  }

  /** `workspace/configuration`: the `tunelint` section as the server's settings object. */
  async configuration(params: ConfigurationParams, token: unknown, next: (p: ConfigurationParams, t: never) => unknown): Promise<any> {
    const others = params.items.some((i) => i.section !== SECTION);
    const base = others ? await next(params, token as never) : undefined;
    if (others && !Array.isArray(base)) {
      return base; // an error from the default handler
    }
    return params.items.map((item, i) => {
      if (item.section !== SECTION) {
        return (base as unknown[])[i];
      }
      const scope = item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined;
      return serverSettings(vscode.workspace.getConfiguration(SECTION, scope));
    });
  }

  /** The arguments a server command is sent with, or undefined to not send it. */
  async commandArguments(command: string, args: unknown[]): Promise<unknown[] | undefined> {
    if (TRUSTED_COMMANDS.has(command) && !vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage(`tunelint: "${command}" needs a trusted workspace (training runs code and uses your GPUs).`);
      return undefined;
    }
    if (command === COMPARE_COMMAND) {
      return this.compareArguments(args);
    }
    if (command === SERVE_COMMAND || command === STOP_SERVE_COMMAND) {
      return args.filter((a) => a !== undefined && !isUri(a)); // from the palette: the server's defaults
    }
    if (!TRUSTED_COMMANDS.has(command) && !DOCUMENT_COMMANDS.has(command)) {
      return args; // e.g. tunelint.addToBaseline from a code action: the server made its arguments
    }
    const first = args[0];
    if (typeof first === 'string') {
      return args;
    }
    if (isUri(first)) {
      return [first.toString()]; // from the explorer or the editor title: the clicked file
    }
    const doc = vscode.window.activeTextEditor?.document;
    if (doc && (doc.languageId === 'jsonl' || doc.uri.path.endsWith('.jsonl'))) {
      return [doc.uri.toString()];
    }
    if (command === 'tunelint.lintFile') {
      const picked = await vscode.window.showOpenDialog({
        canSelectMany: false,
        openLabel: 'Lint',
        filters: { 'JSON Lines': ['jsonl'] },
        defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
      });
      return picked && picked.length ? [picked[0].toString()] : undefined;
    }
    if (DOCUMENT_COMMANDS.has(command)) {
      void vscode.window.showWarningMessage('tunelint: open a .jsonl dataset first.');
      return undefined;
    }
    return []; // cancel / show run: about the last run, whichever file
  }

  /** `tunelint.compare`'s arguments: `[uri, line]` from the server's code action (passed on), or
   * the active JSONL editor's cursor line from the command palette. */
  compareArguments(args: unknown[]): unknown[] | undefined {
    const [first, second, ...rest] = args;
    if ((typeof first === 'string' || isUri(first)) && typeof second === 'number') {
      return [String(first), second, ...rest];
    }
    const editor = vscode.window.activeTextEditor;
    const doc = editor?.document;
    if (!editor || !doc || !(doc.languageId === 'jsonl' || doc.uri.path.endsWith('.jsonl'))) {
      void vscode.window.showWarningMessage('tunelint: open a .jsonl dataset and put the cursor on an example line to compare.');
      return undefined;
    }
    if (isUri(first) && first.toString() !== doc.uri.toString()) {
      void vscode.window.showWarningMessage('tunelint: put the cursor on the example line to compare, in its editor.');
      return undefined;
    }
    return [doc.uri.toString(), editor.selection?.active.line ?? 0];
  }

  /** A request to the running server (e.g. `tunelint/preview`). */
  async request(method: string, params: unknown, waitMs = 120_000): Promise<unknown> {
    if (this.state === 'starting') { // e.g. the Preview opened while the server starts: its answer, once ready
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          done.dispose();
          resolve();
        }, waitMs);
        const done = this.onReady(() => {
          clearTimeout(timer);
          done.dispose();
          resolve();
        });
      });
    }
    const client = this.client;
    if (!client || !client.sendRequest || this.state !== 'ready') {
      throw new Error(this.state === 'starting' ? 'the tunelint server is still starting' : 'the tunelint server is not running');
    }
    return client.sendRequest(method, params);
  }

  /** Runs a server command (`send`), with what the extension shows around it. */
  async runCommand(command: string, args: unknown[], send: () => Promise<unknown>): Promise<unknown> {
    const handler = this.resultHandlers.get(command);
    if (handler) {
      let result: unknown;
      try {
        result = await send();
      } catch (e) {
        this.log(`${command} failed: ${errorText(e)}`); // the server showed why
        return undefined;
      }
      return result === undefined || result === null ? result : handler(result);
    }
    if (command === COMPARE_COMMAND) {
      this.comparePanel.begin(String(args[0]), Number(args[1]));
      let result: unknown;
      try {
        result = await send();
      } catch (e) {
        const message = errorText(e);
        this.comparePanel.fail(message);
        this.log(`compare failed: ${message}`);
        void vscode.window.showErrorMessage(`tunelint: compare failed: ${message}`);
        return undefined;
      }
      if (result === undefined || result === null) {
        this.comparePanel.fail('cancelled');
        return result;
      }
      this.comparePanel.result(result);
      return result;
    }
    if (command === SERVE_COMMAND || command === STOP_SERVE_COMMAND) {
      let result: unknown;
      try {
        result = command === SERVE_COMMAND
          ? await vscode.window.withProgress(
            { location: vscode.ProgressLocation.Notification, title: 'tunelint: starting an OpenAI-compatible server for the run…' },
            () => send(),
          )
          : await send();
      } catch (e) {
        const message = errorText(e);
        this.log(`${command} failed: ${message}`);
        void vscode.window.showErrorMessage(`tunelint: ${command === SERVE_COMMAND ? 'serving the run' : 'stopping the server'} failed: ${message}`);
        return undefined;
      }
      if (command === SERVE_COMMAND) {
        void this.showServing(result);
      } else {
        const stopped = (result as { stopped?: unknown } | undefined)?.stopped;
        void vscode.window.showInformationMessage(stopped ? 'tunelint: stopped serving.' : 'tunelint: nothing was being served.');
      }
      return result;
    }
    return send();
  }

  /** `tunelint.serve`'s result: the URL, with a button that copies it. */
  async showServing(result: unknown): Promise<void> {
    const r = (result ?? {}) as { url?: unknown; models?: unknown };
    if (typeof r.url !== 'string') {
      return;
    }
    const models = Array.isArray(r.models) ? r.models.filter((m) => typeof m === 'string') : [];
    this.log(`serving ${models.join(', ')} at ${r.url}`);
    const what = models.length ? `${models.map((m) => `"${m}"`).join(' and ')} at` : 'at';
    const picked = await vscode.window.showInformationMessage(
      `tunelint: serving ${what} ${r.url}, an OpenAI-compatible endpoint: use it as base_url.`,
      'Copy URL',
    );
    if (picked === 'Copy URL') {
      await vscode.env.clipboard.writeText(r.url);
    }
  }
}
