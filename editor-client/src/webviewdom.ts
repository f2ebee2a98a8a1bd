/* Shared by the webview scripts written as strings (src/compare.ts, src/runs.ts). No imports:
 * the Run view's browser bundle (src/webview/runview.ts) reaches it through src/runs.ts. */

/** The start of every tunelint webview script (plain ES2020, inside its IIFE): the VS Code API,
 * `$` by id, `el` (an element filled with textContent, never parsed as HTML) and `clear`. */
export const WEBVIEW_DOM = String.raw`  const vscode = acquireVsCodeApi();
  const $ = (id) => document.getElementById(id);
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function clear(e) { while (e.firstChild) { e.removeChild(e.firstChild); } }`;
