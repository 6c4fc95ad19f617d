/**
 * Escaping for markup. Everything in a report came from the session, which may come from
 * anyone: type names, argv, holder sentences can hold `<script>`, quotes, control
 * characters, lone surrogates (invalid UTF-8 decodes to U+FFFD; a JSON `\ud800` escape
 * decodes to a lone surrogate). These make any string safe as HTML/XML text or a quoted
 * attribute value, and valid XML 1.0 (which has no way to write most control characters).
 */

/** Untrusted strings longer than this are clipped before rendering. */
export const MAX_MARKUP_CHARS = 2000;

const clip = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max)}...` : s);

/**
 * Characters XML 1.0 cannot hold or a reader would act on (C0 but tab/newline, DEL, C1,
 * lone surrogates, U+FFFE/U+FFFF, bidi controls): shown as `\xNN` / `\uNNNN`.
 */
const UNSAFE =
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function visibleControls(s: string): string {
  return s.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

const ENTITY: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text or attribute value for HTML and XML: clipped, controls made visible, markup escaped. */
export function esc(text: unknown, max = MAX_MARKUP_CHARS): string {
  const s = clip(String(text ?? ''), max);
  return visibleControls(s).replace(/[&<>"']/g, (c) => ENTITY[c]!);
}

/** A number for markup: finite numbers only, never NaN or exponent noise in attributes. */
export function num(v: number, digits = 2): string {
  if (!Number.isFinite(v)) return '0';
  return String(Number(v.toFixed(digits)));
}
