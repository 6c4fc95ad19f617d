/**
 * `refscope farm export --lava FARM --out DIR`: the farm as LAVA test definitions (Lava-Test
 * Test Definition 1.0), one per (device, app) of the inventory, for a LAVA lab that owns the
 * devices. DIR is meant to be a git repository that LAVA jobs name (`from: git`): LAVA clones
 * it onto the device and runs a definition's steps from its top, so DIR also holds what the
 * steps run: refscope/refscope_probe.py (the probe, standalone: no host is there during the
 * job), refscope/refscope_lava.py (the on-device verdict, one `lava-test-case` per suspect
 * kind with its rate as the measurement) and apps/<app>/ (each app's `push` folder).
 *
 *   DIR/<app>/<device>.yaml     a test definition
 *   DIR/refscope/...            the probe and its verdict script
 *   DIR/apps/<app>/<folder>/    the app, as `push` would send it
 *
 * The probe's output folder is kept as the job's artifact: tarred beside it on the device
 * and, when the job sets ARTIFACT_PUT_URL, sent there with an HTTP PUT and referenced with
 * `lava-test-reference`; `refscope report` reads it once unpacked.
 */
import { cpSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { RefscopeError } from '../errors.js';
import { writeFileAtomic } from '../session/store.js';
import { quoteArg } from '../transport/quote.js';
import { deviceScriptsDir, PROBE_FILE } from '../device/scripts.js';
import { plan, type Farm, type FarmApp, type FarmDevice } from './inventory.js';

export const LAVA_VERDICT_FILE = 'refscope_lava.py';

/** a name LAVA takes for a test definition or a path part: [-_a-zA-Z0-9.] */
const safe = (s: string): string => s.replace(/[^-_a-zA-Z0-9.]/g, '_');

/** LAVA writes each parameter as NAME='value' into run.sh: a quote would end it. */
function param(where: string, v: string): string {
  if (v.includes("'") || v.includes('\n')) {
    throw new RefscopeError('ERR_INPUT', `${where}: ${JSON.stringify(v)} cannot be a LAVA parameter (LAVA writes it between single quotes)`, 'Use a value without quotes or newlines');
  }
  return v;
}

export interface LavaDefinition {
  device: string;
  app: string;
  /** relative to the export folder */
  path: string;
  name: string;
  definition: Record<string, unknown>;
}

/** The test definition of one (device, app): plain data, as LAVA's schema reads it. */
export function lavaDefinition(farm: Farm, d: FarmDevice, app: FarmApp): LavaDefinition {
  const name = safe(`refscope-${app.name}-${d.name}`);
  const session = safe(`${app.name}-${d.name}`);
  const probeArgs = [
    ...(app.interval !== null ? ['--interval', String(app.interval)] : []),
    ...(app.censusBudget !== null ? ['--census-budget', String(app.censusBudget)] : []),
  ];
  const appDir = app.push ? `"$REFSCOPE_HOME"/apps/${quoteArg(safe(app.name))}` : '"$HOME"';
  const command = `"$PYTHON" "$REFSCOPE_HOME/refscope/${PROBE_FILE}" --restore-sigint --out "$SESSION" ${probeArgs.map(quoteArg).join(' ')}${probeArgs.length ? ' ' : ''}-- ${[app.script, ...app.args].map(quoteArg).join(' ')}`;
  const steps = [
    'REFSCOPE_HOME="$(pwd)"',
    'case "$REFSCOPE_OUT" in /*) ;; *) REFSCOPE_OUT="$HOME/$REFSCOPE_OUT" ;; esac',
    'if [ -z "$PYTHON" ]; then for p in python3 python2.7 python2.6 python2.5 python2 python; do if command -v "$p" >/dev/null 2>&1; then PYTHON="$p"; break; fi; done; fi',
    'if [ -z "$PYTHON" ]; then echo "refscope: no python on this device: set the PYTHON parameter"; lava-test-case app-run --result fail; exit 1; fi',
    `SESSION="$REFSCOPE_OUT"/${quoteArg(session)}`,
    'rm -rf "$SESSION" "$SESSION.app.log" "$SESSION.tar.gz" "$SESSION.cases" && mkdir -p "$SESSION"',
    // the app runs in the background so that DURATION can stop it as `refscope run --duration` does (SIGINT: its report still follows)
    `cd ${appDir} && { ${command} > "$SESSION.app.log" 2>&1 & APP_PID=$!; }`,
    'if [ -n "$DURATION" ]; then ( sleep "$DURATION" & S=$!; trap \'kill $S 2>/dev/null; exit 0\' TERM; wait $S; kill -INT "$APP_PID" 2>/dev/null ) & WATCH=$!; fi',
    'APP_RC=0; wait "$APP_PID" || APP_RC=$?; [ -z "${WATCH:-}" ] || kill "$WATCH" 2>/dev/null || true',
    'cd "$REFSCOPE_HOME"; echo "refscope: the app ended with status $APP_RC; its output is in $SESSION.app.log"',
    `"$PYTHON" refscope/${LAVA_VERDICT_FILE} "$SESSION" --threshold "$THRESHOLD" --native-threshold "$NATIVE_THRESHOLD" > "$SESSION.cases"`,
    'while read CASE RESULT RATE UNITS; do lava-test-case "$CASE" --result "$RESULT" --measurement "$RATE" --units "$UNITS"; done < "$SESSION.cases"',
    `tar -cf - -C "$REFSCOPE_OUT" ${quoteArg(session)} ${quoteArg(`${session}.app.log`)} | gzip -c > "$SESSION.tar.gz"`,
    `if [ -n "$ARTIFACT_PUT_URL" ]; then if curl -sSf -T "$SESSION.tar.gz" "$ARTIFACT_PUT_URL/${session}.tar.gz"; then lava-test-reference session --result pass --reference "$ARTIFACT_PUT_URL/${session}.tar.gz"; else lava-test-case session --result fail; fi; else echo "refscope: the session stays on the device: $SESSION.tar.gz (refscope report reads it unpacked)"; fi`,
  ];
  const definition = {
    metadata: {
      format: 'Lava-Test Test Definition 1.0',
      name,
      description: `refscope: ${app.name} on ${d.name} under the standalone probe; one test case per suspect kind (object-growth, refcount-growth, native-growth) with its rate per mark`,
      devices: [d.name],
      scope: ['functional'],
    },
    params: {
      PYTHON: param(`${d.name}.python`, d.python ?? ''),
      REFSCOPE_OUT: param(`${d.name}.deviceDir`, d.deviceDir ? `${d.deviceDir}/lava` : '/tmp/refscope-lava'),
      DURATION: app.duration !== null ? String(app.duration) : '',
      THRESHOLD: '0.5',
      NATIVE_THRESHOLD: '4096',
      ARTIFACT_PUT_URL: '',
    },
    run: { steps },
  };
  return { device: d.name, app: app.name, path: `${safe(app.name)}/${safe(d.name)}.yaml`, name, definition };
}

export interface LavaExport {
  out: string;
  definitions: LavaDefinition[];
}

/** Write DIR: the definitions, the probe and its verdict script, the apps' folders. */
export async function exportLava(farm: Farm, outDir: string, appName?: string): Promise<LavaExport> {
  const out = resolve(outDir);
  const pairs = plan(farm, [...farm.devices].sort((a, b) => a.name.localeCompare(b.name)), appName);
  const defs = pairs.map(({ device, app }) => lavaDefinition(farm, device, app));
  mkdirSync(join(out, 'refscope'), { recursive: true });
  for (const f of [PROBE_FILE, LAVA_VERDICT_FILE]) cpSync(join(deviceScriptsDir(), f), join(out, 'refscope', f));
  const base = dirname(resolve(farm.file));
  for (const app of new Set(pairs.map((p) => p.app))) {
    if (!app.push) continue;
    const src = resolve(base, app.push);
    if (!existsSync(src)) throw new RefscopeError('ERR_INPUT', `${farm.file}: app '${app.name}': push folder ${src} does not exist`, 'Fix the push path (relative to the farm file)');
    const dst = join(out, 'apps', safe(app.name), basename(src));
    rmSync(dst, { recursive: true, force: true });
    cpSync(src, dst, { recursive: true, filter: (p) => !/(^|\/)(__pycache__|\.git)(\/|$)/.test(p.slice(src.length)) });
  }
  for (const d of defs) {
    mkdirSync(dirname(join(out, d.path)), { recursive: true });
    await writeFileAtomic(join(out, d.path), `# refscope farm export --lava: ${d.app} on ${d.device} (docs/farm.md, "LAVA")\n${stringify(d.definition, { lineWidth: 0 })}`);
  }
  return { out, definitions: defs };
}
