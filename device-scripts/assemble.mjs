#!/usr/bin/env node
// Assembles the probe: device-scripts/probe/*.py (authored as small modules) into the one
// file that is deployed and run, device-scripts/refscope_probe.py.
//
//   node device-scripts/assemble.mjs           write refscope_probe.py
//   node device-scripts/assemble.mjs --check   exit 1 when refscope_probe.py differs from
//                                              what the modules assemble to
//
// probe/loader.py is the outer file: a short loader holding the probe's body as one raw
// string, which it compiles in a forked child (see its header for why). Its line
// `# @probe-modules...` (alone inside the string) is replaced by the modules below, in
// this order, joined by two blank lines. They share one namespace once assembled; each
// says at its top what it defines and which earlier names it uses. No dependencies: Node
// only, so the build and a checkout without node_modules can both run it.
import { readFileSync, readdirSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const SRC = join(HERE, 'probe');
const OUT = join(HERE, 'refscope_probe.py');
const FIX = 'node device-scripts/assemble.mjs';

/** The body's modules, in the order they run. */
export const MODULES = [
  'base.py',       // imports, constants, type handles, the probe's state _S
  'encoder.py',    // the tiny JSON encoder
  'writer.py',     // records into rotating segments; probe-error events
  'storage.py',    // --max-device-mb: merging and thinning closed segments
  'census.py',     // type names, the census, which types to ask about
  'deep.py',       // the deep census: what the collector does not track
  'referrers.py',  // who holds the sampled objects, named from a root
  'links.py',      // a holder that only carries a reference, followed to its container
  'sizes.py',      // bytes a sampled object holds alone
  'narrow.py',     // the narrowing window: the call that leaks a suspect
  'hooks.py',      // what a narrowing window sees: its profile hooks, the sites they record
  'sampler.py',    // the sampler thread, samples, the census cadence
  'api.py',        // refscope.mark / watch, calibration
  'runner.py',     // command line, running the app, main
];
export const LOADER = 'loader.py';
const PLACEHOLDER = /^# @probe-modules\b.*$/;

class AssemblyError extends Error {}

function read(name) {
  const text = readFileSync(join(SRC, name), 'latin1');
  if (!/^[\x00-\x7f]*$/.test(text)) throw new AssemblyError(`probe/${name}: not ASCII (the loader reads the body back as ASCII)`);
  if (text.includes('\r')) throw new AssemblyError(`probe/${name}: has CR line endings`);
  if (!text.endsWith('\n') || text.endsWith('\n\n')) throw new AssemblyError(`probe/${name}: must end with exactly one newline`);
  return text;
}

/** The assembled refscope_probe.py, as a string. */
export function assemble() {
  const present = readdirSync(SRC).filter((n) => n.endsWith('.py')).sort();
  for (const n of present) {
    if (n !== LOADER && !MODULES.includes(n)) throw new AssemblyError(`probe/${n} is not in the assembly order (MODULES in device-scripts/assemble.mjs)`);
  }
  const body = MODULES.map((n) => {
    const text = read(n);
    if (text.includes("'''")) throw new AssemblyError(`probe/${n}: contains ''' (it would end the body's string)`);
    return text;
  }).join('\n\n');
  const lines = read(LOADER).split('\n');
  const at = lines.findIndex((l) => PLACEHOLDER.test(l));
  if (at < 0 || lines.findIndex((l, i) => i > at && PLACEHOLDER.test(l)) >= 0) {
    throw new AssemblyError('probe/loader.py: needs exactly one `# @probe-modules` line');
  }
  // _BODY_LINE (the body's first line) is computed as the next line but one: keep it so
  if (lines[at - 1] !== "r'''" || lines[at + 1] !== "'''" || !/^_BODY_LINE = sys\._getframe\(\)\.f_lineno \+ 2\b/.test(lines[at - 2] ?? '')) {
    throw new AssemblyError("probe/loader.py: the `# @probe-modules` line must sit alone between r''' and ''', right after the _BODY_LINE line");
  }
  return [...lines.slice(0, at), body.slice(0, -1), ...lines.slice(at + 1)].join('\n');
}

function main(argv) {
  const check = argv.includes('--check');
  const unknown = argv.filter((a) => a !== '--check');
  if (unknown.length) {
    process.stderr.write(`assemble.mjs: unknown argument ${unknown[0]} (usage: ${FIX} [--check])\n`);
    return 2;
  }
  let text;
  try {
    text = assemble();
  } catch (e) {
    if (!(e instanceof AssemblyError)) throw e;
    process.stderr.write(`assemble.mjs: ${e.message}\n`);
    return 1;
  }
  let current = null;
  try {
    current = readFileSync(OUT, 'latin1');
  } catch {
    current = null;
  }
  if (check) {
    if (current === text) return 0;
    process.stderr.write(`device-scripts/refscope_probe.py is ${current === null ? 'missing' : 'out of date'} with device-scripts/probe/*.py: run \`${FIX}\` and commit the result\n`);
    return 1;
  }
  if (current !== text) {
    const tmp = `${OUT}.tmp`;
    writeFileSync(tmp, text, { encoding: 'latin1', mode: 0o644 });
    renameSync(tmp, OUT);
    process.stdout.write(`assembled device-scripts/refscope_probe.py (${text.split('\n').length - 1} lines) from ${MODULES.length} modules\n`);
  }
  return 0;
}

if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) {
  process.exitCode = main(process.argv.slice(2));
}
