/* Which server commands the extension offers: one context key per command, true when the server
 * lists the command in `executeCommandProvider.commands`. No `vscode` import. */

/** Commands contributed in package.json that the server executes (the language client registers
 * each one the server lists; the extension's middleware adds the document's URI). */
export const SERVER_COMMANDS = [
  'tunelint.lintFile',
  'tunelint.train',
  'tunelint.evaluate',
  'tunelint.cancel',
  'tunelint.showRun',
  'tunelint.compare',
  'tunelint.serve',
  'tunelint.stopServe',
] as const;

/** Commands that start or touch training runs (or load and run their models): refused in an
 * untrusted workspace. */
export const TRUSTED_COMMANDS: ReadonlySet<string> = new Set([
  'tunelint.train', 'tunelint.evaluate', 'tunelint.cancel', 'tunelint.showRun',
  'tunelint.compare', 'tunelint.serve', 'tunelint.stopServe',
]);

/** The compare command: `[uri, line (0-based), run?]`; the extension shows its side-by-side panel. */
export const COMPARE_COMMAND = 'tunelint.compare';
export const SERVE_COMMAND = 'tunelint.serve';
export const STOP_SERVE_COMMAND = 'tunelint.stopServe';

/** The client's `experimental` capabilities: the compare panel (src/compare.ts), so the server
 * streams `tunelint/compareUpdate` to it instead of opening its markdown view; and the served URL
 * shown with a Copy button (src/compare.ts), so the server does not show it a second time. */
export function experimentalCapabilities(): Record<string, unknown> {
  return { tunelintComparePanel: true, tunelintShowsServeUrl: true };
}

/** Commands that need a dataset: the active JSONL document (or the clicked file). */
export const DOCUMENT_COMMANDS: ReadonlySet<string> = new Set(['tunelint.lintFile', 'tunelint.train', 'tunelint.evaluate']);

/** Context key set while the server is running. */
export const RUNNING_KEY = 'tunelint.serverRunning';

/** `tunelint.train` → `tunelint.supports.train`. */
export function contextKeyFor(command: string): string {
  return `tunelint.supports.${command.replace(/^tunelint\./, '')}`;
}

/** The context keys to set for the commands a server lists (undefined: no server). */
export function contextKeys(commands: readonly string[] | undefined): Record<string, boolean> {
  const listed = new Set(commands ?? []);
  const out: Record<string, boolean> = {};
  for (const c of SERVER_COMMANDS) {
    out[contextKeyFor(c)] = listed.has(c);
  }
  return out;
}
