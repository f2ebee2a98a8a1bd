/* The side-by-side compare panel's model and page: what the server sends while `tunelint.compare`
 * streams (`tunelint/compareUpdate`, the whole text so far each time) and its final result,
 * merged into one state; and the webview's HTML and script, which put every string from the
 * dataset or the model into the page with `textContent` only (a strict Content-Security-Policy
 * with a nonce: no other script, no inline handlers, no remote anything). No `vscode` import
 * (tested in test/compare.test.ts). */

import { randomBytes } from 'crypto';

import { pageHead, WEBVIEW_DOM } from './webviewdom';



/** The experimental client capability that tells the server this client shows the panel (so it
 * does not also send `window/showDocument` of its markdown view): `experimental.tunelintComparePanel`. */
export const COMPARE_PANEL_CAPABILITY = 'tunelintComparePanel';
/** The server's notification while a compare streams. */
export const COMPARE_UPDATE = 'tunelint/compareUpdate';

export interface Message {
  role: string;
  content: string;
}

export interface Side {
  text: string;
  done: boolean;
}

/** `tunelint/compareUpdate`'s params. */
export interface CompareUpdate {
  id: string;
  uri: string;
  line: number;
  run: string;
  prompt: unknown;
  reference: string | null;
  base: Side;
  tuned: Side;
}

/** What the panel shows. */
export interface CompareState {
  /** The server's id of this compare (unknown until its first update). */
  id?: string;
  uri: string;
  line: number;
  run: string;
  prompt: Message[];
  reference: string | null;
  base: Side;
  tuned: Side;
  status: 'running' | 'done' | 'error';
  error?: string;
  /** The markdown view the server wrote, when it says. */
  view?: string;
}

