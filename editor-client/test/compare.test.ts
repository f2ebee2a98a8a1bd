/* The compare panel: the model merging the server's updates and result, the webview page (its
 * CSP and its script, run here against a small fake DOM that refuses innerHTML), the panel's
 * reuse, and the compare / serve commands through the controller's middleware. */
import * as assert from 'node:assert/strict';
import * as vm from 'node:vm';
import { beforeEach, describe, it } from 'node:test';

import './register';

import { COMPARE_PANEL_CAPABILITY, COMPARE_UPDATE, CompareModel, CompareUpdate, makeNonce, messages, WEBVIEW_SCRIPT, webviewHtml } from '../src/compare';
import { ComparePanel } from '../src/panel';
import { FakeClient, fakeRun, makeController, ok, resetAll, settle } from './helpers';
import { stub, Uri } from './vscode-stub';

const URI = 'file:///proj/train.jsonl';
const PROMPT = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Why is the sky blue?' }];

function upd(over: Partial<CompareUpdate> = {}): CompareUpdate {
  return {
    id: 'c1', uri: URI, line: 3, run: 'run-1', prompt: PROMPT, reference: 'Rayleigh scattering.',
    base: { text: '', done: false }, tuned: { text: '', done: false }, ...over,
  };
}

describe('CompareModel: updates and the result', () => {
  it('each update carries the whole text so far: the latest replaces, a finished side stays', () => {
    const m = new CompareModel();
    m.begin(URI, 3);
    assert.equal(m.state?.status, 'running');
    assert.ok(m.update(upd({ base: { text: 'The', done: false } })));
    assert.ok(m.update(upd({ base: { text: 'The sky', done: false }, tuned: { text: 'Ray', done: false } })));
    assert.deepEqual([m.state?.base, m.state?.tuned], [{ text: 'The sky', done: false }, { text: 'Ray', done: false }]);
    m.update(upd({ base: { text: 'The sky is blue.', done: true }, tuned: { text: 'Rayleigh', done: false } }));
    // a late, unfinished base text does not undo the finished one
    m.update(upd({ base: { text: 'The sky', done: false }, tuned: { text: 'Rayleigh scat', done: false } }));
    assert.deepEqual(m.state?.base, { text: 'The sky is blue.', done: true });
    assert.equal(m.state?.tuned.text, 'Rayleigh scat');
    assert.equal(m.state?.id, 'c1');
    assert.deepEqual(m.state?.prompt, PROMPT);
    assert.equal(m.state?.reference, 'Rayleigh scattering.');
    assert.equal(m.state?.run, 'run-1');
  });

  it('the result finishes both sides; later updates of that compare are ignored; a new id takes over', () => {
    const m = new CompareModel();
    m.begin(URI, 3);
    m.update(upd({ tuned: { text: 'Ray', done: false } }));
    m.result({ prompt: PROMPT, reference: null, base: { text: 'Blue light.' }, tuned: { text: 'Rayleigh scattering.' }, run: 'run-1', view: 'file:///proj/.tunelint/compare/x.md' });
    assert.equal(m.state?.status, 'done');
    assert.deepEqual([m.state?.base, m.state?.tuned], [{ text: 'Blue light.', done: true }, { text: 'Rayleigh scattering.', done: true }]);
    assert.equal(m.state?.reference, null);
    assert.equal(m.state?.view, 'file:///proj/.tunelint/compare/x.md');
    assert.equal(m.update(upd({ tuned: { text: 'Ra', done: false } })), false);
    assert.equal(m.state?.tuned.text, 'Rayleigh scattering.');
    assert.ok(m.update(upd({ id: 'c2', line: 7, tuned: { text: 'x', done: false } })));
    assert.deepEqual([m.state?.id, m.state?.line, m.state?.status, m.state?.tuned.text], ['c2', 7, 'running', 'x']);
  });

  it('a failure keeps what streamed and says why; junk params are ignored', () => {
    const m = new CompareModel();
    m.begin(URI, 0);
    m.update(upd({ base: { text: 'partial', done: false } }));
    m.fail('the base model could not be loaded');
    assert.deepEqual([m.state?.status, m.state?.error, m.state?.base.text], ['error', 'the base model could not be loaded', 'partial']);
    assert.equal(m.update(null as never), false);
    assert.equal(m.update({ id: 3 } as never), false);
  });

  it('prompts of any shape become role/content messages', () => {
    assert.deepEqual(messages('hi'), [{ role: 'user', content: 'hi' }]);
    assert.deepEqual(messages([{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }]), [{ role: 'user', content: 'ab' }]);
    assert.deepEqual(messages(undefined), []);
    assert.deepEqual(messages([{ role: 'user', content: 5 }]), [{ role: 'user', content: '5' }]);
  });
});

