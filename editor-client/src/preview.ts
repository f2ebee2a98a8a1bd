/* The Preview panel's model and page: the server's `tunelint/preview` answer for the cursor's line
 * (README "Preview an example"), requested again as the line changes, and the webview that shows
 * it as a conversation (chat bubbles, tool calls and results as blocks, image thumbnails, token
 * counts, trained turns marked, diagnostics) and, in a second tab, as the model sees it (the
 * rendered chat template with the trained tokens highlighted and the max_length cut drawn).
 * Every string from the dataset goes into the page with `textContent` only, under a strict CSP.
 * No `vscode` import (tested in test/preview.test.ts). */

import { pageHead, WEBVIEW_DOM } from './webviewdom';

export const PREVIEW_REQUEST = 'tunelint/preview';
/** A preview is asked for this long after the last change, so that fast typing asks once (the
 * server itself analyses each edit at once: server/main.py DEBOUNCE_S is 0); one request at a
 * time, the newest line wins. */
export const PREVIEW_DEBOUNCE_MS = 10;

export interface Diagnostic {
  code: string;
  name?: string;
  severity: 'error' | 'warning' | 'info';
  message: string;
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
}

export interface ToolCall {
  id?: string | null;
  name?: string | null;
  arguments: string;
  argumentsError?: string | null;
  argumentsPath: (string | number)[] | null;
}

export interface PreviewMessage {
  path: (string | number)[];
  role: string | null;
  section?: string | null;
  name?: string | null;
  text: string | null;
  textPath: (string | number)[] | null;
  parts?: { type: string; text?: string; url?: string; json?: string; path?: (string | number)[] }[] | null;
  toolCalls?: ToolCall[] | null;
  toolCallId?: string | null;
  reasoning?: string | null;
  weight?: unknown;
  trained: boolean;
  tokens: number | null;
  countedWith?: string | null;
  diagnostics: Diagnostic[];
}

export interface ModelView {
  unavailable?: string;
  error?: string;
  tokenizer?: string | null;
  text?: string;
  textCut?: boolean;
  tokenCount?: number;
  trainedTokens?: [number, number][];
  trainedChars?: [number, number][];
  trained?: number;
  trainedKept?: number;
  maxLength?: number;
  truncation?: { token: number; char: number; dropped: number; trainedDropped: number } | null;
  rendered?: string;
  unlocated?: number[];
}

export interface Preview {
  uri: string;
  line: number;
  version?: number;
  error: { message: string; column?: number | null } | null;
  format: string | null;
  formatLabel?: string;
  messages: PreviewMessage[];
  diagnostics: Diagnostic[];
  tokens: { tokenizer?: string | null; limit?: number; total?: number; trained?: number | null; error?: string } | null;
  model: ModelView | null;
  conversionError?: string | null;
}

/** One run of the rendered text: trained or not, before or after the max_length cut. */
export interface Segment {
  text: string;
  trained: boolean;
  dropped: boolean;
}

/** The rendered text cut into runs at the trained spans' edges and at the truncation point (the
 * page draws the cut between the last kept run and the first dropped one). */
export function segments(text: string, trained: readonly [number, number][], cut: number | null | undefined): Segment[] {
  const edges = new Set<number>([0, text.length]);
  for (const [s, e] of trained) {
    edges.add(Math.max(0, Math.min(s, text.length)));
    edges.add(Math.max(0, Math.min(e, text.length)));
  }
  if (typeof cut === 'number' && cut >= 0 && cut <= text.length) {
    edges.add(cut);
  }
  const points = [...edges].sort((a, b) => a - b);
  const out: Segment[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const [a, b] = [points[i], points[i + 1]];
    if (a === b) {
      continue;
    }
    const isTrained = trained.some(([s, e]) => s <= a && b <= e);
    const dropped = typeof cut === 'number' && a >= cut;
    const last = out[out.length - 1];
    if (last && last.trained === isTrained && last.dropped === dropped) {
      last.text += text.slice(a, b);
    } else {
      out.push({ text: text.slice(a, b), trained: isTrained, dropped });
    }
  }
  return out;
}

export type Requester = (uri: string, line: number) => Promise<unknown>;
export type Timer = (fn: () => void, ms: number) => { cancel(): void };

export const realTimer: Timer = (fn, ms) => {
  const t = setTimeout(fn, ms);
  return { cancel: () => clearTimeout(t) };
};

/** Which line the panel follows, and asking for its preview: debounced, one request in flight,
 * an answer for a line or version the user has left is not shown. Never waits on anything the
 * editor does: typing only schedules. */
export class PreviewFollower {
  uri?: string;
  line = -1;
  /** The last answer shown, or why there is none. */
  state?: { preview?: Preview; error?: string; segments?: Segment[] };
  private timer?: { cancel(): void };
  private inFlight = false;
  private again = false;
  private asked = 0;

