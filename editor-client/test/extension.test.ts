import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeEach, describe, it } from 'node:test';

import './register';

import { DOCUMENT_COMMANDS, SERVER_COMMANDS, TRUSTED_COMMANDS } from '../src/capabilities';
import { activate, deactivate } from '../src/extension';
import { GENERATE_KEYS, SERVER_KEYS, TRAIN_KEYS } from '../src/settings';
import { FakeClient, resetAll, settle, waitFor } from './helpers';
import { LanguageClient } from './languageclient-stub';
import { stub } from './vscode-stub';

const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));

describe('activate / deactivate', () => {
  beforeEach(() => {
    resetAll();
    LanguageClient.constructed = [];
  });

  it('creates the channels and a real-shaped LanguageClient for the probed program', async () => {
    // node itself stands in for `tunelint`: `node --version` answers, so the probe passes
    stub.levels.global['tunelint.path'] = process.execPath;
    const context = { subscriptions: [] as { dispose(): unknown }[] };
    await activate(context as never);
    await waitFor(() => FakeClient.made.length === 1 && FakeClient.made[0].started);
    assert.deepEqual(stub.channels.map((c) => c.name), ['tunelint', 'tunelint (trace)']);
    assert.equal(LanguageClient.constructed.length, 1);
    const [made] = LanguageClient.constructed;
    assert.equal(made.id, 'tunelint'); // the client reads `tunelint.trace.server` from its id
    assert.deepEqual([made.server.command, made.server.args, made.server.transport], [process.execPath, ['server'], 0]);
    assert.equal(made.options.revealOutputChannelOn, 4);
    assert.ok(FakeClient.made[0].started);
    assert.equal(stub.statusItems[0].text, '$(check) tunelint');
    assert.ok(stub.registered.has('tunelint.restartServer'));
    await deactivate();
    await settle();
    assert.ok(FakeClient.made[0].stopped);
    assert.ok(!stub.registered.has('tunelint.restartServer'));
  });
});

describe('package.json', () => {
  it('targets VS Code with the built-in jsonl language and activates on JSONL', () => {
    assert.equal(pkg.engines.vscode, '^1.90.0');
    assert.deepEqual(pkg.activationEvents, ['onLanguage:jsonl', 'workspaceContains:**/*.jsonl']);
    assert.equal(pkg.main, './dist/extension.js');
    assert.match(pkg.scripts.package, /vsce package --no-dependencies/);
  });

  it('contributes every command; server commands are enabled by their context key, training ones only when trusted', () => {
    const commands = new Map<string, { title: string; enablement?: string }>(pkg.contributes.commands.map((c: { command: string }) => [c.command, c]));
    assert.ok(commands.has('tunelint.restartServer'));
    assert.equal(commands.get('tunelint.train')?.title, 'Fine-tune this dataset');
    assert.equal(commands.get('tunelint.evaluate')?.title, 'Evaluate');
    assert.equal(commands.get('tunelint.cancel')?.title, 'Cancel run');
    assert.equal(commands.get('tunelint.showRun')?.title, 'Show last run');
    assert.equal(commands.get('tunelint.lintFile')?.title, 'Lint this file from disk');
    assert.equal(commands.get('tunelint.compare')?.title, 'Compare base and fine-tuned on this line');
    assert.equal(commands.get('tunelint.serve')?.title, 'Serve this run');
    assert.equal(commands.get('tunelint.stopServe')?.title, 'Stop serving');
    const palette = new Map<string, string>(pkg.contributes.menus.commandPalette.map((m: { command: string; when: string }) => [m.command, m.when]));
    for (const c of SERVER_COMMANDS) {
      const key = `tunelint.supports.${c.slice('tunelint.'.length)}`;
      for (const clause of [commands.get(c)?.enablement, palette.get(c)]) {
        assert.ok(clause?.includes(key), `${c}: ${clause}`);
        assert.equal(clause?.includes('isWorkspaceTrusted'), TRUSTED_COMMANDS.has(c), `${c}: ${clause}`);
      }
    }
    for (const menu of Object.values<{ command: string; when: string }[]>(pkg.contributes.menus)) {
      for (const m of menu) {
        if (TRUSTED_COMMANDS.has(m.command)) {
          assert.ok(m.when.includes('isWorkspaceTrusted'), `${m.command}: ${m.when}`);
        }
      }
    }
    assert.ok([...DOCUMENT_COMMANDS].every((c) => commands.has(c)));
  });

  it('documents every setting, and restricts the program settings in untrusted workspaces', () => {
    const props: Record<string, { markdownDescription?: string }> = pkg.contributes.configuration.properties;
    const expected = [
      'tunelint.path', 'tunelint.interpreter', 'tunelint.trace.server', 'tunelint.preview.openAutomatically',
      ...SERVER_KEYS.map((k) => `tunelint.${k}`), ...TRAIN_KEYS.map((k) => `tunelint.train.${k}`),
      ...GENERATE_KEYS.map((k) => `tunelint.generate.${k}`),
    ];
    assert.deepEqual(Object.keys(props).sort(), expected.sort());
    for (const [k, v] of Object.entries(props)) {
      assert.ok((v.markdownDescription ?? '').length > 20, k);
    }
    assert.deepEqual(pkg.contributes.configuration.properties['tunelint.profile'].enum, ['openai', 'together', 'mistral', 'hf', null]);
    assert.deepEqual(pkg.contributes.configuration.properties['tunelint.train.method'].enum, ['lora', 'full', 'qlora', null]);
    assert.deepEqual(pkg.contributes.configuration.properties['tunelint.trace.server'].enum, ['off', 'messages', 'verbose']);
    const gen = (k: string) => pkg.contributes.configuration.properties[`tunelint.generate.${k}`];
    assert.deepEqual([gen('maxNewTokens').type, gen('maxNewTokens').minimum, gen('maxNewTokens').default], ['integer', 1, 128]);
    assert.deepEqual([gen('temperature').type, gen('temperature').minimum, gen('temperature').default], ['number', 0, 0]);
    assert.deepEqual([gen('topP').type, gen('topP').exclusiveMinimum, gen('topP').maximum, gen('topP').default], ['number', 0, 1, 1]);
    const trust = pkg.capabilities.untrustedWorkspaces;
    assert.equal(trust.supported, 'limited');
    assert.deepEqual(trust.restrictedConfigurations, ['tunelint.path', 'tunelint.interpreter']);
    assert.ok(trust.description.length > 20);
  });
});
