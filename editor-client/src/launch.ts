/* How the language server is started: which command to run, from the settings and the Python
 * extension's environment, and whether tunelint runs there. No `vscode` import: these are
 * plain functions, tested on their own (test/launch.test.ts). */

import * as childProcess from 'child_process';
import * as path from 'path';

/** What `WorkspaceConfiguration.inspect()` returns, the parts that matter here. */
export interface Inspected<T> {
  defaultValue?: T;
  globalValue?: T;
  workspaceValue?: T;
  workspaceFolderValue?: T;
}

export interface TrustedValue<T> {
  value?: T;
  /** A workspace-level value that was not used because the workspace is not trusted. */
  ignored?: T;
}

function isSet<T>(v: T | undefined | null): v is T {
  return v !== undefined && v !== null && !(typeof v === 'string' && v.trim() === '');
}

/** The value of a setting that names a program to run. In a trusted workspace the most specific
 * level wins (folder, workspace, user); in an untrusted one only the user's own (global) value
 * counts, so that opening a folder cannot make the editor run a program the folder names. */
export function trustedValue<T>(inspected: Inspected<T> | undefined, trusted: boolean): TrustedValue<T> {
  if (!inspected) {
    return {};
  }
  const local = [inspected.workspaceFolderValue, inspected.workspaceValue].find(isSet);
  if (trusted) {
    const value = isSet(local) ? local : isSet(inspected.globalValue) ? inspected.globalValue : undefined;
    return { value };
  }
  return {
    value: isSet(inspected.globalValue) ? inspected.globalValue : undefined,
    ignored: isSet(local) ? local : undefined,
  };
}

export type LaunchSource = 'tunelint.path' | 'tunelint.interpreter' | 'Python extension' | 'PATH';

/** One way to start the server. `python` is set when the server runs as `<python> -m tunelint`. */
export interface Launch {
  command: string;
  args: string[];
  source: LaunchSource;
  python?: string;
}

export interface LaunchInputs {
  /** `tunelint.path`, already filtered by workspace trust. */
  path?: string;
  /** `tunelint.interpreter`, already filtered by workspace trust. */
  interpreter?: string;
  /** The Python extension's active environment's executable, if any. */
  pythonExtension?: string;
  platform: NodeJS.Platform;
}

function viaPython(python: string, source: LaunchSource): Launch {
  return { command: python, args: ['-m', 'tunelint', 'server'], source, python };
}

/** The ways to start the server, best first. An explicit `tunelint.path` or
 * `tunelint.interpreter` is the only candidate (if it does not work the user is told, rather
 * than something else silently run); otherwise the Python extension's interpreter, then
 * `python3` and `python` on PATH (`python` first on Windows, where `python3` is often the
 * Store's stub). */
export function launchCandidates(inputs: LaunchInputs): Launch[] {
  if (isSet(inputs.path)) {
    return [{ command: inputs.path.trim(), args: ['server'], source: 'tunelint.path' }];
  }
  if (isSet(inputs.interpreter)) {
    return [viaPython(inputs.interpreter.trim(), 'tunelint.interpreter')];
  }
  const out: Launch[] = [];
  if (isSet(inputs.pythonExtension)) {
    out.push(viaPython(inputs.pythonExtension, 'Python extension'));
  }
  const onPath = inputs.platform === 'win32' ? ['python', 'python3'] : ['python3', 'python'];
  for (const p of onPath) {
    out.push(viaPython(p, 'PATH'));
  }
  return out;
}

/** The arguments that print tunelint's version through the same program. */
export function versionArgs(launch: Launch): string[] {
  return launch.python !== undefined ? ['-m', 'tunelint', '--version'] : ['--version'];
}

/** Whether `file` lies inside one of `folders` (all absolute file-system paths). */
export function isInside(file: string, folders: readonly string[], platform: NodeJS.Platform = process.platform): boolean {
  const p = platform === 'win32' ? path.win32 : path.posix;
  const norm = (s: string) => (platform === 'win32' || platform === 'darwin' ? s.toLowerCase() : s);
  const f = norm(p.resolve(file));
  return folders.some((folder) => {
    const rel = p.relative(norm(p.resolve(folder)), f);
    return rel === '' || (!rel.startsWith('..') && !p.isAbsolute(rel));
  });
}

