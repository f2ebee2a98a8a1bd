/* A fake `vscode-languageclient/node` for the activation test (test/register.ts maps it). */
import { FakeClient } from './helpers';

export const RevealOutputChannelOn = { Debug: 0, Info: 1, Warn: 2, Error: 3, Never: 4 } as const;
export const TransportKind = { stdio: 0, ipc: 1, pipe: 2, socket: 3 } as const;

export class LanguageClient extends FakeClient {
  static constructed: { id: string; name: string; server: { command: string; args: string[]; transport: number }; options: Record<string, unknown> }[] = [];
  constructor(id: string, name: string, server: { command: string; args: string[]; options: object; transport: number }, options: Record<string, unknown>) {
    super({ command: server.command, args: server.args, options: server.options }, options as never);
    LanguageClient.constructed.push({ id, name, server, options });
  }
}