  constructor(
    private readonly request: Requester,
    private readonly show: (state: NonNullable<PreviewFollower['state']>) => void,
    private readonly timer_: Timer = realTimer,
  ) {}

  /** The cursor is on `line` of `uri`: preview it, unless it is the line already shown (`force`: again). */
  follow(uri: string, line: number, force = false): void {
    if (!force && uri === this.uri && line === this.line) {
      return;
    }
    this.uri = uri;
    this.line = line;
    this.schedule(0);
  }

  /** The followed document changed. */
  changed(uri: string): void {
    if (uri === this.uri) {
      this.schedule(PREVIEW_DEBOUNCE_MS);
    }
  }

  private schedule(ms: number): void {
    this.timer?.cancel();
    this.timer = this.timer_(() => void this.fetch(), ms);
  }

  private async fetch(): Promise<void> {
    if (this.inFlight) {
      this.again = true; // the newest state is asked for once this answer is in
      return;
    }
    const [uri, line] = [this.uri, this.line];
    if (uri === undefined || line < 0) {
      return;
    }
    this.inFlight = true;
    const n = ++this.asked;
    try {
      const answer = (await this.request(uri, line)) as Preview | undefined | null;
      if (n === this.asked && uri === this.uri && line === this.line && !this.again) {
        this.state = answer ? { preview: answer, segments: modelSegments(answer) } : { error: 'no answer from the server' };
        this.show(this.state);
      }
    } catch (e) {
      if (uri === this.uri && line === this.line && !this.again) {
        this.state = { error: e instanceof Error ? e.message : String(e) };
        this.show(this.state);
      }
    } finally {
      this.inFlight = false;
      if (this.again) {
        this.again = false;
        void this.fetch();
      }
    }
  }

  dispose(): void {
    this.timer?.cancel();
  }
}

export function modelSegments(p: Preview): Segment[] | undefined {
  const m = p.model;
  if (!m || typeof m.text !== 'string') {
    return undefined;
  }
  return segments(m.text, m.trainedChars ?? [], m.truncation ? m.truncation.char : null);
}

/** The webview's script (plain ES2020). It renders each `{type: 'state', state}` whole and posts
 * `{type: 'edit', path}` (Edit as text), `{type: 'tab', tab}` and `{type: 'ready'}`. */