function str(v: unknown): string {
  if (typeof v === 'string') {
    return v;
  }
  if (v === undefined || v === null) {
    return '';
  }
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** The prompt as a list of chat messages, whatever shape it came in (a string, a list of
 * messages, content as a list of parts). */
export function messages(prompt: unknown): Message[] {
  if (typeof prompt === 'string') {
    return [{ role: 'user', content: prompt }];
  }
  if (!Array.isArray(prompt)) {
    return prompt === undefined || prompt === null ? [] : [{ role: '', content: str(prompt) }];
  }
  return prompt.map((m) => {
    if (m === null || typeof m !== 'object') {
      return { role: '', content: str(m) };
    }
    const o = m as { role?: unknown; content?: unknown };
    let content: string;
    if (Array.isArray(o.content)) {
      content = o.content.map((p) => (p && typeof p === 'object' && 'text' in p ? str((p as { text: unknown }).text) : str(p))).join('');
    } else {
      content = str(o.content);
    }
    return { role: str(o.role), content };
  });
}

function side(v: unknown, fallbackDone: boolean): Side {
  if (typeof v === 'string') {
    return { text: v, done: fallbackDone };
  }
  const o = (v ?? {}) as { text?: unknown; done?: unknown };
  return { text: str(o.text), done: typeof o.done === 'boolean' ? o.done : fallbackDone };
}

/** A side's text after an update: a finished side keeps its text against a late, unfinished one. */
function mergeSide(old: Side, next: Side): Side {
  if (old.done && !next.done) {
    return old;
  }
  return next;
}

/** The one compare the panel shows, fed by the updates and the result. */
export class CompareModel {
  state?: CompareState;
  /** Ids whose final result came: their late updates are ignored. */
  private finished = new Set<string>();

  /** A compare asked for on `uri` / `line`: the panel empties and waits. */
  begin(uri: string, line: number): CompareState {
    this.state = {
      uri, line, run: '', prompt: [], reference: null,
      base: { text: '', done: false }, tuned: { text: '', done: false }, status: 'running',
    };
    return this.state;
  }

  /** A `tunelint/compareUpdate`; returns whether the state changed. */
  update(p: CompareUpdate): boolean {
    if (!p || typeof p !== 'object' || typeof p.id !== 'string' || this.finished.has(p.id)) {
      return false;
    }
    const s = this.state;
    const base = side(p.base, false);
    const tuned = side(p.tuned, false);
    if (s === undefined || (s.id !== undefined && s.id !== p.id) || (s.id === undefined && s.status !== 'running')) {
      // another compare (e.g. started by another client action): it takes the panel
      this.state = {
        id: p.id, uri: str(p.uri), line: Number(p.line) || 0, run: str(p.run), prompt: messages(p.prompt),
        reference: p.reference === null || p.reference === undefined ? null : str(p.reference), base, tuned, status: 'running',
      };
      return true;
    }
    s.id = p.id;
    s.uri = str(p.uri) || s.uri;
    s.line = typeof p.line === 'number' ? p.line : s.line;
    s.run = str(p.run) || s.run;
    if (p.prompt !== undefined) {
      s.prompt = messages(p.prompt);
    }
    if (p.reference !== undefined) {
      s.reference = p.reference === null ? null : str(p.reference);
    }
    s.base = mergeSide(s.base, base);
    s.tuned = mergeSide(s.tuned, tuned);
    return true;
  }

  /** The command's result: the final texts. */
  result(r: unknown): CompareState | undefined {
    if (!r || typeof r !== 'object') {
      return this.state;
    }
    const o = r as { prompt?: unknown; reference?: unknown; base?: unknown; tuned?: unknown; run?: unknown; view?: unknown; id?: unknown };
    const s = this.state ?? this.begin('', 0);
    if (s.id !== undefined) {
      this.finished.add(s.id);
    }
    if (typeof o.id === 'string') {
      this.finished.add(o.id);
      s.id = o.id;
    }
    s.prompt = o.prompt !== undefined ? messages(o.prompt) : s.prompt;
    s.reference = o.reference === undefined ? s.reference : o.reference === null ? null : str(o.reference);
    s.base = side(o.base, true);
    s.tuned = side(o.tuned, true);
    s.base.done = s.tuned.done = true;
    s.run = str(o.run) || s.run;
    s.view = typeof o.view === 'string' ? o.view : s.view;
    s.status = 'done';
    return s;
  }

  /** The compare failed (or was cancelled). */
  fail(message: string): CompareState | undefined {
    if (this.state) {
      if (this.state.id !== undefined) {
        this.finished.add(this.state.id);
      }
      this.state.status = 'error';
      this.state.error = message;
    }
    return this.state;
  }
}

/** A nonce for the page's Content-Security-Policy. */
export function makeNonce(random: (n: number) => Buffer = randomBytes): string {
  return random(18).toString('base64').replace(/[^A-Za-z0-9]/g, '');
}

/** The webview's script (plain ES2020, run in the webview). It builds every element with
 * createElement and fills it with textContent: nothing the server sends is parsed as HTML. It
 * asks for the state when it loads ('ready') and renders each `{type: 'state', state}` whole. */
export const WEBVIEW_SCRIPT = String.raw`(function () {
  'use strict';
${WEBVIEW_DOM}
  function fill(id, text, done, empty) {
    const col = $(id);
    const body = col.querySelector('.text');
    body.textContent = text || '';
    col.setAttribute('data-done', done ? 'true' : 'false');
    col.setAttribute('data-empty', text ? 'false' : 'true');
    const note = col.querySelector('.note');
    const blank = text && !text.trim() ? '(only whitespace: ' + text.length + ' characters) ' : '';
    note.textContent = blank + (text ? (done ? '' : 'generating…') : (done ? empty : 'waiting…'));
  }
  function render(s) {
    const where = $('where');
    const status = $('status');
    if (!s) {
      where.textContent = '';
      status.textContent = 'Run "tunelint: Compare base and fine-tuned on this line" on an example line.';
      return;
    }
    const file = String(s.uri || '').split('/').pop();
    where.textContent = (file ? decodeURIComponent(file) + ', line ' + (Number(s.line) + 1) : '') + (s.run ? ' · run ' + s.run : '');
    status.textContent = s.status === 'error' ? 'failed: ' + (s.error || '') : s.status === 'done' ? 'done' : 'generating…';
    document.body.setAttribute('data-status', s.status);
    const prompt = $('prompt');
    clear(prompt);
    for (const m of s.prompt || []) {
      const row = el('div', 'message');
      row.appendChild(el('span', 'role', m.role));
      row.appendChild(el('span', 'content', m.content));
      prompt.appendChild(row);
    }
    fill('base', s.base && s.base.text, s.base && s.base.done, '(no output)');
    fill('tuned', s.tuned && s.tuned.text, s.tuned && s.tuned.done, '(no output)');
    const hasRef = s.reference !== null && s.reference !== undefined;
    fill('reference', hasRef ? s.reference : '', true, '(no reference answer on this line)');
    $('tuned').querySelector('h2').textContent = s.run ? 'Fine-tuned (' + s.run + ')' : 'Fine-tuned';
  }
  window.addEventListener('message', (event) => {
    const m = event.data;
    if (m && m.type === 'state') {
      vscode.setState({ state: m.state });
      render(m.state);
    }
  });
  const saved = vscode.getState();
  render(saved ? saved.state : undefined);
  vscode.postMessage({ type: 'ready' });
})();`;

const STYLE = `
  body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); padding: 0 12px 12px; }
  header { display: flex; gap: 12px; align-items: baseline; margin: 8px 0; }
  header h1 { font-size: 1.1em; margin: 0; }
  #where, #status { opacity: 0.8; }
  #prompt { border: 1px solid var(--vscode-panel-border, #8884); border-radius: 4px; padding: 6px 8px; margin-bottom: 10px; max-height: 30vh; overflow: auto; }
  .message { white-space: pre-wrap; overflow-wrap: anywhere; margin: 2px 0; }
  .role { font-weight: bold; margin-right: 6px; text-transform: capitalize; }
  .columns { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 10px; }
  .column { border: 1px solid var(--vscode-panel-border, #8884); border-radius: 4px; padding: 6px 8px; min-height: 4em; }
  .column h2 { font-size: 1em; margin: 0 0 6px; }
  .text { white-space: pre-wrap; overflow-wrap: anywhere; font-family: var(--vscode-editor-font-family); }
  .note { opacity: 0.7; font-style: italic; }
  #tuned { border-color: var(--vscode-focusBorder, #4af); }
`;

/** The webview's page. `cspSource` is the webview's own `cspSource`; nothing else is put in. */
export function webviewHtml(nonce: string, cspSource: string): string {
  return `${pageHead('tunelint: compare', nonce, cspSource, STYLE)}
<body data-status="none">
<header><h1>Base vs fine-tuned</h1><span id="where"></span><span id="status"></span></header>
<section id="prompt" aria-label="Prompt"></section>
<section class="columns">
  <div class="column" id="base"><h2>Base model</h2><div class="note"></div><div class="text"></div></div>
  <div class="column" id="tuned"><h2>Fine-tuned</h2><div class="note"></div><div class="text"></div></div>
  <div class="column" id="reference"><h2>Reference</h2><div class="note"></div><div class="text"></div></div>
</section>
<script nonce="${nonce}">${WEBVIEW_SCRIPT}</script>
</body>
</html>`;
}