// -- the page -----------------------------------------------------------------------------------

class FakeElement {
  children: FakeElement[] = [];
  attributes: Record<string, string> = {};
  className = '';
  id = '';
  private text = '';
  constructor(readonly tagName: string) {}
  get textContent(): string {
    return this.text + this.children.map((c) => c.textContent).join('');
  }
  set textContent(v: string) {
    this.children = [];
    this.text = String(v);
  }
  set innerHTML(_v: string) {
    throw new Error('the page script must not set innerHTML');
  }
  get firstChild(): FakeElement | undefined {
    return this.children[0];
  }
  appendChild(c: FakeElement): FakeElement {
    this.children.push(c);
    return c;
  }
  removeChild(c: FakeElement): FakeElement {
    this.children = this.children.filter((x) => x !== c);
    return c;
  }
  setAttribute(k: string, v: string): void {
    this.attributes[k] = v;
  }
  querySelector(sel: string): FakeElement | undefined {
    const match = (e: FakeElement) => (sel.startsWith('.') ? e.className.split(' ').includes(sel.slice(1)) : e.tagName === sel);
    for (const c of this.children) {
      if (match(c)) {
        return c;
      }
      const d = c.querySelector(sel);
      if (d) {
        return d;
      }
    }
    return undefined;
  }
}

/** The page's elements as webviewHtml() lays them out, and its script running against them. */
function runPage() {
  const byId = new Map<string, FakeElement>();
  const mk = (tag: string, id: string) => {
    const e = new FakeElement(tag);
    e.id = id;
    byId.set(id, e);
    return e;
  };
  for (const id of ['where', 'status', 'prompt']) {
    mk('span', id);
  }
  for (const id of ['base', 'tuned', 'reference']) {
    const col = mk('div', id);
    for (const [tag, cls] of [['h2', ''], ['div', 'note'], ['div', 'text']]) {
      const c = new FakeElement(tag);
      c.className = cls;
      col.appendChild(c);
    }
  }
  const body = new FakeElement('body');
  const listeners: ((e: { data: unknown }) => void)[] = [];
  const posted: unknown[] = [];
  let saved: unknown;
  const document = {
    body,
    getElementById: (id: string) => byId.get(id) ?? null,
    createElement: (tag: string) => new FakeElement(tag),
  };
  const window = { addEventListener: (type: string, l: (e: { data: unknown }) => void) => type === 'message' && listeners.push(l) };
  const acquireVsCodeApi = () => ({ postMessage: (m: unknown) => posted.push(m), setState: (s: unknown) => (saved = s), getState: () => saved });
  vm.runInNewContext(WEBVIEW_SCRIPT, { document, window, acquireVsCodeApi });
  return {
    byId, body, posted,
    send: (data: unknown) => listeners.forEach((l) => l({ data })),
    text: (id: string) => byId.get(id)!.querySelector('.text')!.textContent,
    saved: () => saved,
  };
}

