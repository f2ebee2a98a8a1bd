import * as assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';

import {
  chooseLaunch,
  describeProblem,
  isInside,
  launchCandidates,
  makeRun,
  probe,
  resolveProgramPath,
  shellQuote,
  SpawnFn,
  trustedValue,
} from '../src/launch';
import { fakeRun, noModule, ok } from './helpers';

describe('launchCandidates: which program runs the server', () => {
  it('tunelint.path wins over everything, run as `<path> server`', () => {
    const c = launchCandidates({ path: '/opt/tl/bin/tunelint', interpreter: '/usr/bin/python3.12', pythonExtension: '/venv/bin/python', platform: 'linux' });
    assert.deepEqual(c, [{ command: '/opt/tl/bin/tunelint', args: ['server'], source: 'tunelint.path' }]);
  });

  it('then tunelint.interpreter, run as `<python> -m tunelint server`', () => {
    const c = launchCandidates({ interpreter: '/usr/bin/python3.12', pythonExtension: '/venv/bin/python', platform: 'linux' });
    assert.deepEqual(c, [{ command: '/usr/bin/python3.12', args: ['-m', 'tunelint', 'server'], source: 'tunelint.interpreter', python: '/usr/bin/python3.12' }]);
  });

  it("then the Python extension's interpreter, then python3 and python on PATH", () => {
    const c = launchCandidates({ pythonExtension: '/venv/bin/python', platform: 'linux' });
    assert.deepEqual(c.map((x) => [x.command, x.source]), [
      ['/venv/bin/python', 'Python extension'],
      ['python3', 'PATH'],
      ['python', 'PATH'],
    ]);
    assert.ok(c.every((x) => x.args.join(' ') === '-m tunelint server'));
  });

  it('with nothing set, only PATH (python first on Windows)', () => {
    assert.deepEqual(launchCandidates({ platform: 'linux' }).map((x) => x.command), ['python3', 'python']);
    assert.deepEqual(launchCandidates({ platform: 'win32' }).map((x) => x.command), ['python', 'python3']);
  });

  it('blank settings count as unset', () => {
    const c = launchCandidates({ path: '  ', interpreter: '', platform: 'linux' });
    assert.equal(c[0].command, 'python3');
  });
});

describe('trustedValue: workspace trust and setting levels', () => {
  const inspected = { defaultValue: '', globalValue: '/home/u/.venv/bin/python', workspaceValue: './evil/python', workspaceFolderValue: undefined };

  it('a trusted workspace uses the most specific level', () => {
    assert.deepEqual(trustedValue(inspected, true), { value: './evil/python' });
    assert.deepEqual(trustedValue({ ...inspected, workspaceFolderValue: '/f/python' }, true), { value: '/f/python' });
    assert.deepEqual(trustedValue({ globalValue: '/g' }, true), { value: '/g' });
  });

  it('an untrusted workspace uses only the user value, and says what it ignored', () => {
    assert.deepEqual(trustedValue(inspected, false), { value: '/home/u/.venv/bin/python', ignored: './evil/python' });
    assert.deepEqual(trustedValue({ workspaceValue: '/w' }, false), { value: undefined, ignored: '/w' });
  });

  it('empty values and a missing inspection are unset', () => {
    assert.deepEqual(trustedValue({ globalValue: '', workspaceValue: '' }, true), { value: undefined });
    assert.deepEqual(trustedValue(undefined, false), {});
  });
});

