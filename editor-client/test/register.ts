/* Make `require('vscode')` load test/vscode-stub.ts's compiled file (and, for the activation
 * test, `vscode-languageclient/node` a fake client): import this first. */
import Module = require('module');

const fakes: Record<string, string> = {
  vscode: require.resolve('./vscode-stub'),
  'vscode-languageclient/node': require.resolve('./languageclient-stub'),
};
const mod = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
const original = mod._resolveFilename;
mod._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
  return fakes[request] ?? original.call(this, request, ...rest);
};