/** A program setting as a path to run: `${workspaceFolder}`, `${userHome}` and a leading `~`
 * expanded; a relative path with a directory part (`.venv/bin/python`) taken from the first
 * workspace folder; a bare name (`python3`, `tunelint`) left for a PATH lookup. */
export function resolveProgramPath(value: string, workspaceFolder: string | undefined, home: string | undefined): string {
  let v = value.trim();
  if (home) {
    v = v.replace(/\$\{userHome\}/g, home);
    if (v === '~' || v.startsWith('~/') || v.startsWith('~\\')) {
      v = home + v.slice(1);
    }
  }
  if (workspaceFolder) {
    v = v.replace(/\$\{workspaceFolder\}/g, workspaceFolder);
    const hasDir = /[\\/]/.test(v);
    if (hasDir && !path.isAbsolute(v) && !path.win32.isAbsolute(v)) {
      v = path.join(workspaceFolder, v);
    }
  }
  return v;
}

// -- running a program to check it ---------------------------------------------------------

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The spawn error's code (ENOENT: no such program, EACCES: not executable). */
  errorCode?: string;
  errorMessage?: string;
  timedOut: boolean;
}

export type RunFn = (command: string, args: string[], timeoutMs: number) => Promise<RunResult>;

/** The subset of `child_process.spawn` used here, so tests can pass a fake. */
export type SpawnFn = (command: string, args: string[], options: childProcess.SpawnOptions) => childProcess.ChildProcess;

