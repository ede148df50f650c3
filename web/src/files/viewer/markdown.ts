// Markdown for the preview: rendered by marked, then sanitised by DOMPurify (no scripts, no
// event handlers, no forms, no styles, no frames); links open in a new tab without a referrer.
// Images with a relative `src` are resolved against the file's folder and kept as
// `data-nook-src` (the view loads them through download tickets); others stay as written, and
// the page's CSP lets only same-origin ones load. Loaded only when a Markdown file is opened.

import DOMPurify from 'dompurify';
import { marked } from 'marked';
import { resolveRelative } from '../../lib/paths';

let hooked = false;
/** The folder relative image sources are resolved against, for the render in progress. */
let baseDir = '/';

/** `dir` is the Markdown file's folder. */
export function renderMarkdown(src: string, dir = '/'): string {
  baseDir = dir;
  if (!hooked) {
    DOMPurify.addHook('afterSanitizeAttributes', (node) => {
      if (node.tagName === 'A' && node.getAttribute('href')) {
        node.setAttribute('target', '_blank');
        node.setAttribute('rel', 'noopener noreferrer nofollow');
      }
      if (node.tagName === 'IMG') {
        const target = resolveRelative(baseDir, node.getAttribute('src') ?? '');
        if (target) {
          node.removeAttribute('src');
          node.setAttribute('data-nook-src', target);
        }
      }
    });
    hooked = true;
  }
  const html = marked.parse(src, { async: false, gfm: true, breaks: false });
  return DOMPurify.sanitize(html, {
    USE_PROFILES: { html: true },
    FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'iframe', 'object', 'embed', 'svg', 'math'],
    FORBID_ATTR: ['style', 'srcset'],
  });
}
