/* The Preview panel and Edit message as text: the rendered text cut at the trained spans and the
 * max_length cut, the follower (debounced, one request at a time, stale answers dropped), the
 * page's script against a fake DOM that refuses innerHTML, the panel following the cursor, and
 * the tunelint-text: tabs writing back through tunelint.writeText (a refusal fails the save). */
import * as assert from 'node:assert/strict';
import * as vm from 'node:vm';
import { beforeEach, describe, it } from 'node:test';

import './register';

import { modelSegments, Preview, PREVIEW_REQUEST, PREVIEW_SCRIPT, PreviewFollower, previewHtml, segments } from '../src/preview';
import { PreviewPanel, registerPreview, SHOW_PREVIEW_COMMAND } from '../src/previewpanel';
import { EDIT_TEXT_COMMAND, TEXT_SCHEME, TextFileSystem, TextStore, WRITE_TEXT_COMMAND } from '../src/textedit';
import { FakeClient, fakeRun, makeController, ok, resetAll, settle } from './helpers';
import { editorEvents, EventEmitter, stub, Uri } from './vscode-stub';

const URI = 'file:///proj/train.jsonl';

function preview(over: Partial<Preview> = {}): Preview {
  return {
    uri: URI, line: 2, version: 1, error: null, format: 'chat', formatLabel: 'chat (messages)', diagnostics: [],
    tokens: { tokenizer: 'hf:/tok', total: 30, trained: 8, limit: 4096 },
    messages: [
      { path: ['messages', 0], role: 'user', text: 'Weather in <b>Paris</b>?', textPath: ['messages', 0, 'content'], trained: false, tokens: 12, diagnostics: [] },
      {
        path: ['messages', 1], role: 'assistant', text: '', textPath: ['messages', 1, 'content'], trained: true, tokens: 10, diagnostics: [],
        toolCalls: [{ id: 'c1', name: 'get_weather', arguments: '{\n  "city": "Paris"\n}', argumentsPath: ['messages', 1, 'tool_calls', 0, 'function', 'arguments'] }],
      },
      { path: ['messages', 2], role: 'tool', text: 'sunny', textPath: ['messages', 2, 'content'], toolCallId: 'c1', trained: false, tokens: 4, diagnostics: [] },
      {
        path: ['messages', 3], role: 'user', text: 'And?', textPath: null, trained: false, tokens: 4,
        parts: [{ type: 'text', text: 'And?', path: ['messages', 3, 'content', 0, 'text'] }, { type: 'image', url: 'data:image/png;base64,AAAA' }],
        diagnostics: [{ code: 'TL301', severity: 'warning', message: 'an image', range: { start: { line: 2, character: 0 }, end: { line: 2, character: 1 } } }],
      },
    ],
    model: {
      tokenizer: 'hf:/tok', text: 'USER hi ASSIST ok END tail', tokenCount: 9, trainedChars: [[15, 21]], trainedTokens: [[4, 6]],
      trained: 2, trainedKept: 1, maxLength: 5, truncation: { token: 5, char: 18, dropped: 4, trainedDropped: 1 },
    },
    ...over,
  };
}

describe('the rendered text as runs', () => {
  it('cuts at the trained spans and at the truncation point', () => {
    const segs = segments('USER hi ASSIST ok END tail', [[15, 21]], 18);
    assert.deepEqual(segs, [
      { text: 'USER hi ASSIST ', trained: false, dropped: false },
      { text: 'ok ', trained: true, dropped: false },
      { text: 'END', trained: true, dropped: true },
      { text: ' tail', trained: false, dropped: true },
    ]);
    assert.equal(segs.map((s) => s.text).join(''), 'USER hi ASSIST ok END tail');
    assert.deepEqual(segments('abc', [], null), [{ text: 'abc', trained: false, dropped: false }]);
    assert.deepEqual(segments('abcd', [[0, 2], [2, 4]], undefined), [{ text: 'abcd', trained: true, dropped: false }]);
    assert.equal(modelSegments(preview({ model: { unavailable: 'no hf' } })), undefined);
  });
});