/** Run a program to completion (or until the timeout), collecting its output. */
export function makeRun(spawn: SpawnFn = childProcess.spawn as SpawnFn): RunFn {
  return (command, args, timeoutMs) =>
    new Promise<RunResult>((resolve) => {
      let stdout = '';
      let stderr = '';
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (r: Omit<RunResult, 'stdout' | 'stderr'>) => {
        if (settled) {
          return;
        }
        settled = true;
        if (timer) {
          clearTimeout(timer);
        }
        resolve({ ...r, stdout, stderr });
      };
      let child: childProcess.ChildProcess;
      try {
        child = spawn(command, args, { shell: false, windowsHide: true, stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        finish({ code: null, errorCode: err.code ?? 'ERROR', errorMessage: err.message, timedOut: false });
        return;
      }
      child.stdout?.on('data', (d) => (stdout += String(d)));
      child.stderr?.on('data', (d) => (stderr += String(d)));
      child.on('error', (err: NodeJS.ErrnoException) =>
        finish({ code: null, errorCode: err.code ?? 'ERROR', errorMessage: err.message, timedOut: false }));
      child.on('close', (code) => finish({ code, timedOut: false }));
      timer = setTimeout(() => {
        try {
          child.kill();
        } catch {
          // already gone
        }
        finish({ code: null, timedOut: true });
      }, timeoutMs);
    });
}

export type ProbeStatus =
  | 'ok' // tunelint runs; `version` is set
  | 'no-program' // the program itself does not exist / cannot be executed
  | 'not-installed' // Python runs but has no tunelint module
  | 'broken' // tunelint is there but fails (detail: the last line of its error)
  | 'timeout'; // no answer in time (it may still work: slow first start)

export interface Probe {
  launch: Launch;
  status: ProbeStatus;
  version?: string;
  detail?: string;
}

export const PROBE_TIMEOUT_MS = 20_000;

function lastLine(text: string): string {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  return lines.length ? lines[lines.length - 1] : '';
}

/** Check that tunelint runs through `launch` (`<python> -m tunelint --version` or
 * `<path> --version`). */
export async function probe(launch: Launch, run: RunFn, timeoutMs = PROBE_TIMEOUT_MS): Promise<Probe> {
  const r = await run(launch.command, versionArgs(launch), timeoutMs);
  if (r.timedOut) {
    return { launch, status: 'timeout', detail: `no answer in ${Math.round(timeoutMs / 1000)} s` };
  }
  if (r.errorCode !== undefined) {
    return { launch, status: 'no-program', detail: r.errorMessage ?? r.errorCode };
  }
  if (r.code === 0) {
    const m = /(\d+\.\d+[\w.+-]*)/.exec(r.stdout) ?? /(\d+\.\d+[\w.+-]*)/.exec(r.stderr);
    return { launch, status: 'ok', version: m ? m[1] : lastLine(r.stdout) };
  }
  const err = r.stderr || r.stdout;
  if (launch.python !== undefined && /No module named '?tunelint'?(\s|$)/.test(err)) {
    return { launch, status: 'not-installed', detail: lastLine(err) };
  }
  // A Windows shell's "not recognized" or a POSIX shell's 127/9009 also mean "no such program".
  if (r.code === 127 || r.code === 9009) {
    return { launch, status: 'no-program', detail: lastLine(err) || `exit code ${r.code}` };
  }
  return { launch, status: 'broken', detail: lastLine(err) || `exit code ${r.code}` };
}

export interface Choice {
  /** The launch to use, when one works (or timed out, and so may work). */
  launch?: Launch;
  version?: string;
  /** Every probe made, in order. */
  probes: Probe[];
  /** When nothing works: the probe to tell the user about (the most preferred candidate that
   * exists, else the first). */
  problem?: Probe;
}

/** Probe the candidates in order and take the first where tunelint runs. */
export async function chooseLaunch(candidates: Launch[], run: RunFn, timeoutMs = PROBE_TIMEOUT_MS): Promise<Choice> {
  const probes: Probe[] = [];
  for (const c of candidates) {
    const p = await probe(c, run, timeoutMs);
    probes.push(p);
    if (p.status === 'ok' || p.status === 'timeout') {
      return { launch: c, version: p.version, probes };
    }
  }
  const problem = probes.find((p) => p.status !== 'no-program') ?? probes[0];
  return { probes, problem };
}

// -- telling the user what to do -----------------------------------------------------------

/** Quote a path for the user's shell when it needs it. */
export function shellQuote(s: string, platform: NodeJS.Platform): string {
  if (/^[\w@%+=:,./\\-]+$/.test(s)) {
    return s;
  }
  return platform === 'win32' ? `"${s.replace(/"/g, '""')}"` : `'${s.replace(/'/g, `'\\''`)}'`;
}

export type FixAction = 'Copy install command' | 'Select interpreter' | 'Open settings';

export interface Problem {
  message: string;
  installCommand?: string;
  actions: FixAction[];
}

/** One clear message, with its fix, for a launch that does not work (or for no Python at all). */
export function describeProblem(problem: Probe | undefined, platform: NodeJS.Platform): Problem {
  if (problem === undefined) {
    return {
      message: 'tunelint: no way to start the language server was found. Set `tunelint.path` or `tunelint.interpreter`.',
      actions: ['Select interpreter', 'Open settings'],
    };
  }
  const { launch } = problem;
  if (launch.python === undefined) {
    // tunelint.path
    const why = problem.status === 'no-program' ? 'could not be run' : `failed (${problem.detail})`;
    return {
      message: `tunelint: \`tunelint.path\` is ${launch.command}, which ${why}. Point it at the \`tunelint\` executable, or clear it to use a Python interpreter.`,
      actions: ['Open settings'],
    };
  }
  const py = shellQuote(launch.python, platform);
  if (problem.status === 'no-program') {
    if (launch.source === 'PATH') {
      return {
        message: 'tunelint: no Python found on PATH. Install Python 3.10+ and then `pip install tunelint`, or choose an interpreter.',
        installCommand: 'python3 -m pip install tunelint',
        actions: ['Select interpreter', 'Open settings'],
      };
    }
    return {
      message: `tunelint: the Python interpreter ${launch.command} (from ${launch.source}) could not be run. Choose another interpreter.`,
      actions: ['Select interpreter', 'Open settings'],
    };
  }
  if (problem.status === 'not-installed') {
    const installCommand = `${py} -m pip install tunelint`;
    return {
      message: `tunelint is not installed in ${launch.python}: run \`${installCommand}\`, then "tunelint: Restart server".`,
      installCommand,
      actions: ['Copy install command', 'Select interpreter', 'Open settings'],
    };
  }
  const installCommand = `${py} -m pip install --force-reinstall tunelint`;
  return {
    message: `tunelint does not start in ${launch.python}: ${problem.detail}. Reinstall it: \`${installCommand}\`, then "tunelint: Restart server".`,
    installCommand,
    actions: ['Copy install command', 'Select interpreter', 'Open settings'],
  };
}
