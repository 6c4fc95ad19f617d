/**
 * docs/usage.md and the yargs definitions name the same flags, command by command (issue 12
 * item 8). The CLI side is each command's --help from the current sources; the docs side is
 * each command's section (a heading naming `refscope …` in a code span) and the first cells of
 * its tables. How both are read: test/helpers/usage-doc.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { cliTree, compareUsage, parseHelp, parseUsageDoc, type CliCommand } from '../helpers/usage-doc.js';

const DOC = join(ROOT, 'docs', 'usage.md');

let cli: CliCommand[];
beforeAll(async () => {
  cli = await cliTree();
});

describe('docs/usage.md against the yargs definitions', () => {
  it('the help pages are read: every command, its options and aliases', () => {
    const paths = cli.map((c) => c.path);
    // not the list to check (that comes from yargs), only proof the walk and the parsing work
    for (const p of ['refscope', 'refscope run', 'refscope report', 'refscope diff', 'refscope doctor',
      'refscope soak', 'refscope soak start', 'refscope soak status', 'refscope soak collect', 'refscope soak stop',
      'refscope farm', 'refscope farm run']) {
      expect(paths).toContain(p);
    }
    const run = cli.find((c) => c.path === 'refscope run')!;
    expect(run.options.flatMap((o) => o.long)).toEqual(expect.arrayContaining(['local', 'python', 'out', 'identity', 'verbose', 'help']));
    expect(run.options.find((o) => o.long.includes('identity'))?.short).toEqual(['i']);
    expect(cli.find((c) => c.path === 'refscope')!.options.flatMap((o) => o.long)).toContain('verbose');
  });

  it('names the same flags for every command, both ways', () => {
    const problems = compareUsage(cli, readFileSync(DOC, 'utf8'));
    if (problems.length > 0) {
      throw new Error(`${problems.length} mismatch(es) between docs/usage.md and the yargs definitions:\n${problems.join('\n')}`);
    }
  });
});

describe('the check itself', () => {
  const fakeCli: CliCommand[] = [
    { path: 'refscope', options: [{ long: ['verbose'], short: [] }, { long: ['version'], short: [] }, { long: ['help'], short: ['h'] }] },
    { path: 'refscope run', options: [{ long: ['verbose'], short: [] }, { long: ['local'], short: [] }, { long: ['identity'], short: ['i'] }, { long: ['help'], short: ['h'] }] },
    { path: 'refscope soak', options: [{ long: ['verbose'], short: [] }, { long: ['help'], short: ['h'] }] },
    { path: 'refscope soak start', options: [{ long: ['verbose'], short: [] }, { long: ['force'], short: [] }, { long: ['identity'], short: ['i'] }, { long: ['help'], short: ['h'] }] },
  ];
  const good = [
    '# Using refscope', '', '```', 'refscope run (DEVICE | --local) [options] -- SCRIPT --anything', 'refscope soak start DEVICE [--force] -- app.py', '```',
    '## `refscope`: every command', '| option | meaning |', '|---|---|', '| `--verbose` | log |', '| `--help`, `-h` | help |',
    '## SSH options', '| option | meaning |', '|---|---|', '| `--identity FILE`, `-i` | key |',
    '## `refscope run`', 'Prose may name `--whatever`.', '| option | meaning |', '|---|---|', '| `--local` | here |', '| [SSH options](#ssh-options) | how |',
    '### On a device', '| `--format` | what |', '|---|---|', '| `text` | words |',
    '## `refscope soak`', '```yaml', '# not a heading', '```',
    '### `refscope soak start`', '| option | meaning |', '|---|---|', '| `--force` | reuse |', '| [SSH options](#ssh-options) | how |',
  ].join('\n');

  it('passes a doc that agrees', () => {
    expect(compareUsage(fakeCli, good)).toEqual([]);
    // a row in a subsection that names no command belongs to the command above it
    const moved = good.replace('| `--local` | here |\n', '').replace('| `text` | words |', '| `text` | words |\n| `--local` | here |');
    expect(compareUsage(fakeCli, moved)).toEqual([]);
  });

  it('one line per mismatch, each way', () => {
    const bad = good
      .replace('| `--force` | reuse |\n', '')
      .replace('| `--local` | here |', '| `--local` | here |\n| `--foo N` | bar |')
      .replace('[--force]', '[--forse]')
      .replace('### `refscope soak start`', '### `refscope soak begin`');
    expect(compareUsage(fakeCli, bad)).toEqual([
      'docs/usage.md has a section for `refscope soak begin` (line 31), which yargs does not define',
      'docs/usage.md lists --foo for `refscope run`, which yargs does not define',
      'docs/usage.md has no section for `refscope soak start` (a heading naming it in a code span)',
      'docs/usage.md line 5: `refscope soak start DEVICE [--forse] -- app.py` uses --forse, which yargs does not define for `refscope soak start`',
    ]);
    const lacking = good.replace('| `--force` | reuse |\n', '').replace('| `--identity FILE`, `-i` | key |', '| `--identity FILE` | key |');
    expect(compareUsage(fakeCli, lacking)).toEqual([
      'docs/usage.md: `refscope run` lacks -i, the alias of --identity (yargs has it)',
      'docs/usage.md: `refscope soak start` lacks --force (yargs has it)',
      'docs/usage.md: `refscope soak start` lacks -i, the alias of --identity (yargs has it)',
    ]);
  });

  it('takes --no-X in the docs as the yargs boolean --X it negates, and only that', () => {
    const cli: CliCommand[] = fakeCli.map((c) => (c.path === 'refscope run' ? { ...c, options: [...c.options, { long: ['narrow'], short: [] }] } : c));
    const negated = good.replace('| `--local` | here |', '| `--local` | here |\n| `--no-narrow` | skip it |')
      .replace('refscope run (DEVICE | --local) [options]', 'refscope run (DEVICE | --local) --no-narrow [options]');
    expect(compareUsage(cli, negated)).toEqual([]);
    // a --no-X whose X yargs does not define is unknown, and --narrow is then undocumented
    expect(compareUsage(cli, negated.replace('`--no-narrow`', '`--no-such`'))).toEqual([
      'docs/usage.md: `refscope run` lacks --narrow (yargs has it)',
      'docs/usage.md lists --no-such for `refscope run`, which yargs does not define',
    ]);
  });

  it('reads sections, header rows, links and code blocks as documented', () => {
    const doc = parseUsageDoc(good);
    const run = doc.sections.find((s) => s.commands.includes('refscope run'))!;
    expect(run.rows.map((r) => r.long)).toEqual([['local']]); // prose and the header row do not count
    expect(run.links.map((l) => l.anchor)).toEqual(['ssh-options']);
    expect(doc.sections.find((s) => s.heading === 'On a device')!.rows).toEqual([]);
    expect(doc.sections.some((s) => s.heading === 'not a heading')).toBe(false);
    expect(doc.commandLines.map((l) => l.words)).toEqual([
      ['refscope', 'run', '(DEVICE', '|', '--local)', '[options]'],
      ['refscope', 'soak', 'start', 'DEVICE', '[--force]'],
    ]);
  });

  it('parses a yargs help page', () => {
    const page = parseHelp([
      'refscope soak <action>', '', 'Commands:', '  refscope soak start <device>    Start the app', '  refscope soak status <device>   Is it', '                                  alive',
      '', 'Options:', '      --verbose     log to stderr too                    [boolean]',
      '  -i, --identity    the private key, a long description that wraps and goes on',
      '                    --like-a-flag here                     [string]', '  -h, --help        Show help',
    ].join('\n'));
    expect(page.commands).toEqual(['refscope soak start', 'refscope soak status']);
    expect(page.options).toEqual([
      { long: ['verbose'], short: [] }, { long: ['identity'], short: ['i'] }, { long: ['help'], short: ['h'] },
    ]);
  });
});