describe('the webview page', () => {
  it('a strict CSP: no default source, scripts and styles only with the nonce', () => {
    const nonce = makeNonce();
    assert.match(nonce, /^[A-Za-z0-9]{16,}$/);
    assert.notEqual(nonce, makeNonce());
    const html = webviewHtml(nonce, 'vscode-webview://abc');
    const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)![1];
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, new RegExp(`script-src 'nonce-${nonce}'(;|$)`));
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
    const scripts = [...html.matchAll(/<script([^>]*)>/g)].map((m) => m[1]);
    assert.deepEqual(scripts, [` nonce="${nonce}"`]);
    assert.doesNotMatch(html, / on[a-z]+=/); // no inline handlers
    assert.doesNotMatch(WEBVIEW_SCRIPT, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
    assert.throws(() => webviewHtml('a"b', 'x'), /bad nonce/);
  });

  it('the script asks for the state, then shows prompt and three columns as plain text (no HTML from the dataset)', () => {
    const page = runPage();
    assert.deepEqual(JSON.parse(JSON.stringify(page.posted)), [{ type: 'ready' }]);
    const evil = '<img src=x onerror="alert(1)"><script>alert(2)</script>';
    const m = new CompareModel();
    m.begin(URI, 3);
    m.update(upd({ prompt: [{ role: 'user', content: evil }], reference: '</div>&amp;', base: { text: 'b<b>old</b>', done: true }, tuned: { text: 'tu', done: false } }));
    page.send({ type: 'state', state: m.state });
    assert.equal(page.text('base'), 'b<b>old</b>');
    assert.equal(page.text('tuned'), 'tu');
    assert.equal(page.text('reference'), '</div>&amp;');
    assert.equal(page.byId.get('prompt')!.textContent, `user${evil}`);
    assert.equal(page.byId.get('prompt')!.children.length, 1);
    assert.equal(page.byId.get('tuned')!.querySelector('.note')!.textContent, 'generating…');
    assert.equal(page.byId.get('base')!.attributes['data-done'], 'true');
    assert.equal(page.byId.get('where')!.textContent, 'train.jsonl, line 4 · run run-1');
    assert.equal(page.byId.get('tuned')!.querySelector('h2')!.textContent, 'Fine-tuned (run-1)');
    // the final state, then one without a reference
    m.result({ prompt: PROMPT, reference: null, base: { text: 'B' }, tuned: { text: 'T' }, run: 'run-1' });
    page.send({ type: 'state', state: m.state });
    assert.deepEqual(['base', 'tuned', 'reference'].map(page.text), ['B', 'T', '']);
    assert.equal(page.byId.get('base')!.querySelector('.note')!.textContent, '');
    m.result({ prompt: PROMPT, reference: 'R', base: { text: '\n\n\n' }, tuned: { text: 'T' }, run: 'run-1' });
    page.send({ type: 'state', state: m.state });
    assert.equal(page.byId.get('base')!.querySelector('.note')!.textContent, '(only whitespace: 3 characters) ');
    m.result({ prompt: PROMPT, reference: null, base: { text: 'B' }, tuned: { text: 'T' }, run: 'run-1' });
    page.send({ type: 'state', state: m.state });
    assert.equal(page.byId.get('reference')!.querySelector('.note')!.textContent, '(no reference answer on this line)');
    assert.equal(page.byId.get('prompt')!.children.length, 2);
    assert.equal(page.byId.get('status')!.textContent, 'done');
    assert.equal(page.body.attributes['data-status'], 'done');
    assert.ok(page.saved()); // kept for when the panel is restored
    page.send({ type: 'other' }); // ignored
  });
});

// -- the panel and the commands -------------------------------------------------------------------

describe('the compare panel', () => {
  beforeEach(resetAll);

  it('one webview panel, reused and revealed; a new one after the user closes it', () => {
    const panel = new ComparePanel();
    panel.begin(URI, 1);
    panel.begin(URI, 2);
    assert.equal(stub.panels.length, 1);
    const [p] = stub.panels;
    assert.equal(p.revealed, 1);
    assert.equal(p.options.enableScripts, true);
    assert.deepEqual(p.options.localResourceRoots, []);
    assert.match(p.webview.html, /Content-Security-Policy/);
    assert.match(p.webview.html, /vscode-webview:\/\/fake/);
    // the page asks for the state once it has loaded
    const before = p.messages.length;
    p.receive({ type: 'ready' });
    assert.equal(p.messages.length, before + 1);
    assert.deepEqual((p.messages.at(-1) as { state: { line: number } }).state.line, 2);
    p.close();
    panel.update(upd({ id: 'other' }));
    assert.equal(stub.panels.length, 2);
    assert.equal(stub.panels[1].title, 'tunelint: compare (run-1)');
    panel.dispose();
    assert.ok(stub.panels[1].disposed);
  });
});

async function startedController(commands: string[]) {
  FakeClient.serverCommands = ['tunelint.lintFile', ...commands];
  stub.levels.global['tunelint.interpreter'] = '/usr/bin/python3';
  const made = makeController(fakeRun({ '/usr/bin/python3': ok() }));
  await made.controller.start();
  const client = FakeClient.made.at(-1)!;
  const mw = client.options.middleware!;
  const exec = (command: string, args: unknown[], next: (c: string, a: unknown[]) => Promise<unknown>) =>
    (mw.executeCommand as (c: string, a: unknown[], n: typeof next) => Promise<unknown>)(command, args, next);
  return { ...made, client, exec };
}