function manualTimer() {
  const pending: (() => void)[] = [];
  const timer = (fn: () => void) => {
    let live = true;
    pending.push(() => live && fn());
    return { cancel: () => (live = false) };
  };
  return { timer, run: () => pending.splice(0).forEach((f) => f()) };
}

describe('PreviewFollower', () => {
  it('asks once per line, again after an edit, one request at a time, and drops answers for a line left', async () => {
    const asked: [string, number][] = [];
    const answers: ((v: unknown) => void)[] = [];
    const shown: unknown[] = [];
    const t = manualTimer();
    const f = new PreviewFollower((uri, line) => {
      asked.push([uri, line]);
      return new Promise((r) => answers.push(r));
    }, (s) => shown.push(s), t.timer);
    f.follow(URI, 2);
    f.follow(URI, 2); // the cursor moved inside the line: nothing new
    t.run();
    assert.deepEqual(asked, [[URI, 2]]);
    f.follow(URI, 3); // moved while the first is in flight
    t.run();
    assert.equal(asked.length, 1, 'one request at a time');
    answers[0](preview({ line: 2 }));
    await settle();
    assert.deepEqual(shown, [], 'the answer for line 3 is not the one for line 2');
    assert.deepEqual(asked, [[URI, 2], [URI, 3]]);
    answers[1](preview({ line: 3 }));
    await settle();
    assert.equal((shown[0] as { preview: Preview }).preview.line, 3);
    f.changed('file:///other.jsonl');
    t.run();
    assert.equal(asked.length, 2);
    f.changed(URI);
    t.run();
    assert.deepEqual(asked[2], [URI, 3]);
    answers[2](Promise.reject(new Error('server stopped')));
    await settle();
    assert.deepEqual(shown[1], { error: 'server stopped' });
  });
});

// -- the page -----------------------------------------------------------------------------------

class FakeElement {
  children: FakeElement[] = [];
  attributes: Record<string, string> = {};
  className = '';
  id = '';
  listeners: Record<string, (() => void)[]> = {};
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
  addEventListener(type: string, l: () => void): void {
    (this.listeners[type] ??= []).push(l);
  }
  click(): void {
    (this.listeners.click ?? []).forEach((l) => l());
  }
  all(cls: string): FakeElement[] {
    const out: FakeElement[] = [];
    for (const c of this.children) {
      if (c.className.split(' ').includes(cls)) {
        out.push(c);
      }
      out.push(...c.all(cls));
    }
    return out;
  }
}

function runPage() {
  const byId = new Map<string, FakeElement>();
  for (const id of ['tab-chat', 'tab-model', 'where', 'chat', 'model']) {
    const e = new FakeElement(id.startsWith('tab') ? 'button' : 'section');
    e.id = id;
    byId.set(id, e);
  }
  const listeners: ((e: { data: unknown }) => void)[] = [];
  const posted: unknown[] = [];
  let saved: unknown;
  const document = { getElementById: (id: string) => byId.get(id) ?? null, createElement: (tag: string) => new FakeElement(tag) };
  const window = { addEventListener: (type: string, l: (e: { data: unknown }) => void) => type === 'message' && listeners.push(l) };
  const acquireVsCodeApi = () => ({ postMessage: (m: unknown) => posted.push(m), setState: (s: unknown) => (saved = s), getState: () => saved });
  vm.runInNewContext(PREVIEW_SCRIPT, { document, window, acquireVsCodeApi, JSON });
  return { byId, posted, send: (data: unknown) => listeners.forEach((l) => l({ data })), saved: () => saved };
}

