import * as assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';

import './register';

import { contextKeyFor, contextKeys } from '../src/capabilities';
import { GENERATE_KEYS, needsRestart, serverSettings, SERVER_KEYS, TRAIN_KEYS } from '../src/settings';
import { stub, workspace } from './vscode-stub';

describe('serverSettings: the tunelint section as the server reads it', () => {
  beforeEach(() => stub.reset());

  it('with nothing set, an empty object (every default is unset)', () => {
    assert.deepEqual(serverSettings(workspace.getConfiguration('tunelint')), { train: {} });
  });

  it('camelCase keys as the server expects, training defaults nested under train', () => {
    stub.levels.global = {
      'tunelint.profile': 'together',
      'tunelint.tokenizer': 'hf:./tok',
      'tunelint.maxTokens': 4096,
      'tunelint.select': ['TL1', 'TL9'],
      'tunelint.ignore': ['TL703'],
      'tunelint.severity': { TL202: 'error' },
      'tunelint.duplicateThreshold': 0.85,
      'tunelint.worstExamples': 0,
      'tunelint.train.model': 'Qwen/Qwen2.5-0.5B-Instruct',
      'tunelint.train.method': 'full',
      'tunelint.train.epochs': 2,
      'tunelint.train.maxSteps': 100,
      'tunelint.train.learningRate': 0.0002,
      'tunelint.path': '/should/not/be/sent',
      'tunelint.trace.server': 'verbose',
    };
    assert.deepEqual(serverSettings(workspace.getConfiguration('tunelint')), {
      profile: 'together',
      tokenizer: 'hf:./tok',
      maxTokens: 4096,
      select: ['TL1', 'TL9'],
      ignore: ['TL703'],
      severity: { TL202: 'error' },
      duplicateThreshold: 0.85,
      worstExamples: 0,
      train: { model: 'Qwen/Qwen2.5-0.5B-Instruct', method: 'full', epochs: 2, maxSteps: 100, learningRate: 0.0002 },
    });
  });

  it('unset values (null, blank, {}) are left out so the project config decides; [] and "none" are kept', () => {
    stub.levels.global = { 'tunelint.profile': null, 'tunelint.tokenizer': 'none', 'tunelint.severity': {}, 'tunelint.ignore': [], 'tunelint.train.model': ' ' };
    assert.deepEqual(serverSettings(workspace.getConfiguration('tunelint')), { tokenizer: 'none', ignore: [], train: {} });
  });

  it('workspace values override user values', () => {
    stub.levels.global = { 'tunelint.profile': 'openai' };
    stub.levels.workspace = { 'tunelint.profile': 'mistral' };
    assert.equal(serverSettings(workspace.getConfiguration('tunelint')).profile, 'mistral');
  });

  it('the result is plain JSON, not the configuration objects', () => {
    const frozen = Object.freeze({ TL202: 'error' });
    const s = serverSettings({ get: <T>(k: string) => (k === 'severity' ? (frozen as T) : undefined) });
    assert.notEqual(s.severity, frozen);
    assert.deepEqual(s.severity, { TL202: 'error' });
  });

  it('every forwarded key is a documented setting in package.json', () => {
    for (const k of SERVER_KEYS) {
      assert.ok(`tunelint.${k}` in stub.defaults, k);
    }
    for (const k of TRAIN_KEYS) {
      assert.ok(`tunelint.train.${k}` in stub.defaults, k);
    }
    for (const k of GENERATE_KEYS) {
      assert.ok(`tunelint.generate.${k}` in stub.defaults, k);
    }
  });

  it('generation settings: forwarded under generate only when set at some level, not their defaults', () => {
    assert.deepEqual(stub.defaults['tunelint.generate.maxNewTokens'], 128);
    assert.deepEqual(stub.defaults['tunelint.generate.temperature'], 0);
    assert.deepEqual(stub.defaults['tunelint.generate.topP'], 1);
    assert.equal(serverSettings(workspace.getConfiguration('tunelint')).generate, undefined);
    stub.levels.global['tunelint.generate.maxNewTokens'] = 64;
    stub.levels.workspace['tunelint.generate.temperature'] = 0.7;
    stub.levels.workspaceFolder['tunelint.generate.temperature'] = 0; // the most specific level wins, 0 included
    stub.levels.global['tunelint.generate.topP'] = 0.9;
    assert.deepEqual(serverSettings(workspace.getConfiguration('tunelint')).generate, { maxNewTokens: 64, temperature: 0, topP: 0.9 });
    // a reader without inspect(): what get() returns
    const plainReader = { get: <T>(k: string) => ({ 'generate.topP': 0.5 } as Record<string, unknown>)[k] as T };
    assert.deepEqual(serverSettings(plainReader).generate, { topP: 0.5 });
  });
});

describe('needsRestart', () => {
  it('tunelint.path and tunelint.interpreter restart the server; other settings do not', () => {
    assert.ok(needsRestart((s) => s === 'tunelint.path'));
    assert.ok(needsRestart((s) => s === 'tunelint.interpreter'));
    assert.ok(!needsRestart((s) => s === 'tunelint.profile'));
  });
});

describe('context keys from the server commands', () => {
  it('one key per server command, true when the server lists it', () => {
    assert.equal(contextKeyFor('tunelint.showRun'), 'tunelint.supports.showRun');
    assert.deepEqual(contextKeys(['tunelint.lintFile', 'tunelint.addToBaseline']), {
      'tunelint.supports.lintFile': true,
      'tunelint.supports.train': false,
      'tunelint.supports.evaluate': false,
      'tunelint.supports.cancel': false,
      'tunelint.supports.showRun': false,
      'tunelint.supports.compare': false,
      'tunelint.supports.serve': false,
      'tunelint.supports.stopServe': false,
    });
    assert.ok(Object.values(contextKeys(undefined)).every((v) => v === false));
    assert.ok(Object.values(contextKeys(['tunelint.train', 'tunelint.evaluate', 'tunelint.cancel', 'tunelint.showRun', 'tunelint.lintFile',
      'tunelint.compare', 'tunelint.serve', 'tunelint.stopServe'])).every((v) => v));
  });
});
