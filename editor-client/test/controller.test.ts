import * as assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';

import { FakeClient, fakePython, fakeRun, makeController, noModule, ok, resetAll, settle } from './helpers';
import { stub, Uri } from './vscode-stub';

const TRAINING = ['tunelint.train', 'tunelint.evaluate', 'tunelint.cancel', 'tunelint.showRun'];

function lastClient(): FakeClient {
  const c = FakeClient.made[FakeClient.made.length - 1];
  assert.ok(c, 'no client was created');
  return c;
}

describe('starting the server', () => {
  beforeEach(resetAll);

  it("uses the Python extension's interpreter when no setting names a program", async () => {
    const run = fakeRun({ '/proj/.venv/bin/python': ok(), python3: ok() });
    const { controller } = makeController(run, fakePython('/proj/.venv/bin/python'));
    await controller.start();
    const c = lastClient();
    assert.equal(c.server.command, '/proj/.venv/bin/python');
    assert.deepEqual(c.server.args, ['-m', 'tunelint', 'server']);
    assert.equal(c.server.options.env?.PYTHONUNBUFFERED, '1');
    assert.equal(controller.state, 'ready');
    assert.deepEqual(run.calls, ['/proj/.venv/bin/python -m tunelint --version']);
  });

  it('tunelint.interpreter beats the Python extension; tunelint.path beats both', async () => {
    stub.levels.global['tunelint.interpreter'] = '/usr/bin/python3.12';
    const run = fakeRun({ '/usr/bin/python3.12': ok(), '/opt/bin/tunelint': ok(), '/proj/.venv/bin/python': ok() });
    const { controller } = makeController(run, fakePython('/proj/.venv/bin/python'));
    await controller.start();
    assert.equal(lastClient().server.command, '/usr/bin/python3.12');
    stub.set('global', 'tunelint.path', '/opt/bin/tunelint');
    await settle();
    assert.equal(lastClient().server.command, '/opt/bin/tunelint');
    assert.deepEqual(lastClient().server.args, ['server']);
  });

  it('falls back to python3 on PATH when the Python extension is missing', async () => {
    const run = fakeRun({ python3: ok() });
    const { controller } = makeController(run, fakePython(undefined, false));
    await controller.start();
    assert.equal(lastClient().server.command, 'python3');
  });

  it('a relative interpreter is taken from the workspace folder', async () => {
    stub.folders = ['/proj'];
    stub.levels.workspace['tunelint.interpreter'] = '.venv/bin/python';
    const run = fakeRun({ '/proj/.venv/bin/python': ok() });
    const { controller } = makeController(run);
    await controller.start();
    assert.equal(lastClient().server.command, '/proj/.venv/bin/python');
    assert.equal(lastClient().server.options.cwd, '/proj');
  });
});

