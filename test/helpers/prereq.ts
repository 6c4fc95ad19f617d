/**
 * Prerequisites of the suite (root, sshd, dropbear, tmpfs, the armel rootfs, xmllint,
 * chromium, Python 2.7 and a 3.x) and optional extras (Python 2.5, an armel Python 2.5).
 *
 * `skipWhy(name, why)` returns `why` (so `describe.skipIf(skipWhy(...) !== null)` skips and
 * the title can say why) and records the skip for the run's summary. Under
 * REFSCOPE_REQUIRE_RIG=1 (set by .ci/run) a missing REQUIRED prerequisite throws instead,
 * so the test file fails with the reason: a green CI run cannot hide that a layer never ran.
 * Optional extras always skip.
 */
import { appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REQUIRE_RIG = process.env.REFSCOPE_REQUIRE_RIG === '1';

/** Where skips are recorded for the global teardown's summary (one line each). */
export const SKIP_LOG = process.env.REFSCOPE_SKIP_LOG ?? join(tmpdir(), `refscope-skips-${process.ppid}.log`);

export interface PrereqOptions {
  /** an optional extra (Python 2.5, an armel Python 2.5): skipped even under REFSCOPE_REQUIRE_RIG */
  optional?: boolean;
}

export function skipWhy(name: string, why: string | null, opts: PrereqOptions = {}): string | null {
  if (why === null) return null;
  if (REQUIRE_RIG && !opts.optional) {
    throw new Error(`required prerequisite missing: ${name}: ${why} (REFSCOPE_REQUIRE_RIG=1; .ci/run installs it)`);
  }
  try {
    appendFileSync(SKIP_LOG, `${opts.optional ? 'optional' : 'required'}\t${name}\t${why}\n`);
  } catch {
    /* the summary is a courtesy */
  }
  return why;
}
