import * as assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';

import './register';

import { pythonEnvironments, PYTHON_EXTENSION_ID } from '../src/python';
import { EventEmitter, stub, Uri } from './vscode-stub';

function fakeExtension(api: unknown, opts: { active?: boolean; activateError?: Error } = {}) {
  let activations = 0;
  const ext = {
    isActive: opts.active ?? false,
    exports: opts.active ? api : undefined,
    get activations() {
      return activations;
    },
    async activate() {
      activations++;
      if (opts.activateError) {
        throw opts.activateError;
      }
      return api;
    },
  };
  stub.extensions.set(PYTHON_EXTENSION_ID, ext);
  return ext;
}

describe("the Python extension's interpreter", () => {
  beforeEach(() => stub.reset());

  it('activates the extension and resolves the active environment to its executable', async () => {
    const asked: unknown[] = [];
    const ext = fakeExtension({
      environments: {
        getActiveEnvironmentPath: (resource?: Uri) => {
          asked.push(resource?.toString());
          return { id: 'venv', path: '/proj/.venv' };
        },
        resolveEnvironment: async (env: { path: string }) => ({ executable: { uri: Uri.file(`${env.path}/bin/python`) } }),
      },
    });
    const logs: string[] = [];
    const py = pythonEnvironments((m) => logs.push(m));
    assert.equal(py.available, true);
    assert.equal(await py.activeInterpreter(Uri.file('/proj/train.jsonl') as never), '/proj/.venv/bin/python');
    assert.deepEqual(asked, ['file:///proj/train.jsonl']);
    await py.activeInterpreter();
    assert.equal(ext.activations, 1, 'activated once');
    assert.deepEqual(logs, []);
  });

  it('missing extension: nothing, no error', async () => {
    const py = pythonEnvironments(() => undefined);
    assert.equal(py.available, false);
    assert.equal(await py.activeInterpreter(), undefined);
    py.onDidChange(() => undefined).dispose();
  });

  it('an extension that fails to activate, or whose API throws, is logged and skipped', async () => {
    fakeExtension({}, { activateError: new Error('boom') });
    const logs: string[] = [];
    assert.equal(await pythonEnvironments((m) => logs.push(m)).activeInterpreter(), undefined);
    assert.match(logs[0], /did not activate: boom/);

    stub.reset();
    fakeExtension({ environments: { getActiveEnvironmentPath: () => { throw new Error('no env'); }, resolveEnvironment: async () => undefined } }, { active: true });
    const logs2: string[] = [];
    assert.equal(await pythonEnvironments((m) => logs2.push(m)).activeInterpreter(), undefined);
    assert.match(logs2[0], /no env/);
  });

  it('an unresolvable environment falls back to the old execution-details API', async () => {
    fakeExtension({
      environments: { getActiveEnvironmentPath: () => ({ id: 'x', path: '/x' }), resolveEnvironment: async () => undefined },
      settings: { getExecutionDetails: () => ({ execCommand: ['/usr/local/bin/python3'] }) },
    });
    assert.equal(await pythonEnvironments(() => undefined).activeInterpreter(), '/usr/local/bin/python3');
    // `conda run ...` (several words) is not one executable: not used
    stub.reset();
    fakeExtension({ settings: { getExecutionDetails: () => ({ execCommand: ['conda', 'run', '-n', 'x', 'python'] }) } });
    assert.equal(await pythonEnvironments(() => undefined).activeInterpreter(), undefined);
  });

  it('forwards onDidChangeActiveEnvironmentPath, and stops on dispose', async () => {
    const emitter = new EventEmitter<unknown>();
    fakeExtension({ environments: { onDidChangeActiveEnvironmentPath: emitter.event } });
    let changes = 0;
    const sub = pythonEnvironments(() => undefined).onDidChange(() => changes++);
    await new Promise((r) => setImmediate(r));
    emitter.fire({ id: 'y', path: '/y' });
    assert.equal(changes, 1);
    sub.dispose();
    emitter.fire({ id: 'z', path: '/z' });
    assert.equal(changes, 1);
    assert.equal(emitter.size, 0);
  });
});