describe('resolveProgramPath and isInside', () => {
  it('expands ${workspaceFolder}, ${userHome}, ~ and relative paths; leaves bare names', () => {
    assert.equal(resolveProgramPath('${workspaceFolder}/.venv/bin/python', '/w', '/home/u'), '/w/.venv/bin/python');
    assert.equal(resolveProgramPath('.venv/bin/python', '/w', '/home/u'), '/w/.venv/bin/python');
    assert.equal(resolveProgramPath('~/.local/bin/tunelint', '/w', '/home/u'), '/home/u/.local/bin/tunelint');
    assert.equal(resolveProgramPath('${userHome}/py/bin/python', undefined, '/home/u'), '/home/u/py/bin/python');
    assert.equal(resolveProgramPath('python3.12', '/w', '/home/u'), 'python3.12');
    assert.equal(resolveProgramPath('/usr/bin/python3', '/w', '/home/u'), '/usr/bin/python3');
  });

  it('isInside', () => {
    assert.ok(isInside('/w/.venv/bin/python', ['/w'], 'linux'));
    assert.ok(isInside('/w/a/../b/python', ['/x', '/w'], 'linux'));
    assert.ok(!isInside('/work/python', ['/w'], 'linux'));
    assert.ok(!isInside('/usr/bin/python3', ['/w'], 'linux'));
    assert.ok(isInside('C:\\Proj\\.venv\\Scripts\\python.exe', ['c:\\proj'], 'win32'));
  });
});

describe('probe and chooseLaunch: is tunelint runnable there?', () => {
  const python = launchCandidates({ interpreter: '/usr/bin/python3', platform: 'linux' })[0];
  const exe = launchCandidates({ path: '/opt/tunelint', platform: 'linux' })[0];

  it('asks `<python> -m tunelint --version` / `<path> --version`', async () => {
    const run = fakeRun({ '/usr/bin/python3': ok(), '/opt/tunelint': ok('tunelint, version 0.2.0rc1') });
    assert.deepEqual(await probe(python, run), { launch: python, status: 'ok', version: '0.1.0' });
    assert.equal((await probe(exe, run)).version, '0.2.0rc1');
    assert.deepEqual(run.calls, ['/usr/bin/python3 -m tunelint --version', '/opt/tunelint --version']);
  });

  it('tells a missing program, a missing module, a broken install and a timeout apart', async () => {
    assert.equal((await probe(python, fakeRun({}))).status, 'no-program');
    assert.equal((await probe(python, fakeRun({ '/usr/bin/python3': noModule() }))).status, 'not-installed');
    const broken = await probe(python, fakeRun({
      '/usr/bin/python3': { code: 1, stdout: '', stderr: "Traceback...\nModuleNotFoundError: No module named 'tunelint.linter'\n", timedOut: false },
    }));
    assert.equal(broken.status, 'broken');
    assert.equal(broken.detail, "ModuleNotFoundError: No module named 'tunelint.linter'");
    const slow = await probe(python, fakeRun({ '/usr/bin/python3': { code: null, stdout: '', stderr: '', timedOut: true } }));
    assert.equal(slow.status, 'timeout');
  });

  it('takes the first candidate where tunelint runs', async () => {
    const candidates = launchCandidates({ pythonExtension: '/venv/bin/python', platform: 'linux' });
    const run = fakeRun({ '/venv/bin/python': noModule(), python3: ok() });
    const choice = await chooseLaunch(candidates, run);
    assert.equal(choice.launch?.command, 'python3');
    assert.deepEqual(choice.probes.map((p) => p.status), ['not-installed', 'ok']);
  });

  it('when none works, reports the most preferred Python that exists', async () => {
    const candidates = launchCandidates({ pythonExtension: '/venv/bin/python', platform: 'linux' });
    const choice = await chooseLaunch(candidates, fakeRun({ '/venv/bin/python': noModule(), python3: noModule() }));
    assert.equal(choice.launch, undefined);
    assert.equal(choice.problem?.launch.command, '/venv/bin/python');
    const none = await chooseLaunch(candidates, fakeRun({}));
    assert.equal(none.problem?.status, 'no-program');
    assert.equal(none.problem?.launch.command, '/venv/bin/python');
  });
});