describe('the preview page', () => {
  it('a strict CSP: scripts and styles with the nonce only, images from data: and https', () => {
    const html = previewHtml('n0nce', 'vscode-webview://abc');
    const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)![1];
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'nonce-n0nce'(;|$)/);
    assert.match(csp, /img-src vscode-webview:\/\/abc data: https:/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.doesNotMatch(html, / on[a-z]+=/);
    assert.doesNotMatch(PREVIEW_SCRIPT, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
    assert.throws(() => previewHtml('a"b', 'x'), /bad nonce/);
  });

  it('shows bubbles, tool calls as blocks, images, counts, trained marks and diagnostics as text; Edit posts the path', () => {
    const page = runPage();
    assert.deepEqual(JSON.parse(JSON.stringify(page.posted)), [{ type: 'ready' }]);
    const p = preview();
    page.send({ type: 'state', state: { preview: p, segments: modelSegments(p) } });
    const chat = page.byId.get('chat')!;
    const bubbles = chat.all('bubble');
    assert.deepEqual(bubbles.map((b) => b.className), ['bubble user', 'bubble assistant trained', 'bubble tool-result', 'bubble user']);
    assert.match(bubbles[0].textContent, /Weather in <b>Paris<\/b>\?/); // as text, not HTML
    assert.match(bubbles[0].textContent, /12 tok/);
    assert.match(bubbles[1].textContent, /trained/);
    assert.equal(bubbles[1].all('args')[0].textContent, '{\n  "city": "Paris"\n}');
    assert.match(bubbles[2].textContent, /result of c1/);
    const img = bubbles[3].all('thumb')[0];
    assert.equal(img.attributes.src, 'data:image/png;base64,AAAA');
    assert.match(bubbles[3].all('diagnostics')[0].textContent, /TL301an image/);
    assert.match(page.byId.get('where')!.textContent, /train\.jsonl, line 3 · chat \(messages\) · 30 tokens, 8 trained/);
    bubbles[1].all('edit').find((b) => b.textContent === 'Edit arguments')!.click();
    assert.deepEqual(JSON.parse(JSON.stringify(page.posted[1])), { type: 'edit', path: ['messages', 1, 'tool_calls', 0, 'function', 'arguments'] });
    // the model tab: trained runs highlighted, the cut drawn before the first dropped run
    const model = page.byId.get('model')!;
    const pre = model.all('rendered')[0];
    assert.deepEqual(pre.children.map((c) => [c.className, c.textContent]), [
      ['tok-context', 'USER hi ASSIST '], ['tok-trained', 'ok '], ['cut', '✂ max_length 5 ✂'],
      ['tok-trained dropped', 'END'], ['tok-context dropped', ' tail'],
    ]);
    assert.match(model.all('summary')[0].textContent, /9 tokens \(hf:\/tok\), 1 trained; max_length 5 cuts 4 tokens \(1 trained\)/);
    page.byId.get('tab-model')!.click();
    assert.equal(page.byId.get('model')!.attributes['data-active'], 'true');
    assert.equal(page.byId.get('chat')!.attributes['data-active'], 'false');
  });

  it('a broken line shows its parse error; no HF tokenizer says how to get the model view', () => {
    const page = runPage();
    page.send({ type: 'state', state: { preview: preview({ error: { message: 'not valid JSON: Expecting value (column 3)' }, messages: [], format: null }) } });
    assert.equal(page.byId.get('chat')!.all('parse-error')[0].textContent, 'not valid JSON: Expecting value (column 3)');
    page.send({ type: 'state', state: { preview: preview({ model: { unavailable: 'no Hugging Face tokenizer' } }) } });
    assert.equal(page.byId.get('model')!.textContent, 'no Hugging Face tokenizer');
    page.send({ type: 'state', state: { error: 'the tunelint server is not running' } });
    assert.equal(page.byId.get('where')!.textContent, 'the tunelint server is not running');
  });
});

// -- the panel and the text tabs -------------------------------------------------------------------

