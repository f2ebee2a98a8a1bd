/* End to end against the real Python server, when one is available: TUNELINT_PYTHON names a
 * Python with tunelint installed (scripts/test.sh sets it to .venv/bin/python). The launch is
 * chosen by the real probe, and the server gets what the extension sends: initializationOptions,
 * VS Code's didChangeConfiguration (the raw `tunelint` section) and the middleware's answer to
 * workspace/configuration. No VS Code: the LSP client is vscode-languageserver-protocol's. */
import * as assert from 'node:assert/strict';
import * as cp from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';

import {
  createProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
} from 'vscode-languageserver-protocol/node';

import { chooseLaunch, launchCandidates, makeRun } from '../src/launch';
import { serverSettings } from '../src/settings';

const python = process.env.TUNELINT_PYTHON;

describe('the real tunelint server', { skip: python ? false : 'set TUNELINT_PYTHON to a Python with tunelint installed' }, () => {
  it('starts the way the extension starts it, and accepts the settings the extension sends', async () => {
    const choice = await chooseLaunch(launchCandidates({ interpreter: python, platform: process.platform }), makeRun(), 60_000);
    assert.ok(choice.launch, JSON.stringify(choice.probes));
    assert.match(choice.version ?? '', /^\d+\.\d+/);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tunelint-ext-'));
    const file = path.join(dir, 'train.jsonl');
    // ends with a user turn: TL202, a warning unless `severity` says otherwise; one example: TL801
    const bad = '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "bye"}]}\n';
    fs.writeFileSync(file, bad);
    const user: Record<string, unknown> = {
      profile: 'openai', maxTokens: 4096, ignore: ['TL8'], severity: { TL202: 'error' }, duplicateThreshold: 0.9,
      'train.method': 'lora', 'train.epochs': 2,
    };
    const settings = serverSettings({ get: <T>(k: string) => user[k] as T | undefined });

    const child = cp.spawn(choice.launch.command, choice.launch.args, { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const conn = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    const logs: string[] = [];
    let configurationAsked = 0;
    conn.onNotification('window/logMessage', (p: { message: string }) => void logs.push(p.message));
    conn.onRequest('workspace/configuration', (p: { items: { section?: string }[] }) => {
      configurationAsked++;
      return p.items.map((i) => (i.section === 'tunelint' ? settings : null));
    });
    conn.onRequest('client/registerCapability', () => null);
    conn.onRequest('window/workDoneProgress/create', () => null);
    const diagnostics = new Promise<{ uri: string; diagnostics: { code?: string; severity?: number }[] }>((resolve) => {
      conn.onNotification('textDocument/publishDiagnostics', (p: { uri: string; diagnostics: { code?: string; severity?: number }[] }) => {
        if (p.uri === pathToFileURL(file).href) {
          resolve(p);
        }
      });
    });
    conn.listen();
    try {
      const init = (await conn.sendRequest('initialize', {
        processId: process.pid,
        rootUri: pathToFileURL(dir).href,
        workspaceFolders: [{ uri: pathToFileURL(dir).href, name: 'ws' }],
        capabilities: {
          workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: true } },
          window: { workDoneProgress: true },
          textDocument: { publishDiagnostics: { versionSupport: true } },
        },
        initializationOptions: settings,
      })) as { capabilities: { executeCommandProvider?: { commands?: string[] } } };
      assert.ok(init.capabilities.executeCommandProvider?.commands?.includes('tunelint.lintFile'));
      await conn.sendNotification('initialized', {});
      // what vscode-languageclient sends for `synchronize.configurationSection: "tunelint"`
      await conn.sendNotification('workspace/didChangeConfiguration', {
        settings: {
          tunelint: {
            path: '', interpreter: '', profile: 'openai', tokenizer: null, maxTokens: 4096, select: null, ignore: ['TL8'],
            severity: { TL202: 'error' }, duplicateThreshold: 0.9, trace: { server: 'off' },
            train: { model: null, method: 'lora', epochs: 2, maxSteps: null, learningRate: null },
          },
        },
      });
      await conn.sendNotification('textDocument/didOpen', {
        textDocument: { uri: pathToFileURL(file).href, languageId: 'jsonl', version: 1, text: bad },
      });
      let timer: NodeJS.Timeout | undefined;
      const got = await Promise.race([
        diagnostics,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no diagnostics; log: ${logs.join(' | ')} ${stderr}`)), 60_000);
        }),
      ]).finally(() => clearTimeout(timer));
      const tl202 = got.diagnostics.find((d) => d.code === 'TL202');
      assert.ok(tl202, JSON.stringify(got.diagnostics));
      assert.equal(tl202.severity, 1, 'severity {"TL202": "error"} reached the server');
      assert.ok(!got.diagnostics.some((d) => d.code === 'TL801'), 'ignore ["TL8"] reached the server');
      assert.ok(configurationAsked >= 1);
      const problems = logs.filter((l) => /settings|unknown|initialization options/i.test(l));
      assert.deepEqual(problems, [], 'the server took every setting without complaint');
      await conn.sendRequest('shutdown');
      await conn.sendNotification('exit');
    } finally {
      conn.dispose();
      child.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
