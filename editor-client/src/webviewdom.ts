/* Shared by the webview pages and scripts written as strings (src/compare.ts, src/runs.ts,
 * src/preview.ts). No imports:
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

/** Every tunelint webview page's start, through `</head>`: a strict Content-Security-Policy
 * (nothing runs or is styled without the page's nonce; images only from `img`), the title, the
 * page's `style`, and `stylesheet` (a webview URI) when there is one. */
export function pageHead(title: string, nonce: string, cspSource: string, style: string,
  opts: { img?: string; stylesheet?: string } = {}): string {
  if (!/^[A-Za-z0-9]+$/.test(nonce)) {
    throw new Error('bad nonce');
  }
  const q = (v: string) => v.replace(/[&"<>]/g, (ch) => `&#${ch.charCodeAt(0)};`);
  const csp = [
    "default-src 'none'",
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    `img-src ${cspSource}${opts.img ? ' ' + opts.img : ''}`,
    `font-src ${cspSource}`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${q(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${q(title)}</title>
${opts.stylesheet ? `<link rel="stylesheet" href="${q(opts.stylesheet)}">\n` : ''}<style nonce="${nonce}">${style}</style>
</head>`;
}
