/* Fakes for the controller's dependencies: the language client, the process runner and the
 * Python extension. */
import './register';

import type { LanguageClientOptions, StaticFeature } from 'vscode-languageclient';

import { ClientLike, ClientState, Controller, ServerLaunch } from '../src/controller';
import { RunFn, RunResult } from '../src/launch';
import { PythonEnvironments } from '../src/python';
import { Disposable, EventEmitter, FakeOutputChannel, stub, window } from './vscode-stub';

export class FakeClient implements ClientLike {
  static made: FakeClient[] = [];
  /** The commands the next fake server lists in executeCommandProvider. */
  static serverCommands: string[] | undefined = ['tunelint.lintFile', 'tunelint.addToBaseline'];
  static failStart: Error | undefined;
  initializeResult: ClientLike['initializeResult'];
  started = false;
  stopped = false;
  features: StaticFeature[] = [];
  notificationHandlers = new Map<string, (params: any) => void>();
  private states = new EventEmitter<{ oldState: number; newState: number }>();
  constructor(
    readonly server: ServerLaunch,
    readonly options: LanguageClientOptions,
  ) {
    FakeClient.made.push(this);
  }
  static reset(): void {
    FakeClient.made = [];
    FakeClient.serverCommands = ['tunelint.lintFile', 'tunelint.addToBaseline'];
    FakeClient.failStart = undefined;
  }
  async start(): Promise<void> {
    this.states.fire({ oldState: ClientState.Stopped, newState: ClientState.Starting });
    if (FakeClient.failStart) {
      this.states.fire({ oldState: ClientState.Starting, newState: ClientState.Stopped });
      throw FakeClient.failStart;
    }
    const commands = FakeClient.serverCommands;
    this.initializeResult = {
      capabilities: commands ? { executeCommandProvider: { commands } } : {},
      serverInfo: { name: 'tunelint', version: '0.1.0' },
    };
    this.started = true;
    this.states.fire({ oldState: ClientState.Starting, newState: ClientState.Running });
  }
  async stop(): Promise<void> {
    this.stopped = true;
    this.states.fire({ oldState: ClientState.Running, newState: ClientState.Stopped });
  }
  onDidChangeState(listener: (e: { oldState: number; newState: number }) => void) {
    return this.states.event(listener);
  }
  registerFeature(feature: StaticFeature): void {
    this.features.push(feature);
  }
  onNotification(method: string, handler: (params: any) => void) {
    this.notificationHandlers.set(method, handler);
    return new Disposable(() => this.notificationHandlers.delete(method));
  }
  /** The server sending a notification. */
  notify(method: string, params: unknown): void {
    const h = this.notificationHandlers.get(method);
    if (!h) {
      throw new Error(`no handler for ${method}`);
    }
    h(params);
  }
  /** The client capabilities the registered features fill in. */
  clientCapabilities(): Record<string, any> {
    const caps: Record<string, any> = {};
    for (const f of this.features) {
      f.fillClientCapabilities(caps);
    }
    return caps;
  }
  /** The server process dying on its own. */
  crash(): void {
    this.states.fire({ oldState: ClientState.Running, newState: ClientState.Stopped });
  }
}

export const ok = (stdout = 'tunelint, version 0.1.0\n'): RunResult => ({ code: 0, stdout, stderr: '', timedOut: false });
export const enoent = (cmd: string): RunResult => ({
  code: null, stdout: '', stderr: '', timedOut: false, errorCode: 'ENOENT', errorMessage: `spawn ${cmd} ENOENT`,
});
export const noModule = (): RunResult => ({
  code: 1, stdout: '', stderr: '/usr/bin/python3: No module named tunelint\n', timedOut: false,
});

/** A fake runner: `programs` maps a command to its answer; anything else does not exist. */
export function fakeRun(programs: Record<string, RunResult>): RunFn & { calls: string[] } {
  const calls: string[] = [];
  const fn = (async (command: string, args: string[]) => {
    calls.push(`${command} ${args.join(' ')}`);
    return programs[command] ?? enoent(command);
  }) as unknown as RunFn & { calls: string[] };
  fn.calls = calls;
  return fn;
}

export function fakePython(interpreter?: string, available = true): PythonEnvironments & { change(): void; interpreter?: string } {
  const emitter = new EventEmitter<void>();
  const py = {
    interpreter,
    available,
    async activeInterpreter() {
      return py.interpreter;
    },
    onDidChange(listener: () => void) {
      return emitter.event(() => listener());
    },
    change() {
      emitter.fire();
    },
  };
  return py;
}

export function makeController(run: RunFn, python = fakePython(), platform: NodeJS.Platform = 'linux') {
  const output = window.createOutputChannel('tunelint') as FakeOutputChannel;
  const trace = window.createOutputChannel('tunelint (trace)') as FakeOutputChannel;
  const controller = new Controller({
    createClient: (server, options) => new FakeClient(server, options),
    run,
    python,
    output: output as never,
    trace: trace as never,
    platform,
    env: { PATH: '/usr/bin' },
    home: '/home/u',
  });
  return { controller, output, trace, python };
}

/** Let queued promise callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setImmediate(r));
  }
}

export function resetAll(): void {
  stub.reset();
  FakeClient.reset();
}

/** Wait (up to `ms`) until `cond()` holds. */
export async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) {
      throw new Error('timed out waiting');
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}