export const PREVIEW_SCRIPT = String.raw`(function () {
  'use strict';
${WEBVIEW_DOM}
  let tab = 'chat';
  let current = null;
  function diagList(list) {
    const box = el('div', 'diagnostics');
    for (const d of list || []) {
      const row = el('div', 'diagnostic ' + d.severity);
      row.appendChild(el('span', 'code', d.code));
      row.appendChild(el('span', 'dmessage', d.message));
      box.appendChild(row);
    }
    return box;
  }
  function editButton(path, label) {
    const b = el('button', 'edit', label || 'Edit as text');
    b.setAttribute('data-path', JSON.stringify(path));
    b.addEventListener('click', () => vscode.postMessage({ type: 'edit', path: path }));
    return b;
  }
  function bubble(m, i) {
    const kind = m.role === 'tool' ? 'tool-result' : (m.role || 'field');
    const b = el('div', 'bubble ' + kind + (m.trained ? ' trained' : '') + (m.section ? ' ' + m.section : ''));
    b.setAttribute('data-index', String(i));
    const head = el('div', 'head');
    head.appendChild(el('span', 'role', (m.role || 'text') + (m.name ? ' (' + m.name + ')' : '')));
    if (m.section) { head.appendChild(el('span', 'section', m.section.replace('_', '-'))); }
    if (m.toolCallId) { head.appendChild(el('span', 'callid', 'result of ' + m.toolCallId)); }
    if (m.trained) { head.appendChild(el('span', 'badge trained-badge', 'trained')); }
    else if (m.role === 'assistant' && m.weight === 0) { head.appendChild(el('span', 'badge', 'weight 0: not trained')); }
    head.appendChild(el('span', 'tokens', m.tokens === null || m.tokens === undefined ? (m.countedWith ? 'counted with ' + m.countedWith : '') : m.tokens.toLocaleString() + ' tok'));
    if (m.textPath) { head.appendChild(editButton(m.textPath)); }
    b.appendChild(head);
    if (m.reasoning) {
      const r = el('details', 'reasoning');
      r.appendChild(el('summary', '', 'reasoning'));
      r.appendChild(el('div', 'text', m.reasoning));
      b.appendChild(r);
    }
    if (m.parts) {
      for (const p of m.parts) {
        if (p.type === 'text') {
          const t = el('div', 'text part', p.text);
          b.appendChild(t);
          if (p.path) { b.appendChild(editButton(p.path)); }
        } else if (p.type === 'image' && p.url) {
          const img = el('img', 'thumb');
          img.setAttribute('src', p.url);
          img.setAttribute('alt', 'image');
          b.appendChild(img);
        } else {
          b.appendChild(el('div', 'text other', p.type + ': ' + (p.json || '')));
        }
      }
    } else if (m.text !== null && m.text !== undefined && m.text !== '') {
      b.appendChild(el('div', 'text', m.text));
    } else if (!m.toolCalls) {
      b.appendChild(el('div', 'empty', '(empty)'));
    }
    for (const c of m.toolCalls || []) {
      const call = el('div', 'toolcall');
      const h = el('div', 'head');
      h.appendChild(el('span', 'fname', 'call ' + (c.name || '?') + (c.id ? ' · ' + c.id : '')));
      if (c.argumentsPath) { h.appendChild(editButton(c.argumentsPath, 'Edit arguments')); }
      call.appendChild(h);
      call.appendChild(el('pre', 'args', c.arguments));
      if (c.argumentsError) { call.appendChild(el('div', 'diagnostic error', c.argumentsError)); }
      b.appendChild(call);
    }
    if (m.diagnostics && m.diagnostics.length) { b.appendChild(diagList(m.diagnostics)); }
    return b;
  }
  function renderChat(p) {
    const box = $('chat');
    clear(box);
    if (p.error) {
      box.appendChild(el('div', 'parse-error', p.error.message));
      if (p.diagnostics.length) { box.appendChild(diagList(p.diagnostics)); }
      return;
    }
    if (p.conversionError) { box.appendChild(el('div', 'note', p.conversionError)); }
    if (p.diagnostics.length) { box.appendChild(diagList(p.diagnostics)); }
    p.messages.forEach((m, i) => box.appendChild(bubble(m, i)));
  }
  function renderModel(p, segs) {
    const box = $('model');
    clear(box);
    const m = p.model;
    if (!m || m.unavailable || m.error) {
      box.appendChild(el('div', 'note', m ? (m.unavailable || m.error) : 'no model view'));
      return;
    }
    const cut = m.truncation;
    const sum = (m.tokenCount || 0).toLocaleString() + ' tokens (' + (m.tokenizer || '') + '), ' +
      (m.trainedKept || 0).toLocaleString() + ' trained' +
      (cut ? '; max_length ' + m.maxLength + ' cuts ' + cut.dropped + ' tokens (' + cut.trainedDropped + ' trained)' : '; max_length ' + m.maxLength + ': not truncated');
    box.appendChild(el('div', 'summary', sum));
    if (m.trainedKept === 0) { box.appendChild(el('div', 'diagnostic error', 'no trained token is left: every label is -100')); }
    const pre = el('pre', 'rendered');
    let cutDrawn = false;
    for (const s of segs || []) {
      if (s.dropped && !cutDrawn) {
        pre.appendChild(el('span', 'cut', '✂ max_length ' + m.maxLength + ' ✂'));
        cutDrawn = true;
      }
      pre.appendChild(el('span', (s.trained ? 'tok-trained' : 'tok-context') + (s.dropped ? ' dropped' : ''), s.text));
    }
    box.appendChild(pre);
    if (m.textCut) { box.appendChild(el('div', 'note', '(the rendered text is cut here for the view)')); }
  }
  function render(s) {
    current = s;
    const where = $('where');
    clear($('chat'));
    clear($('model'));
    if (!s) {
      where.textContent = 'Put the cursor on an example line of a .jsonl file.';
      return;
    }
    if (s.error) { where.textContent = s.error; return; }
    const p = s.preview;
    const file = String(p.uri || '').split('/').pop();
    const t = p.tokens;
    where.textContent = decodeURIComponent(file || '') + ', line ' + (p.line + 1) + (p.formatLabel ? ' · ' + p.formatLabel : '') +
      (t && typeof t.total === 'number' ? ' · ' + t.total.toLocaleString() + ' tokens' + (typeof t.trained === 'number' ? ', ' + t.trained.toLocaleString() + ' trained' : '') + ' (' + t.tokenizer + ')' : '') +
      (t && t.error ? ' · ' + t.error : '');
    renderChat(p);
    renderModel(p, s.segments);
  }
  function select(which) {
    tab = which;
    for (const id of ['chat', 'model']) {
      $(id).setAttribute('data-active', id === which ? 'true' : 'false');
      $('tab-' + id).setAttribute('aria-selected', id === which ? 'true' : 'false');
    }
    vscode.setState({ state: current, tab: tab });
  }
  $('tab-chat').addEventListener('click', () => { select('chat'); vscode.postMessage({ type: 'tab', tab: 'chat' }); });
  $('tab-model').addEventListener('click', () => { select('model'); vscode.postMessage({ type: 'tab', tab: 'model' }); });
  window.addEventListener('message', (event) => {
    const m = event.data;
    if (m && m.type === 'state') { render(m.state); vscode.setState({ state: m.state, tab: tab }); }
    if (m && m.type === 'tab') { select(m.tab); }
  });
  const saved = vscode.getState();
  render(saved ? saved.state : null);
  select(saved && saved.tab ? saved.tab : 'chat');
  vscode.postMessage({ type: 'ready' });
})();`;

