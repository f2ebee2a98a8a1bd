/* The settings the server reads: the `tunelint` section as one object (camelCase keys, the
 * training defaults nested under `train`), sent as initializationOptions and as the answer to
 * `workspace/configuration`; generation settings under `generate`. No `vscode` import (tested in test/settings.test.ts). */

/** Keys the server reads: the linter settings (tunelint/options.py LintOptions, camelCase) and
 * `worstExamples` (how many worst-loss examples of the last fine-tune to mark); tests/test_options.py
 * checks both lists against the server's models and package.json. */
export const SERVER_KEYS = [
  'profile', 'tokenizer', 'maxTokens', 'select', 'ignore', 'severity', 'duplicateThreshold', 'duplicateCasefold',
  'maxLineBytes', 'languages', 'worstExamples', 'hardestExamples',
] as const;
/** Training defaults, under `tunelint.train.*`, forwarded as `train: {...}`: every field of the
 * trainer's TrainSettings (trainer/settings.py), camelCase. */
export const TRAIN_KEYS = [
  'model',
  'method',
  'epochs',
  'maxSteps',
  'learningRate',
  'maxLength',
  'batchSize',
  'gradAccum',
  'packing',
  'seed',
  'gradientCheckpointing',
  'loraR',
  'loraAlpha',
  'evalMaxNewTokens',
  'loggingSteps',
  'checkpointSteps',
  'evalSteps',
  'earlyStopping',
  'dynamics',
  'dynamicsBaseMax',
  'paddingFree',
  'liger',
  'evalBatchSize',
  'reportTo',
] as const;
/** Generation settings for `tunelint.compare`, under `tunelint.generate.*`, forwarded as
 * `generate: {...}`: the fields of tunelint/options.py's GenerateOptions, camelCase. Their
 * defaults are real values (128, 0, 1), so only what the user set at some level is sent: the
 * project's `[generate]` table still applies otherwise. */
export const GENERATE_KEYS = ['maxNewTokens', 'temperature', 'topP'] as const;
/** Settings read by the extension itself; a change restarts the server. */
export const RESTART_KEYS = ['tunelint.path', 'tunelint.interpreter'] as const;

export type ServerKey = (typeof SERVER_KEYS)[number];
export type TrainKey = (typeof TRAIN_KEYS)[number];
export type GenerateKey = (typeof GENERATE_KEYS)[number];

export type ServerSettings = Partial<Record<ServerKey, unknown>> & {
  train: Partial<Record<TrainKey, unknown>>;
  generate?: Partial<Record<GenerateKey, unknown>>;
};

/** What `WorkspaceConfiguration` offers, the part used here. */
export interface ConfigReader {
  get<T>(key: string): T | undefined;
  inspect?<T>(key: string): { globalValue?: T; workspaceValue?: T; workspaceFolderValue?: T } | undefined;
}

/** The value the user set at some level (folder, workspace, user), ignoring the default. */
function setValue(cfg: ConfigReader, key: string): unknown {
  if (!cfg.inspect) {
    return cfg.get<unknown>(key);
  }
  const i = cfg.inspect<unknown>(key);
  return [i?.workspaceFolderValue, i?.workspaceValue, i?.globalValue].find((v) => v !== undefined && v !== null);
}

/** Unset means "let the project's config file (or the trainer) decide": null, undefined, an
 * empty string and an empty object are left out, so that the server applies only what the user
 * set (editor settings override tunelint.toml / pyproject.toml). */
function present(v: unknown): boolean {
  if (v === undefined || v === null) {
    return false;
  }
  if (typeof v === 'string') {
    return v.trim() !== '';
  }
  if (typeof v === 'object' && !Array.isArray(v)) {
    return Object.keys(v as object).length > 0;
  }
  return true;
}

function plain(v: unknown): unknown {
  // VS Code hands out frozen proxies; send plain JSON.
  return v !== null && typeof v === 'object' ? JSON.parse(JSON.stringify(v)) : v;
}

/** The server's settings object from the `tunelint` section. */
export function serverSettings(cfg: ConfigReader): ServerSettings {
  const out: ServerSettings = { train: {} };
  for (const key of SERVER_KEYS) {
    const v = cfg.get<unknown>(key);
    if (present(v)) {
      out[key] = plain(v);
    }
  }
  for (const key of TRAIN_KEYS) {
    const v = cfg.get<unknown>(`train.${key}`);
    if (present(v)) {
      out.train[key] = plain(v);
    }
  }
  const generate: Partial<Record<GenerateKey, unknown>> = {};
  for (const key of GENERATE_KEYS) {
    const v = setValue(cfg, `generate.${key}`);
    if (present(v)) {
      generate[key] = plain(v);
    }
  }
  if (Object.keys(generate).length) {
    out.generate = generate;
  }
  return out;
}

/** Whether a configuration change needs the server restarted (a different program to run). */
export function needsRestart(affects: (section: string) => boolean): boolean {
  return RESTART_KEYS.some((k) => affects(k));
}
