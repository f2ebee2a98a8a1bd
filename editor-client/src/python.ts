/* The Python extension (ms-python.python), if present: its active interpreter and the event when
 * the user picks another. Every step is defensive: the extension may be missing, disabled, fail
 * to activate, or be an old version without the `environments` API. */

import * as vscode from 'vscode';

export const PYTHON_EXTENSION_ID = 'ms-python.python';

interface EnvironmentPath {
  id?: string;
  path?: string;
}

/** The part of the Python extension's API used here. */
export interface PythonApi {
  environments?: {
    getActiveEnvironmentPath?(resource?: vscode.Uri): EnvironmentPath | undefined;
    resolveEnvironment?(env: EnvironmentPath | string): Thenable<{ executable?: { uri?: vscode.Uri } } | undefined>;
    onDidChangeActiveEnvironmentPath?: vscode.Event<unknown>;
  };
  settings?: {
    getExecutionDetails?(resource?: vscode.Uri): { execCommand?: string[] };
  };
}

export interface PythonEnvironments {
  /** The active interpreter's executable for `resource`, if the Python extension knows one. */
  activeInterpreter(resource?: vscode.Uri): Promise<string | undefined>;
  /** Fires when the user picks another interpreter. */
  onDidChange(listener: () => void): vscode.Disposable;
  /** Whether the Python extension is installed (for "Select interpreter"). */
  readonly available: boolean;
}

async function loadApi(log: (m: string) => void): Promise<PythonApi | undefined> {
  try {
    const ext = vscode.extensions.getExtension<PythonApi>(PYTHON_EXTENSION_ID);
    if (!ext) {
      return undefined;
    }
    const api = ext.isActive ? ext.exports : await ext.activate();
    return api ?? undefined;
  } catch (e) {
    log(`the Python extension did not activate: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}

export function pythonEnvironments(log: (m: string) => void): PythonEnvironments {
  let apiPromise: Promise<PythonApi | undefined> | undefined;
  const api = () => (apiPromise ??= loadApi(log));
  return {
    get available() {
      return vscode.extensions.getExtension(PYTHON_EXTENSION_ID) !== undefined;
    },
    async activeInterpreter(resource) {
      const a = await api();
      if (!a) {
        return undefined;
      }
      try {
        const envs = a.environments;
        if (envs?.getActiveEnvironmentPath && envs.resolveEnvironment) {
          const envPath = envs.getActiveEnvironmentPath(resource);
          if (envPath) {
            const resolved = await envs.resolveEnvironment(envPath);
            const fsPath = resolved?.executable?.uri?.fsPath;
            if (fsPath) {
              return fsPath;
            }
          }
        }
        const exec = a.settings?.getExecutionDetails?.(resource)?.execCommand;
        if (Array.isArray(exec) && exec.length === 1 && typeof exec[0] === 'string' && exec[0] !== '') {
          return exec[0];
        }
      } catch (e) {
        log(`could not ask the Python extension for its interpreter: ${e instanceof Error ? e.message : String(e)}`);
      }
      return undefined;
    },
    onDidChange(listener) {
      let inner: vscode.Disposable | undefined;
      let disposed = false;
      void api().then((a) => {
        const event = a?.environments?.onDidChangeActiveEnvironmentPath;
        if (!disposed && typeof event === 'function') {
          try {
            inner = event(() => listener());
          } catch (e) {
            log(`could not watch the Python extension's interpreter: ${e instanceof Error ? e.message : String(e)}`);
          }
        }
      });
      return {
        dispose() {
          disposed = true;
          inner?.dispose();
        },
      };
    },
  };
}
