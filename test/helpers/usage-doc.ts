/**
 * docs/usage.md against the yargs definitions (issue 12 item 8).
 *
 * The yargs side is what users see: `refscope … --help` of the real command tree (src/cli/main.ts,
 * run in this process so it reads the current sources, not a possibly stale dist/), starting at
 * `refscope --help` and following every "Commands:" list down, so a new command or subcommand is
 * found without naming it here. Every option line of every help page counts (any group but
 * Positionals, Commands and Examples).
 *
 * The docs side, the structure docs/usage.md keeps:
 * - A command's section is a heading that names it in a code span, e.g. "## `refscope run`" or
 *   "### `refscope soak status`, `refscope soak collect`, `refscope soak stop`" (one section for
 *   several commands). "## `refscope`: …" is the root: the options every command takes (global).
 *   The section runs to the next heading of the same or a higher level, or to the next command
 *   heading of any level.
 * - The flags a section lists are the first cells of its table rows (body rows, not the header):
 *   every code span in that cell that starts with "-" (`--python NAME\|PATH`, `-i`), first word.
 *   A first cell that is only a link to a section of the page, `[SSH options](#ssh-options)`,
 *   lists that section's flags. Flags named in prose do not count.
 * - Command lines in code blocks (`refscope farm run farm.yaml --concurrency 8`) may only use flags
 *   the command has (the app's own arguments after ` -- ` and `# comments` are not read).
 */
import { vi } from 'vitest';

export interface CliOption {
  /** long names without dashes: ['identity'] */
  long: string[];
  /** one-letter aliases without the dash: ['i'] */
  short: string[];
}

export interface CliCommand {
  /** 'refscope', 'refscope run', 'refscope soak start' */
  path: string;
  options: CliOption[];
}

/** yargs' own options: never required in the docs (allowed when listed) */
export const BUILTIN = new Set(['help', 'version']);

/** `refscope ARGS --help` as printed, from the real yargs tree, without running any handler. */
export async function helpOf(args: string[]): Promise<string> {
  const { main } = await import('../../src/cli/main.js');
  const out: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { out.push(a.map(String).join(' ')); });
  const err = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => { out.push(a.map(String).join(' ')); });
  const listeners = process.stdout.listeners('error');
  const exitCode = process.exitCode;
  try {
    const code = await main([...args, '--help']);
    if (code !== 0) throw new Error(`refscope ${args.join(' ')} --help exited ${code}:\n${out.join('\n')}`);
  } finally {
    log.mockRestore();
    err.mockRestore();
    // main() adds an EPIPE handler to stdout on every call: take ours off again
    for (const l of process.stdout.listeners('error')) if (!listeners.includes(l)) process.stdout.off('error', l as (e: Error) => void);
    process.exitCode = exitCode;
  }
  return out.join('\n');
}