describe('tunelint not installed', () => {
  beforeEach(resetAll);

  it('shows one error with the fix and does not start a client', async () => {
    const run = fakeRun({ '/proj/.venv/bin/python': noModule(), python3: noModule(), python: noModule() });
    const { controller, output } = makeController(run, fakePython('/proj/.venv/bin/python'));
    await controller.start();
    await settle();
    assert.equal(FakeClient.made.length, 0);
    assert.equal(controller.state, 'error');
    assert.equal(stub.shown.length, 1);
    const [shown] = stub.shown;
    assert.equal(shown.kind, 'error');
    assert.match(shown.message, /^tunelint is not installed in \/proj\/\.venv\/bin\/python: run `\/proj\/\.venv\/bin\/python -m pip install tunelint`/);
    assert.deepEqual(shown.items, ['Copy install command', 'Select interpreter', 'Open settings']);
    assert.ok(output.lines.some((l) => l.includes('not-installed')));
    const item = stub.statusItems[0];
    assert.equal(item.text, '$(error) tunelint');
    assert.equal(item.command, 'tunelint.showOutput');
    // the same problem again (a restart) is not shown again
    await controller.restart('again');
    await settle();
    assert.equal(stub.shown.length, 1);
    // ...but "tunelint: Restart server", asked for by the user, says it again
    await stub.registered.get('tunelint.restartServer')!();
    await settle();
    assert.equal(stub.shown.length, 2);
  });

  it('"Copy install command" puts the pip command on the clipboard', async () => {
    stub.answer = 'Copy install command';
    stub.levels.global['tunelint.interpreter'] = '/usr/bin/python3';
    const { controller } = makeController(fakeRun({ '/usr/bin/python3': noModule() }));
    await controller.start();
    await settle();
    assert.equal(stub.clipboard, '/usr/bin/python3 -m pip install tunelint');
  });

  it('"Select interpreter" opens the Python extension\'s picker, or the setting without it', async () => {
    stub.answer = 'Select interpreter';
    const run = fakeRun({ '/v/bin/python': noModule() });
    const { controller } = makeController(run, fakePython('/v/bin/python', true));
    await controller.start();
    await settle();
    assert.ok(stub.executed.some((e) => e.command === 'python.setInterpreter'));

    resetAll();
    stub.answer = 'Select interpreter';
    const second = makeController(fakeRun({}), fakePython(undefined, false)).controller;
    await second.start();
    await settle();
    assert.ok(stub.executed.some((e) => e.command === 'workbench.action.openSettings' && e.args[0] === 'tunelint.interpreter'));
    assert.match(stub.shown[0].message, /no Python found on PATH/);
  });

  it('after installing, "Restart server" starts it', async () => {
    const programs = { python3: noModule() };
    const { controller } = makeController(fakeRun(programs), fakePython(undefined, false));
    await controller.start();
    assert.equal(FakeClient.made.length, 0);
    programs.python3 = ok();
    await stub.registered.get('tunelint.restartServer')!();
    assert.equal(controller.state, 'ready');
    assert.equal(lastClient().server.command, 'python3');
  });
});

describe('restarts', () => {
  beforeEach(resetAll);

  it('on a change of tunelint.interpreter, not of other settings', async () => {
    const run = fakeRun({ python3: ok(), '/opt/py': ok() });
    const { controller } = makeController(run, fakePython(undefined, false));
    await controller.start();
    const first = lastClient();
    stub.set('global', 'tunelint.profile', 'together');
    await settle();
    assert.equal(FakeClient.made.length, 1);
    stub.set('global', 'tunelint.interpreter', '/opt/py');
    await settle();
    assert.equal(FakeClient.made.length, 2);
    assert.ok(first.stopped);
    assert.equal(lastClient().server.command, '/opt/py');
    assert.equal(controller.state, 'ready');
  });

  it("on a change of the Python extension's interpreter (unless a setting names the program)", async () => {
    const py = fakePython('/a/bin/python');
    const run = fakeRun({ '/a/bin/python': ok(), '/b/bin/python': ok(), '/pinned/python': ok() });
    const { controller } = makeController(run, py);
    await controller.start();
    py.interpreter = '/b/bin/python';
    py.change();
    await settle();
    assert.equal(lastClient().server.command, '/b/bin/python');
    stub.set('global', 'tunelint.interpreter', '/pinned/python');
    await settle();
    const count = FakeClient.made.length;
    py.change();
    await settle();
    assert.equal(FakeClient.made.length, count);
  });

  it('when the workspace becomes trusted, and merges restarts that pile up', async () => {
    stub.trusted = false;
    stub.levels.workspace['tunelint.interpreter'] = '/w/py';
    const run = fakeRun({ python3: ok(), '/w/py': ok() });
    const { controller } = makeController(run, fakePython(undefined, false));
    await controller.start();
    assert.equal(lastClient().server.command, 'python3');
    stub.trusted = true;
    stub.trustEmitter.fire();
    stub.trustEmitter.fire();
    await settle();
    assert.equal(FakeClient.made.length, 2);
    assert.equal(lastClient().server.command, '/w/py');
  });

  it('a crashed server shows as an error and hides its commands until it runs again', async () => {
    const { controller } = makeController(fakeRun({ python3: ok() }), fakePython(undefined, false));
    await controller.start();
    assert.equal(stub.contexts.get('tunelint.supports.lintFile'), true);
    lastClient().crash();
    await settle();
    assert.equal(controller.state, 'error');
    assert.equal(stub.statusItems[0].text, '$(error) tunelint');
    assert.equal(stub.contexts.get('tunelint.supports.lintFile'), false);
    assert.equal(stub.contexts.get('tunelint.serverRunning'), false);
    await lastClient().start(); // vscode-languageclient restarting it
    await settle();
    assert.equal(controller.state, 'ready');
    assert.equal(stub.contexts.get('tunelint.supports.lintFile'), true);
    await controller.stop();
    assert.equal(stub.contexts.get('tunelint.supports.lintFile'), false);
    assert.equal(controller.state, 'stopped');
  });

  it('a client that fails to start is an error, not an exception', async () => {
    FakeClient.failStart = new Error('Pending response rejected since connection got disposed');
    const { controller } = makeController(fakeRun({ python3: ok() }), fakePython(undefined, false));
    await controller.start();
    assert.equal(controller.state, 'error');
    assert.match(controller.stateDetail, /did not start/);
  });
});

