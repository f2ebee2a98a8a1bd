/* The .vsix ships dist/extension.js alone (vsce --no-dependencies): the bundle must hold every
 * dependency, need only `vscode` and Node's own modules, and load. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import { describe, it } from 'node:test';

import * as esbuild from 'esbuild';

import './register';
import * as stub from './vscode-stub';

const root = path.join(__dirname, '..', '..');
const outfile = path.join(root, 'out', 'bundle', 'extension.js');

describe('the esbuild bundle', () => {
  it('needs only vscode and Node built-ins, and loads', async () => {
    // the same options as `npm run build` (package.json)
    await esbuild.build({
      entryPoints: [path.join(root, 'src', 'extension.ts')],
      bundle: true, platform: 'node', format: 'cjs', target: 'node20', external: ['vscode'], outfile, logLevel: 'silent',
    });
    const text = fs.readFileSync(outfile, 'utf8');
    const required = new Set([...text.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]));
    const builtins = new Set(builtinModules);
    for (const r of required) {
      assert.ok(r === 'vscode' || builtins.has(r.replace(/^node:/, '')), `the bundle requires ${r}`);
    }
    // vscode-languageclient extends vscode's classes while loading: give it a stub where any
    // name the fake lacks is an empty class.
    const permissive = new Proxy(stub as Record<string, unknown>, {
      get(target, prop) {
        if (typeof prop === 'symbol' || prop in target || prop === '__esModule') {
          return target[prop as string];
        }
        return class {};
      },
    });
    const Module = require('module') as { _load: (request: string, ...rest: unknown[]) => unknown };
    const load = Module._load;
    Module._load = function (this: unknown, request: string, ...rest: unknown[]) {
      return request === 'vscode' ? permissive : load.call(this, request, ...rest);
    };
    try {
      const ext = require(outfile) as Record<string, unknown>;
      assert.equal(typeof ext.activate, 'function');
      assert.equal(typeof ext.deactivate, 'function');
    } finally {
      Module._load = load;
    }
  });
});