describe('describeProblem: one message with its fix', () => {
  it('not installed: the pip command for that Python, and the three buttons', () => {
    const launch = launchCandidates({ interpreter: '/home/u/.venv/bin/python', platform: 'linux' })[0];
    const p = describeProblem({ launch, status: 'not-installed' }, 'linux');
    assert.equal(p.installCommand, '/home/u/.venv/bin/python -m pip install tunelint');
    assert.match(p.message, /^tunelint is not installed in \/home\/u\/\.venv\/bin\/python: run `\/home\/u\/\.venv\/bin\/python -m pip install tunelint`/);
    assert.deepEqual(p.actions, ['Copy install command', 'Select interpreter', 'Open settings']);
  });

  it('quotes a path with spaces for the shell', () => {
    assert.equal(shellQuote('C:\\Program Files\\Python312\\python.exe', 'win32'), '"C:\\Program Files\\Python312\\python.exe"');
    assert.equal(shellQuote("/opt/my python/bin/python", 'linux'), "'/opt/my python/bin/python'");
    const launch = launchCandidates({ interpreter: 'C:\\Program Files\\Python312\\python.exe', platform: 'win32' })[0];
    assert.equal(describeProblem({ launch, status: 'not-installed' }, 'win32').installCommand,
      '"C:\\Program Files\\Python312\\python.exe" -m pip install tunelint');
  });

  it('a bad tunelint.path, no Python on PATH, a broken install', () => {
    const exe = launchCandidates({ path: '/nope/tunelint', platform: 'linux' })[0];
    const bad = describeProblem({ launch: exe, status: 'no-program' }, 'linux');
    assert.match(bad.message, /`tunelint.path` is \/nope\/tunelint, which could not be run/);
    assert.deepEqual(bad.actions, ['Open settings']);
    const py = launchCandidates({ platform: 'linux' })[0];
    assert.match(describeProblem({ launch: py, status: 'no-program' }, 'linux').message, /no Python found on PATH/);
    const broken = describeProblem({ launch: py, status: 'broken', detail: 'ImportError: x' }, 'linux');
    assert.match(broken.message, /does not start in python3: ImportError: x/);
    assert.equal(broken.installCommand, 'python3 -m pip install --force-reinstall tunelint');
  });
});

describe('makeRun: the real runner, with a fake spawn', () => {
  function fakeSpawn(script: (child: EventEmitter & { stdout: EventEmitter; stderr: EventEmitter; kill(): void }) => void) {
    const calls: { command: string; args: string[]; shell: unknown }[] = [];
    const spawn = ((command: string, args: string[], options: { shell?: unknown }) => {
      calls.push({ command, args, shell: options.shell });
      const child = Object.assign(new EventEmitter(), { stdout: new EventEmitter(), stderr: new EventEmitter(), killed: false, kill() { child.killed = true; } });
      setImmediate(() => script(child));
      return child;
    }) as unknown as SpawnFn;
    return { spawn, calls };
  }

  it('collects output and the exit code, without a shell', async () => {
    const { spawn, calls } = fakeSpawn((c) => {
      c.stdout.emit('data', Buffer.from('tunelint, version 0.1.0\n'));
      c.emit('close', 0);
    });
    const r = await makeRun(spawn)('/usr/bin/python3', ['-m', 'tunelint', '--version'], 1000);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'tunelint, version 0.1.0\n');
    assert.deepEqual(calls, [{ command: '/usr/bin/python3', args: ['-m', 'tunelint', '--version'], shell: false }]);
  });

  it('a spawn error (no such program) and a timeout', async () => {
    const missing = fakeSpawn((c) => c.emit('error', Object.assign(new Error('spawn nope ENOENT'), { code: 'ENOENT' })));
    const r = await makeRun(missing.spawn)('nope', [], 1000);
    assert.equal(r.errorCode, 'ENOENT');
    let killed = false;
    const hang = fakeSpawn((c) => {
      c.kill = () => {
        killed = true;
      };
    });
    const t = await makeRun(hang.spawn)('python3', [], 20);
    assert.equal(t.timedOut, true);
    assert.ok(killed);
  });

  it('a thrown spawn error becomes a result', async () => {
    const spawn = (() => {
      throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
    }) as unknown as SpawnFn;
    const r = await makeRun(spawn)('/etc/passwd', [], 100);
    assert.equal(r.errorCode, 'EACCES');
  });

  it('the real child_process: a program that does not exist', async () => {
    const r = await makeRun()('/nonexistent/tunelint-python', ['-m', 'tunelint', '--version'], 5000);
    assert.equal(r.errorCode, 'ENOENT');
    assert.equal((await probe(launchCandidates({ interpreter: '/nonexistent/tunelint-python', platform: 'linux' })[0], makeRun())).status, 'no-program');
  });
});