const STYLE = `
  body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); padding: 0 10px 10px; }
  nav { display: flex; gap: 4px; margin: 8px 0; }
  nav button { background: none; color: inherit; border: 1px solid var(--vscode-panel-border, #8884); border-radius: 4px 4px 0 0; padding: 3px 10px; cursor: pointer; }
  nav button[aria-selected="true"] { border-color: var(--vscode-focusBorder, #4af); font-weight: bold; }
  #where { opacity: 0.8; margin-bottom: 6px; }
  section[data-active="false"] { display: none; }
  .bubble { border: 1px solid var(--vscode-panel-border, #8884); border-radius: 8px; padding: 6px 9px; margin: 6px 0; max-width: 92%; }
  .bubble.user { margin-left: auto; background: var(--vscode-editor-inactiveSelectionBackground, #8882); }
  .bubble.system { opacity: 0.85; font-style: italic; max-width: 100%; }
  .bubble.tool-result { font-family: var(--vscode-editor-font-family); border-style: dashed; }
  .bubble.trained { border-left: 4px solid var(--vscode-charts-green, #3c3); }
  .bubble.non_preferred { border-left: 4px solid var(--vscode-charts-red, #c33); }
  .head { display: flex; gap: 8px; align-items: baseline; font-size: 0.9em; margin-bottom: 3px; }
  .role { font-weight: bold; text-transform: capitalize; }
  .tokens { margin-left: auto; opacity: 0.75; }
  .badge { border-radius: 3px; padding: 0 4px; font-size: 0.85em; border: 1px solid currentColor; }
  .trained-badge { color: var(--vscode-charts-green, #3c3); }
  .text { white-space: pre-wrap; overflow-wrap: anywhere; }
  .toolcall { border: 1px solid var(--vscode-charts-blue, #48f); border-radius: 4px; padding: 4px 6px; margin-top: 4px; }
  .args, .rendered { white-space: pre-wrap; overflow-wrap: anywhere; font-family: var(--vscode-editor-font-family); margin: 2px 0; }
  .thumb { max-width: 160px; max-height: 120px; display: block; margin: 4px 0; border-radius: 3px; }
  .diagnostic { font-size: 0.9em; margin-top: 3px; }
  .diagnostic.error { color: var(--vscode-errorForeground, #f44); }
  .diagnostic.warning { color: var(--vscode-editorWarning-foreground, #c90); }
  .diagnostic .code { font-weight: bold; margin-right: 6px; }
  .parse-error { color: var(--vscode-errorForeground, #f44); font-family: var(--vscode-editor-font-family); }
  button.edit { font-size: 0.85em; background: none; color: var(--vscode-textLink-foreground, #4af); border: none; cursor: pointer; padding: 0; }
  .tok-trained { background: var(--vscode-diffEditor-insertedTextBackground, #3c34); outline: 1px solid var(--vscode-charts-green, #3c3); }
  .tok-context { opacity: 0.75; }
  .dropped { opacity: 0.35; text-decoration: line-through; }
  .cut { display: block; border-top: 2px dashed var(--vscode-errorForeground, #f44); color: var(--vscode-errorForeground, #f44); margin: 4px 0; font-weight: bold; }
  .summary { margin-bottom: 6px; }
  .note, .empty { opacity: 0.7; font-style: italic; }
`;

/** The webview's page. `cspSource` is the webview's own `cspSource`; images may be data: URLs or
 * https (a dataset's image parts), nothing else is loaded. */
export function previewHtml(nonce: string, cspSource: string): string {
  return `${pageHead('tunelint: preview', nonce, cspSource, STYLE, { img: 'data: https:' })}
<body>
<nav><button id="tab-chat" aria-selected="true">Conversation</button><button id="tab-model" aria-selected="false">As the model sees it</button></nav>
<div id="where"></div>
<section id="chat" data-active="true" aria-label="Conversation"></section>
<section id="model" data-active="false" aria-label="As the model sees it"></section>
<script nonce="${nonce}">${PREVIEW_SCRIPT}</script>
</body>
</html>`;
}
