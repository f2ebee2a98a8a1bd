/* Entry point: wires the controller (src/controller.ts) to a real vscode-languageclient. */

import * as vscode from 'vscode';
import { LanguageClient, RevealOutputChannelOn, TransportKind } from 'vscode-languageclient/node';

import { ClientLike, Controller } from './controller';
import { makeRun } from './launch';
import { registerPreview } from './previewpanel';
import { pythonEnvironments } from './python';
import { registerRunsUi } from './runsui';

let controller: Controller | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('tunelint');
  const trace = vscode.window.createOutputChannel('tunelint (trace)');
  context.subscriptions.push(output, trace);
  const log = (m: string) => output.appendLine(`[${new Date().toISOString()}] ${m}`);
  controller = new Controller({
    output,
    trace,
    run: makeRun(),
    python: pythonEnvironments(log),
    createClient: (server, options): ClientLike =>
      new LanguageClient(
        'tunelint', // also the settings prefix of `tunelint.trace.server`
        'tunelint',
        { command: server.command, args: server.args, options: server.options, transport: TransportKind.stdio },
        { ...options, revealOutputChannelOn: RevealOutputChannelOn.Never },
      ),
  });
  context.subscriptions.push({ dispose: () => void controller?.dispose() });
  // The Runs list, Run view and run comparison: the server's tunelint.listRuns / runDetails /
  // compareRuns, which the language client registers as VS Code commands.
  registerRunsUi(context, (command, ...args) => Promise.resolve(vscode.commands.executeCommand(command, ...args)));
  // The Preview panel (tunelint/preview) and Edit message as text (tunelint.editText / writeText).
  registerPreview(context, controller);
  // Not awaited: probing the interpreter can take seconds, and activation should not wait on it.
  void controller.start();
}

export async function deactivate(): Promise<void> {
  const c = controller;
  controller = undefined;
  await c?.dispose();
}
