import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Request, Response } from 'express';
import { viewsDir } from '../paths.js';

const templates = new Map<string, string>();

function template(name: string): string {
  let text = templates.get(name);
  if (text === undefined) {
    text = readFileSync(resolve(viewsDir, `${name}.html`), 'utf8');
    templates.set(name, text);
  }
  return text;
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A fragment that is already safe HTML (built from escaped parts). */
export class SafeHtml {
  constructor(readonly html: string) {}
}

export type ViewValues = Record<string, string | number | SafeHtml | undefined>;

/**
 * `{{name}}` is escaped; `{{{name}}}` must be a SafeHtml fragment. One pass over the template:
 * inserted values are never scanned again, so a value containing `{{content}}` (a client name, say)
 * is shown as typed instead of being expanded into the page.
 */
function fill(text: string, values: ViewValues): string {
  return text.replace(/\{\{\{(\w+)\}\}\}|\{\{(\w+)\}\}/g, (_m, raw: string | undefined, escaped: string | undefined) => {
    const value = values[(raw ?? escaped)!];
    if (value === undefined) return '';
    if (value instanceof SafeHtml) return raw ? value.html : escapeHtml(value.html);
    return escapeHtml(String(value));
  });
}

/** A template filled in on its own, to be placed inside a page. */
export function renderFragment(name: string, values: ViewValues): SafeHtml {
  return new SafeHtml(fill(template(name), values));
}

/** `wide`: a page with more to show than a form (the account page) gets a wider card. */
export function renderPage(name: string, title: string, host: string, values: ViewValues, options: { wide?: boolean } = {}): string {
  const cardClass = options.wide ? 'card wide' : 'card';
  return fill(template('layout'), { title, host, cardClass, content: new SafeHtml(fill(template(name), values)) });
}

export function notice(kind: 'warning' | 'error', message: string): SafeHtml {
  return new SafeHtml(`<p class="notice ${kind}" role="${kind === 'error' ? 'alert' : 'note'}">${escapeHtml(message)}</p>`);
}

export const PAGE_SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

export const stylesheet = (): string => readFileSync(resolve(viewsDir, 'style.css'), 'utf8');

/** GET /static/style.css: the one stylesheet, read once, cached for an hour, with an ETag of its content. */
export function serveStylesheet() {
  const css = stylesheet();
  const etag = `"${createHash('sha256').update(css).digest('base64url').slice(0, 16)}"`;
  return (_req: Request, res: Response): void => {
    res.set({ 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'public, max-age=3600', ETag: etag }).send(css);
  };
}