describe('the Preview panel', () => {
  beforeEach(() => stub.reset());

  it('opens beside the editor, follows the cursor line of JSONL editors, and its Edit runs tunelint.editText', async () => {
    const asked: [string, number][] = [];
    const edits: unknown[][] = [];
    const panel = new PreviewPanel(async (uri, line) => {
      asked.push([uri, line]);
      return preview({ line });
    }, async (...a) => edits.push(a));
    stub.openJsonl('/proj/train.jsonl', 2);
    panel.show(stub.activeTextEditor as never);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(asked, [[URI, 2]]);
    const web = stub.panels[0];
    assert.deepEqual(web.showOptions, { viewColumn: -2, preserveFocus: true });
    assert.match(web.webview.html, /As the model sees it/);
    const doc = { uri: Uri.file('/proj/train.jsonl'), languageId: 'jsonl' };
    editorEvents.selectionChanged.fire({ textEditor: { document: doc }, selections: [{ active: { line: 5 } }] });
    editorEvents.selectionChanged.fire({ textEditor: { document: { uri: Uri.file('/proj/notes.md'), languageId: 'markdown' } }, selections: [{ active: { line: 1 } }] });
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(asked, [[URI, 2], [URI, 5]]);
    editorEvents.documentChanged.fire({ document: doc, contentChanges: [{}] });
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(asked.at(-1), [URI, 5]);
    assert.equal(asked.length, 3);
    assert.equal((web.messages.at(-1) as { state: { preview: Preview } }).state.preview.line, 5);
    // hidden behind another tab: no requests; shown again: the cursor's line at once
    web.setVisible(false);
    editorEvents.documentChanged.fire({ document: doc, contentChanges: [{}] });
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(asked.length, 3, 'a hidden panel asks for nothing');
    stub.openJsonl('/proj/train.jsonl', 5);
    web.setVisible(true);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(asked.at(-1), [URI, 5]);
    assert.equal(asked.length, 4);
    web.receive({ type: 'edit', path: ['messages', 0, 'content'] });
    assert.deepEqual(edits, [[URI, 5, ['messages', 0, 'content']]]);
    web.close();
    editorEvents.selectionChanged.fire({ textEditor: { document: doc }, selections: [{ active: { line: 7 } }] });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(asked.length, 4, 'a closed panel asks for nothing');
    panel.dispose();
  });

  it('registerPreview: the command, the lens, the text file system, the editText result hook, the request', async () => {
    const requests: [string, unknown][] = [];
    const ready = new EventEmitter<void>();
    const host = {
      resultHandlers: new Map<string, (r: unknown) => unknown>(), onReady: ready.event,
      request: async (m: string, p: unknown) => { requests.push([m, p]); return preview(); },
    };
    const subs: { dispose(): unknown }[] = [];
    stub.openJsonl('/proj/train.jsonl', 4);
    registerPreview({ subscriptions: subs as never }, host);
    assert.ok(host.resultHandlers.has(EDIT_TEXT_COMMAND));
    assert.ok(editorEvents.fileSystems.has(TEXT_SCHEME));
    const lens = editorEvents.lenses.at(-1) as { provideCodeLenses(d: unknown): { command: { command: string } }[] };
    assert.equal(lens.provideCodeLenses({ uri: Uri.file('/p/a.jsonl'), languageId: 'jsonl', lineCount: 3 })[0].command.command, SHOW_PREVIEW_COMMAND);
    await stub.registered.get(SHOW_PREVIEW_COMMAND)!();
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(requests, [[PREVIEW_REQUEST, { uri: URI, line: 4 }]]);
    ready.fire(); // the server restarted: the line is asked for again
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(requests.length, 2);
    subs.forEach((d) => d.dispose());
  });
});

