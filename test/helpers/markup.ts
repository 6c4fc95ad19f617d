/**
 * Checks that a rendered report (HTML or XML) carries no markup from the session: every
 * tag is one the renderer writes, no tag has an event-handler attribute, and no character
 * that a browser or an XML reader would act on (controls, lone surrogates) is left raw.
 */
const HTML_TAGS = new Set([
  'html', 'head', 'meta', 'title', 'style', 'body', 'main', 'header', 'footer', 'section', 'h1', 'h2', 'h3', 'p', 'span',
  'div', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'code', 'ul', 'li', 'br', 'svg', 'rect', 'line', 'text', 'path',
]);
const XML_TAGS = new Set(['testsuites', 'testsuite', 'properties', 'property', 'testcase', 'failure', 'skipped', 'error', 'system-out', 'system-err']);

/** The hostile strings the tests plant; any of these appearing raw means an escaping bug. */
export const HOSTILE = [
  '<script>alert(1)</script>',
  '"><x-evil onmouseover="alert(1)">',
  "'><x-evil2 onclick='alert(2)'>",
  ']]><x-cdata/>',
  '<!-- open comment',
  '\u001b[31mred\u001b]0;title\u0007',
  'lone\ud800surrogate\udc00x',
  '\u202eright-to-left',
  'nul\u0000and\u0008bs\u007fdel\u0085nel',
  '&amp; &lt;literal entities&gt;',
  '\ufffe\uffff',
];

export function markupProblems(doc: string, kind: 'html' | 'xml'): string[] {
  const allowed = kind === 'html' ? HTML_TAGS : XML_TAGS;
  const problems: string[] = [];
  const body = kind === 'html' ? doc.replace(/^<!doctype html>/i, '') : doc.replace(/^<\?xml[^>]*\?>/, '');
  for (const m of body.matchAll(/<(\/?)([^\s>/]*)([^>]*)>?/g)) {
    const name = m[2]!.toLowerCase();
    if (!allowed.has(name)) problems.push(`tag <${m[1]}${m[2]}>`);
    const attrs = (m[3] ?? '').replace(/"[^"]*"/g, '""');
    if (/\son[a-z]+\s*=/i.test(attrs) || /'/.test(attrs)) problems.push(`event attribute in <${name}${(m[3] ?? '').slice(0, 80)}>`);
  }
  if (/<!--/.test(body)) problems.push('comment opener');
  // eslint-disable-next-line no-control-regex
  const raw = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.exec(doc);
  if (raw) problems.push(`raw character U+${raw[0].charCodeAt(0).toString(16)} at ${raw.index}`);
  return problems;
}