describe('compare and serve commands', () => {
  beforeEach(resetAll);

  it(`tells the server it has the panel: experimental.${COMPARE_PANEL_CAPABILITY}`, async () => {
    const { client, controller } = await startedController(['tunelint.compare']);
    assert.deepEqual(client.clientCapabilities().experimental, { tunelintComparePanel: true, tunelintShowsServeUrl: true });
    assert.equal(stub.contexts.get('tunelint.supports.compare'), true);
    assert.equal(stub.contexts.get('tunelint.supports.serve'), false);
    await controller.dispose();
  });

  it('from the palette: the active editor and its cursor line; updates stream into the panel; the result finishes it', async () => {
    const { client, exec, controller } = await startedController(['tunelint.compare']);
    stub.openJsonl('/proj/train.jsonl', 5);
    let sent: unknown[] | undefined;
    let finish!: (r: unknown) => void;
    const running = exec('tunelint.compare', [], (_c, a) => {
      sent = a;
      return new Promise((r) => (finish = r));
    });
    await settle();
    assert.deepEqual(sent, [Uri.file('/proj/train.jsonl').toString(), 5]);
    assert.equal(stub.panels.length, 1);
    client.notify(COMPARE_UPDATE, upd({ uri: String(sent![0]), line: 5, base: { text: 'Bl', done: false }, tuned: { text: 'Ray', done: false } }));
    const last = () => (stub.panels[0].messages.at(-1) as { state: { base: { text: string }; tuned: { text: string }; status: string } }).state;
    assert.deepEqual([last().base.text, last().tuned.text, last().status], ['Bl', 'Ray', 'running']);
    finish({ prompt: PROMPT, reference: 'R', base: { text: 'Blue.' }, tuned: { text: 'Rayleigh.' }, run: 'run-1', view: 'file:///v.md' });
    const result = await running;
    assert.equal((result as { run: string }).run, 'run-1');
    assert.deepEqual([last().base.text, last().tuned.text, last().status], ['Blue.', 'Rayleigh.', 'done']);
    assert.equal(stub.panels.length, 1);
    await controller.dispose();
  });

  it("from the server's code action: its [uri, line] pass through; a failure shows in the panel and as an error", async () => {
    const { exec, controller } = await startedController(['tunelint.compare']);
    let sent: unknown[] | undefined;
    const r = await exec('tunelint.compare', [URI, 2], async (_c, a) => {
      sent = a;
      throw new Error('line 3 has no assistant turn to compare');
    });
    assert.equal(r, undefined);
    assert.deepEqual(sent, [URI, 2]);
    const state = (stub.panels[0].messages.at(-1) as { state: { status: string; error: string } }).state;
    assert.deepEqual([state.status, state.error], ['error', 'line 3 has no assistant turn to compare']);
    assert.ok(stub.shown.some((s) => s.kind === 'error' && s.message === 'tunelint: compare failed: line 3 has no assistant turn to compare'));
    await controller.dispose();
  });

  it('without a JSONL editor the palette command says what to do; an untrusted workspace refuses it', async () => {
    const { exec, controller } = await startedController(['tunelint.compare', 'tunelint.serve']);
    let calls = 0;
    const next = async () => {
      calls++;
      return {};
    };
    assert.equal(await exec('tunelint.compare', [], next), undefined);
    assert.match(stub.shown.at(-1)!.message, /open a \.jsonl dataset/);
    stub.trusted = false;
    stub.openJsonl('/proj/train.jsonl', 1);
    assert.equal(await exec('tunelint.compare', [], next), undefined);
    assert.equal(await exec('tunelint.serve', [], next), undefined);
    assert.match(stub.shown.at(-1)!.message, /needs a trusted workspace/);
    assert.equal(calls, 0);
    assert.equal(stub.panels.length, 0);
    await controller.dispose();
  });

  it('serve shows the URL with "Copy URL"; stop says what happened; errors are shown', async () => {
    const { exec, controller } = await startedController(['tunelint.serve', 'tunelint.stopServe']);
    stub.answer = 'Copy URL';
    let sent: unknown[] | undefined;
    await exec('tunelint.serve', [], async (_c, a) => {
      sent = a;
      return { url: 'http://127.0.0.1:8123/v1', models: ['run-1', 'tiny-base'], pid: 42 };
    });
    await settle();
    assert.deepEqual(sent, []);
    assert.deepEqual(stub.progress, ['tunelint: starting an OpenAI-compatible server for the run…']);
    const shown = stub.shown.at(-1)!;
    assert.equal(shown.kind, 'info');
    assert.equal(shown.message, 'tunelint: serving "run-1" and "tiny-base" at http://127.0.0.1:8123/v1, an OpenAI-compatible endpoint: use it as base_url.');
    assert.deepEqual(shown.items, ['Copy URL']);
    assert.equal(stub.clipboard, 'http://127.0.0.1:8123/v1');
    await exec('tunelint.stopServe', [], async () => ({ stopped: true }));
    assert.equal(stub.shown.at(-1)!.message, 'tunelint: stopped serving.');
    await exec('tunelint.stopServe', [], async () => ({ stopped: false }));
    assert.equal(stub.shown.at(-1)!.message, 'tunelint: nothing was being served.');
    await exec('tunelint.serve', [], async () => {
      throw new Error('port 8000 is in use');
    });
    assert.equal(stub.shown.at(-1)!.message, 'tunelint: serving the run failed: port 8000 is in use');
    await controller.dispose();
  });
});