describe('workspace trust', () => {
  beforeEach(resetAll);

  it('an untrusted workspace uses the user-level interpreter, not the workspace one', async () => {
    stub.trusted = false;
    stub.levels.global['tunelint.interpreter'] = '/home/u/.venv/bin/python';
    stub.levels.workspace['tunelint.interpreter'] = '/tmp/evil/python';
    stub.levels.workspaceFolder['tunelint.path'] = '/tmp/evil/tunelint';
    const run = fakeRun({ '/home/u/.venv/bin/python': ok(), '/tmp/evil/python': ok(), '/tmp/evil/tunelint': ok() });
    const { controller, output } = makeController(run);
    await controller.start();
    assert.equal(lastClient().server.command, '/home/u/.venv/bin/python');
    assert.ok(!run.calls.some((c) => c.includes('evil')));
    assert.ok(output.lines.some((l) => /not using the workspace's tunelint.interpreter/.test(l)));
    assert.ok(output.lines.some((l) => /not using the workspace's tunelint.path/.test(l)));
  });

  it("an untrusted workspace does not run the Python extension's interpreter from inside the workspace", async () => {
    stub.trusted = false;
    stub.folders = ['/proj'];
    const run = fakeRun({ '/proj/.venv/bin/python': ok(), python3: ok() });
    const { controller } = makeController(run, fakePython('/proj/.venv/bin/python'));
    await controller.start();
    assert.equal(lastClient().server.command, 'python3');
    assert.ok(!run.calls.some((c) => c.startsWith('/proj/')));
  });

  it('an untrusted workspace does not run a user-level program that lies inside the workspace', async () => {
    stub.trusted = false;
    stub.folders = ['/proj'];
    stub.levels.global['tunelint.interpreter'] = '${workspaceFolder}/.venv/bin/python';
    const run = fakeRun({ '/proj/.venv/bin/python': ok(), python3: ok() });
    const { controller } = makeController(run);
    await controller.start();
    assert.equal(lastClient().server.command, 'python3');
    assert.deepEqual(run.calls, ['python3 -m tunelint --version']);
  });

  it('linting still starts in an untrusted workspace; training commands are refused', async () => {
    stub.trusted = false;
    FakeClient.serverCommands = ['tunelint.lintFile', ...TRAINING];
    const { controller } = makeController(fakeRun({ python3: ok() }), fakePython(undefined, false));
    await controller.start();
    assert.equal(controller.state, 'ready');
    stub.openJsonl('/d/train.jsonl');
    const mw = lastClient().options.middleware!;
    let sent = 0;
    const next = async () => {
      sent++;
    };
    await mw.executeCommand!('tunelint.train', [], next);
    assert.equal(sent, 0);
    assert.match(stub.shown[0].message, /needs a trusted workspace/);
    await mw.executeCommand!('tunelint.lintFile', [], next);
    assert.equal(sent, 1);
  });
});

describe('server capabilities and commands', () => {
  beforeEach(resetAll);

  it('context keys follow executeCommandProvider.commands', async () => {
    const { controller } = makeController(fakeRun({ python3: ok() }), fakePython(undefined, false));
    await controller.start();
    assert.equal(stub.contexts.get('tunelint.supports.lintFile'), true);
    for (const c of TRAINING) {
      assert.equal(stub.contexts.get(`tunelint.supports.${c.slice(9)}`), false, c);
    }
    assert.equal(stub.contexts.get('tunelint.serverRunning'), true);

    FakeClient.serverCommands = ['tunelint.lintFile', 'tunelint.addToBaseline', ...TRAINING];
    await controller.restart('new server');
    for (const c of TRAINING) {
      assert.equal(stub.contexts.get(`tunelint.supports.${c.slice(9)}`), true, c);
    }
  });

  it('a server with no executeCommandProvider at all breaks nothing', async () => {
    FakeClient.serverCommands = undefined;
    const { controller } = makeController(fakeRun({ python3: ok() }), fakePython(undefined, false));
    await controller.start();
    assert.equal(controller.state, 'ready');
    assert.equal(stub.contexts.get('tunelint.supports.train'), false);
  });

  it('commands registered later by the server (client/registerCapability) also set their keys', async () => {
    const { controller } = makeController(fakeRun({ python3: ok() }), fakePython(undefined, false));
    await controller.start();
    const mw = lastClient().options.middleware!;
    await mw.handleRegisterCapability!(
      { registrations: [{ id: '1', method: 'workspace/executeCommand', registerOptions: { commands: ['tunelint.train'] } }] },
      (async () => undefined) as never,
    );
    assert.equal(stub.contexts.get('tunelint.supports.train'), true);
  });

  it('training commands get the active dataset URI; a clicked file wins; server-made arguments pass through', async () => {
    FakeClient.serverCommands = ['tunelint.lintFile', 'tunelint.addToBaseline', ...TRAINING];
    const { controller } = makeController(fakeRun({ python3: ok() }), fakePython(undefined, false));
    await controller.start();
    const mw = lastClient().options.middleware!;
    const sent: [string, unknown[]][] = [];
    const next = async (command: string, args: unknown[]) => {
      sent.push([command, args]);
      return 'done';
    };
    stub.openJsonl('/d/train.jsonl');
    assert.equal(await mw.executeCommand!('tunelint.train', [], next), 'done');
    await mw.executeCommand!('tunelint.evaluate', [Uri.file('/d/valid.jsonl'), [Uri.file('/d/valid.jsonl')]], next);
    await mw.executeCommand!('tunelint.addToBaseline', ['file:///d/train.jsonl', 3, 'TL202'], next);
    await mw.executeCommand!('tunelint.showRun', [], next);
    assert.deepEqual(sent, [
      ['tunelint.train', ['file:///d/train.jsonl']],
      ['tunelint.evaluate', ['file:///d/valid.jsonl']],
      ['tunelint.addToBaseline', ['file:///d/train.jsonl', 3, 'TL202']],
      ['tunelint.showRun', ['file:///d/train.jsonl']],
    ]);
  });

  it('without a JSONL editor: lintFile asks for a file, train says to open one, cancel is sent bare', async () => {
    const { controller } = makeController(fakeRun({ python3: ok() }), fakePython(undefined, false));
    await controller.start();
    const mw = lastClient().options.middleware!;
    const sent: [string, unknown[]][] = [];
    const next = async (command: string, args: unknown[]) => void sent.push([command, args]);
    stub.openDialogAnswer = [Uri.file('/big/huge.jsonl')];
    await mw.executeCommand!('tunelint.lintFile', [], next);
    await mw.executeCommand!('tunelint.train', [], next);
    await mw.executeCommand!('tunelint.cancel', [], next);
    assert.deepEqual(sent, [
      ['tunelint.lintFile', ['file:///big/huge.jsonl']],
      ['tunelint.cancel', []],
    ]);
    assert.match(stub.shown[0].message, /open a \.jsonl dataset first/);
  });
});

describe('settings forwarding and client options', () => {
  beforeEach(resetAll);

  it('document selector, configuration sync, channels and initializationOptions', async () => {
    stub.levels.global = { 'tunelint.profile': 'hf', 'tunelint.maxTokens': 2048, 'tunelint.train.epochs': 3 };
    const { controller, output, trace } = makeController(fakeRun({ python3: ok() }), fakePython(undefined, false));
    await controller.start();
    const o = lastClient().options;
    assert.deepEqual(o.documentSelector, [
      { scheme: 'file', language: 'jsonl' },
      { scheme: 'untitled', language: 'jsonl' },
      { scheme: 'file', pattern: '**/*.jsonl' },
    ]);
    assert.deepEqual(o.synchronize, { configurationSection: 'tunelint' });
    assert.deepEqual(o.initializationOptions, { profile: 'hf', maxTokens: 2048, train: { epochs: 3 } });
    assert.equal(o.outputChannel, output as never);
    assert.equal(o.traceOutputChannel, trace as never);
    assert.equal(trace.name, 'tunelint (trace)');
  });

  it('workspace/configuration answers the tunelint section as the settings object, current values', async () => {
    const { controller } = makeController(fakeRun({ python3: ok() }), fakePython(undefined, false));
    await controller.start();
    stub.set('workspace', 'tunelint.ignore', ['TL7']);
    stub.set('workspace', 'tunelint.train.learningRate', 0.0001);
    const mw = lastClient().options.middleware!;
    let nextCalled = 0;
    const next = (async (params: { items: unknown[] }) => {
      nextCalled++;
      return params.items.map(() => ({ other: true }));
    }) as never;
    const only = await mw.workspace!.configuration!({ items: [{ section: 'tunelint', scopeUri: 'file:///d/train.jsonl' }] }, {} as never, next);
    assert.deepEqual(only, [{ ignore: ['TL7'], train: { learningRate: 0.0001 } }]);
    assert.equal(nextCalled, 0);
    const mixed = await mw.workspace!.configuration!({ items: [{ section: 'editor' }, { section: 'tunelint' }] }, {} as never, next);
    assert.deepEqual(mixed, [{ other: true }, { ignore: ['TL7'], train: { learningRate: 0.0001 } }]);
  });
});

describe('status bar', () => {
  beforeEach(resetAll);

  it('shows the state and a running job\'s $/progress', async () => {
    const { controller, output } = makeController(fakeRun({ python3: ok() }), fakePython(undefined, false));
    const item = stub.statusItems[0];
    assert.equal(item.id, 'tunelint.status');
    await controller.start();
    assert.equal(item.text, '$(check) tunelint');
    assert.ok(item.visible);
    const mw = lastClient().options.middleware!;
    const passed: unknown[] = [];
    const next = (_t: unknown, p: unknown) => void passed.push(p);
    mw.handleWorkDoneProgress!('job-1', { kind: 'begin', title: 'Fine-tuning', percentage: 0, message: 'loading model' }, next);
    assert.equal(item.text, '$(sync~spin) tunelint: Fine-tuning 0% loading model');
    mw.handleWorkDoneProgress!('job-1', { kind: 'report', percentage: 42.4, message: 'step 42/100' }, next);
    assert.equal(item.text, '$(sync~spin) tunelint: Fine-tuning 42% step 42/100');
    mw.handleWorkDoneProgress!('job-1', { kind: 'end', message: 'saved to runs/1' }, next);
    assert.equal(item.text, '$(check) tunelint');
    assert.equal(passed.length, 3, 'the built-in progress UI still gets every notification');
    assert.ok(output.lines.some((l) => l.includes('saved to runs/1')));
    await stub.registered.get('tunelint.showOutput')!();
    assert.equal(output.shown, 1);
  });
});