/** The options and the subcommands (full paths) on one help page. */
export function parseHelp(text: string): { options: CliOption[]; commands: string[] } {
  const options: CliOption[] = [];
  const commands: string[] = [];
  let group = '';
  for (const line of text.split('\n')) {
    const head = /^(\S.*):$/.exec(line);
    if (head) { group = head[1]!; continue; }
    if (group === 'Commands') {
      // "  refscope soak start <device>    Start the app …": the words before the first positional
      const m = /^ {2}(refscope(?: [a-z][\w-]*)*)(?: [<[]|\s{2,}|$)/.exec(line);
      if (m) commands.push(m[1]!);
      continue;
    }
    if (group === 'Positionals' || group === 'Examples') continue;
    // "  -i, --identity  …" or "      --accept-new  …"; wrapped description lines are indented further
    const m = /^ {2}(?: {4})?(-{1,2}[A-Za-z0-9][\w-]*(?:, -{1,2}[A-Za-z0-9][\w-]*)*)(?:\s|$)/.exec(line);
    if (!m) continue;
    const names = m[1]!.split(', ');
    options.push({
      long: names.filter((n) => n.startsWith('--')).map((n) => n.slice(2)),
      short: names.filter((n) => !n.startsWith('--')).map((n) => n.slice(1)),
    });
  }
  return { options, commands };
}

/** Every command of the CLI, the root first, each with the options its --help shows. */
export async function cliTree(): Promise<CliCommand[]> {
  const out: CliCommand[] = [];
  const visit = async (path: string): Promise<void> => {
    const words = path.split(' ').slice(1);
    const page = parseHelp(await helpOf(words));
    out.push({ path, options: page.options });
    for (const sub of page.commands) {
      if (sub.split(' ').length !== words.length + 2 || !sub.startsWith(`${path} `)) {
        throw new Error(`refscope ${words.join(' ')} --help lists "${sub}", which is not a subcommand of \`${path}\``);
      }
      await visit(sub);
    }
  };
  await visit('refscope');
  return out;
}

// ------------------------------------------------------------------ docs/usage.md

export interface DocRow {
  line: number;
  /** long flags without dashes */
  long: string[];
  short: string[];
}

export interface DocSection {
  heading: string;
  line: number;
  level: number;
  anchor: string;
  /** the commands the heading names ('refscope soak start'); empty for other headings */
  commands: string[];
  rows: DocRow[];
  /** anchors of the sections its rows link to */
  links: { anchor: string; line: number }[];
}

export interface DocCommandLine {
  line: number;
  /** the line without its `# comment` */
  text: string;
  /** ['refscope', 'farm', 'run', 'farm.yaml', …] up to ` -- ` */
  words: string[];
}

export interface UsageDoc {
  sections: DocSection[];
  commandLines: DocCommandLine[];
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
export function anchorOf(heading: string): string {
  return heading.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
}

/** Split a table row on its unescaped pipes: the cells, trimmed. */
function cells(row: string): string[] {
  const inner = row.trim().replace(/^\|/, '').replace(/(?<!\\)\|$/, '');
  return inner.split(/(?<!\\)\|/).map((c) => c.trim());
}

const COMMAND_SPAN = /`(refscope(?: [a-z][\w-]*)*)`/g;

export function parseUsageDoc(md: string): UsageDoc {
  const lines = md.split('\n');
  const sections: DocSection[] = [];
  const commandLines: DocCommandLine[] = [];
  let fence: string | null = null;
  let current: DocSection | null = null;
  lines.forEach((line, i) => {
    const n = i + 1;
    const f = /^\s*(```|~~~)/.exec(line);
    if (f) {
      if (fence === null) fence = f[1]!;
      else if (f[1] === fence) fence = null;
      return;
    }
    if (fence !== null) {
      // a command line in a code block: "refscope …" or "$ refscope …"
      const m = /^\s*(?:\$\s+)?(refscope\s.*)$/.exec(line);
      if (m) {
        const text = m[1]!.replace(/\s#.*$/, '').trimEnd();
        commandLines.push({ line: n, text, words: text.split(/\s--(?:\s|$)/)[0]!.trim().split(/\s+/) });
      }
      return;
    }
    const h = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (h) {
      current = {
        heading: h[2]!, line: n, level: h[1]!.length, anchor: anchorOf(h[2]!),
        commands: [...h[2]!.matchAll(COMMAND_SPAN)].map((c) => c[1]!), rows: [], links: [],
      };
      sections.push(current);
      return;
    }
    if (!current || !line.trimStart().startsWith('|')) return;
    const next = lines[i + 1] ?? '';
    if (/^\s*\|?\s*:?-{3,}/.test(next)) return; // a header row
    if (/^\s*\|?\s*:?-{3,}/.test(line)) return; // the separator
    const first = cells(line)[0] ?? '';
    const link = /^\[[^\]]*\]\(#([^)\s]+)\)$/.exec(first);
    if (link) { current.links.push({ anchor: link[1]!, line: n }); return; }
    const flags = [...first.matchAll(/`(-[^`\s]*)[^`]*`/g)].map((c) => c[1]!);
    if (flags.length === 0) return;
    current.rows.push({
      line: n,
      long: flags.filter((x) => x.startsWith('--')).map((x) => x.slice(2)),
      short: flags.filter((x) => /^-[^-]/.test(x)).map((x) => x.slice(1)),
    });
  });
  return { sections, commandLines };
}

/** A section and the headings under it up to the next heading of its level or higher, or the next command heading. */
function spanOf(doc: UsageDoc, s: DocSection): DocSection[] {
  const i = doc.sections.indexOf(s);
  const out = [s];
  for (const t of doc.sections.slice(i + 1)) {
    if (t.level <= s.level || t.commands.length > 0) break;
    out.push(t);
  }
  return out;
}

/** The rows a section lists: its own, its subsections', and those of the sections it links to. */
function rowsOf(doc: UsageDoc, s: DocSection, problems: string[], file: string, seen = new Set<DocSection>()): DocRow[] {
  const rows: DocRow[] = [];
  for (const part of spanOf(doc, s)) {
    if (seen.has(part)) continue;
    seen.add(part);
    rows.push(...part.rows);
    for (const l of part.links) {
      const target = doc.sections.find((t) => t.anchor === l.anchor);
      if (!target) { problems.push(`${file} line ${l.line}: the link to #${l.anchor} leads to no heading`); continue; }
      rows.push(...rowsOf(doc, target, problems, file, seen));
    }
  }
  return rows;
}

/**
 * A flag as yargs defines it: `no-narrow` is yargs' boolean negation of `narrow` (an option
 * named `narrow`, default true, which the help lists as --narrow) when the CLI has `narrow`
 * and no `no-narrow` of its own, so the docs may name the flag as users type it.
 */
function unnegated(flag: string, defined: Set<string>): string {
  const m = /^no-(.+)$/.exec(flag);
  return m && !defined.has(flag) && defined.has(m[1]!) ? m[1]! : flag;
}

/**
 * Every mismatch between the CLI and the docs, one line each; none when they agree.
 * `doc` names the file in the messages.
 */
export function compareUsage(cli: CliCommand[], md: string, doc = 'docs/usage.md'): string[] {
  const problems: string[] = [];
  const parsed = parseUsageDoc(md);
  const root = cli.find((c) => c.path === 'refscope');
  const globals = new Set(root?.options.flatMap((o) => o.long) ?? []);
  const known = new Set(cli.map((c) => c.path));

  for (const s of parsed.sections) {
    for (const c of s.commands) {
      if (!known.has(c)) problems.push(`${doc} has a section for \`${c}\` (line ${s.line}), which yargs does not define`);
    }
  }

  for (const cmd of cli) {
    const sections = parsed.sections.filter((s) => s.commands.includes(cmd.path));
    if (sections.length === 0) {
      problems.push(`${doc} has no section for \`${cmd.path}\` (a heading naming it in a code span)`);
      continue;
    }
    const isRoot = cmd.path === 'refscope';
    const rows = sections.flatMap((s) => rowsOf(parsed, s, problems, doc));
    const docLong = new Set(rows.flatMap((r) => r.long));
    const docShort = new Set(rows.flatMap((r) => r.short));
    const yLong = new Set(cmd.options.flatMap((o) => o.long));
    const yShort = new Set(cmd.options.flatMap((o) => o.short));
    for (const l of [...docLong]) {
      const u = unnegated(l, yLong);
      if (u !== l) { docLong.delete(l); docLong.add(u); }
    }

    // yargs → docs: the command's own options (the root's are documented once, in the root's section)
    for (const o of cmd.options) {
      const own = o.long.filter((l) => !BUILTIN.has(l) && (isRoot || !globals.has(l)));
      for (const l of own) if (!docLong.has(l)) problems.push(`${doc}: \`${cmd.path}\` lacks --${l} (yargs has it)`);
      if (o.long.some((l) => docLong.has(l))) {
        for (const a of o.short) if (!docShort.has(a)) problems.push(`${doc}: \`${cmd.path}\` lacks -${a}, the alias of --${o.long[0]} (yargs has it)`);
      }
    }
    // docs → yargs
    for (const l of docLong) if (!yLong.has(l)) problems.push(`${doc} lists --${l} for \`${cmd.path}\`, which yargs does not define`);
    for (const a of docShort) if (!yShort.has(a)) problems.push(`${doc} lists -${a} for \`${cmd.path}\`, which yargs does not define`);
  }

  // command lines in code blocks: the longest command path that starts the line, and its flags
  const byPath = new Map(cli.map((c) => [c.path, c]));
  for (const l of parsed.commandLines) {
    let cmd: CliCommand | undefined;
    for (let k = l.words.length; k >= 1 && !cmd; k--) cmd = byPath.get(l.words.slice(0, k).join(' '));
    if (!cmd) continue;
    const yLong = new Set([...cmd.options.flatMap((o) => o.long), ...globals]);
    const yShort = new Set([...cmd.options.flatMap((o) => o.short), ...(root?.options.flatMap((o) => o.short) ?? [])]);
    for (const w of l.words) {
      const m = /^(?:\[)?(--?)([A-Za-z][\w-]*)/.exec(w);
      if (!m) continue;
      const [, dashes, name] = m;
      if (dashes === '--' ? yLong.has(unnegated(name!, yLong)) : [...name!].every((ch) => yShort.has(ch))) continue;
      problems.push(`${doc} line ${l.line}: \`${l.text}\` uses ${dashes}${name}, which yargs does not define for \`${cmd.path}\``);
    }
  }
  return [...new Set(problems)];
}