describe('Edit message as text tabs', () => {
  beforeEach(() => stub.reset());
  const opened = (text: string, raw = '"x"') => ({
    text, kind: 'text', language: 'markdown', title: 'train.jsonl line 3 messages[1].content',
    token: { uri: URI, lineId: 7, path: ['messages', 1, 'content'], raw },
  });

  it('opens the text in a markdown tab; saving sends writeText with the token, and keeps the new token', async () => {
    const sent: unknown[][] = [];
    const fs = new TextFileSystem(new TextStore(async (command, ...args) => {
      sent.push([command, ...args]);
      return { applied: true, token: { ...(args[0] as object), raw: JSON.stringify(args[1]) } };
    }));
    const uri = await fs.open(opened('Line one\n"two"'));
    assert.equal(uri.scheme, TEXT_SCHEME);
    assert.match(uri.path, /^\/1\/train\.jsonl line 3 messages\[1\]\.content\.md$/);
    assert.deepEqual(stub.opened.at(-1)!.options, { viewColumn: -2, preview: false });
    assert.equal(Buffer.from(fs.readFile(uri)).toString(), 'Line one\n"two"');
    await fs.writeFile(uri, Buffer.from('new 😀\ntext'));
    assert.deepEqual(sent[0], [WRITE_TEXT_COMMAND, opened('').token, 'new 😀\ntext']);
    assert.equal(Buffer.from(fs.readFile(uri)).toString(), 'new 😀\ntext');
    await fs.writeFile(uri, Buffer.from('again'));
    assert.equal((sent[1][1] as { raw: string }).raw, JSON.stringify('new 😀\ntext'), 'the token the last save answered');
    // the same value opened again reuses its tab
    assert.equal((await fs.open(opened('fresh'))).path, uri.path);
    assert.equal(Buffer.from(fs.readFile(uri)).toString(), 'fresh');
    assert.match((await fs.open({ ...opened('{}'), kind: 'arguments', token: { uri: URI, lineId: 7, path: ['a'] } })).path, /\.json$/);
  });

  it('a refusal fails the save with the server\'s reason and keeps the text', async () => {
    const fs = new TextFileSystem(new TextStore(async () => {
      throw new Error('line 3 changed at messages[1].content since the message was opened: nothing was written back');
    }));
    const uri = await fs.open(opened('before'));
    await assert.rejects(fs.writeFile(uri, Buffer.from('after')), /tunelint: line 3 changed at messages\[1\]\.content/);
    assert.equal(Buffer.from(fs.readFile(uri)).toString(), 'before');
    assert.throws(() => fs.readFile(Uri.from({ scheme: TEXT_SCHEME, path: '/99/x.md' }) as never), /FileNotFound/);
  });
});

describe('the controller\'s requests', () => {
  beforeEach(() => resetAll());

  it('a request while the server starts waits until it is ready; without a server it says so', async () => {
    const { controller } = makeController(fakeRun({ tunelint: ok() }));
    stub.set('global', 'tunelint.path', 'tunelint');
    await assert.rejects(controller.request(PREVIEW_REQUEST, {}), /not running/);
    const original = FakeClient.prototype.start;
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    FakeClient.prototype.start = async function (this: FakeClient) {
      await gate; // the server takes its time to start
      return original.call(this);
    };
    try {
      const starting = controller.start();
      await settle();
      assert.equal(controller.state, 'starting');
      const answer = controller.request(PREVIEW_REQUEST, { uri: URI, line: 0 });
      const sent: unknown[] = [];
      (FakeClient.made[0] as FakeClient & { sendRequest?: unknown }).sendRequest = async (m: string, p: unknown) => {
        sent.push([m, p]);
        return 'answer';
      };
      await settle();
      assert.deepEqual(sent, [], 'nothing is sent before the server is ready');
      open();
      await starting;
      assert.equal(await answer, 'answer');
      assert.deepEqual(sent, [[PREVIEW_REQUEST, { uri: URI, line: 0 }]]);
    } finally {
      FakeClient.prototype.start = original;
    }
    await controller.dispose();
  });
});
