/**
 * A hostile device for the SSH rig: a rig device (device.ts) whose login answers
 * refscope's own commands maliciously, one behaviour at a time, switched by flag files
 * (`enable(flag)`), and otherwise runs them as a normal device would. Every command it is
 * sent is logged (`commands()`).
 *
 * The answers are built from raw bytes made here (tar headers with correct checksums,
 * junk, an archive cut short) and streamed by busybox applets on the device (`cat
 * /dev/zero`, `yes`, `head -c`), so an endless or huge answer costs the device nothing.
 *
 * The commands are recognised by stable parts of what refscope sends (see
 * src/capture/remote.ts, src/capture/soak.ts, src/device/*.ts): `exec tar -cf - -C RUN
 * segments` (a run's final pull), the discovery script (`mode="$1"; shift`),
 * `refscope_follow.py`, the doctor's facts (`printf "uname`), `printf %s "$HOME"`, soak
 * collect's `exec tar -cf - "$@"` and `exec cat …/segments/seg-…`.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDevice, type RigDevice } from './device.js';

// ---------------------------------------------------------------- tar bytes

export type TarType = 'file' | 'directory' | 'symlink';

/** One 512-byte ustar header, checksum computed. `size` may claim far more than will follow. */
export function tarHeader(o: { name: string; size?: number; type?: TarType; linkname?: string; mode?: number; mtime?: number }): Buffer {
  const b = Buffer.alloc(512, 0);
  const put = (s: string, off: number, len: number) => {
    const bytes = Buffer.from(s, 'utf8');
    if (bytes.length > len) throw new Error(`tar header field too long: ${s}`);
    bytes.copy(b, off);
  };
  const octal = (n: number, off: number, len: number) => {
    const s = n.toString(8).padStart(len - 1, '0');
    if (s.length > len - 1) throw new Error(`tar header number too large: ${n}`);
    put(`${s}\0`, off, len);
  };
  const type = o.type ?? 'file';
  put(o.name, 0, 100);
  octal(o.mode ?? (type === 'directory' ? 0o755 : 0o644), 100, 8);
  octal(0, 108, 8); // uid
  octal(0, 116, 8); // gid
  octal(type === 'file' ? o.size ?? 0 : 0, 124, 12);
  octal(o.mtime ?? 1_700_000_000, 136, 12);
  b.fill(0x20, 148, 156); // the checksum field counts as spaces
  b[156] = type === 'file' ? 0x30 : type === 'directory' ? 0x35 : 0x32;
  if (o.linkname) put(o.linkname, 157, 100);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  put('root', 265, 32);
  put('root', 297, 32);
  let sum = 0;
  for (const x of b) sum += x;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return b;
}

/** Zero bytes that round `size` up to the 512-byte block. */
export function tarPad(size: number): Buffer {
  return Buffer.alloc((512 - (size % 512)) % 512, 0);
}

/** A whole (small) file entry: header, data, padding. */
export function tarFile(name: string, data: Buffer | string, type: TarType = 'file', linkname?: string): Buffer {
  const d = Buffer.from(data);
  return Buffer.concat([tarHeader({ name, size: type === 'file' ? d.length : 0, type, ...(linkname ? { linkname } : {}) }), type === 'file' ? d : Buffer.alloc(0), type === 'file' ? tarPad(d.length) : Buffer.alloc(0)]);
}

/** The end of an archive: two zero blocks. */
export const TAR_END = Buffer.alloc(1024, 0);

/**
 * An archive of one file that is one record line of `lineBytes` bytes (newline included),
 * as three parts: what comes before the filler, how many filler bytes ('a') follow, and what
 * comes after (the line's end, padding, the archive's end). The device streams the filler.
 */
export function oneLineEntry(name: string, lineBytes: number): { head: Buffer; fill: number; tail: Buffer } {
  const open = '{"seq":0,"k":"census","t":0.5,"pad":"';
  const close = '"}\n';
  const fill = lineBytes - open.length - close.length;
  if (fill < 0) throw new Error('line too short');
  return {
    head: Buffer.concat([tarFile('segments/', '', 'directory'), tarHeader({ name, size: lineBytes }), Buffer.from(open)]),
    fill,
    tail: Buffer.concat([Buffer.from(close), tarPad(lineBytes), TAR_END]),
  };
}

// ---------------------------------------------------------------- the device

/**
 * What the device does instead of (or before) a command of refscope's. A run's final pull
 * (`tar -cf - -C RUN segments`) takes one of the `pull-*` behaviours.
 */
export type HostileFlag =
  /** the real archive, then entries that escape (../, a symlink), then one whose header claims `bombBytes`; then zeros, endlessly */
  | 'pull-bomb'
  /** instead of the archive: one segment that is one line of `lineBytes` */
  | 'pull-line'
  /** before the real archive: a census line of `censusLineBytes` appended to the run's last segment (a legal file size) */
  | 'pull-census-line'
  /** 512 bytes of junk, then the channel stays open (sleep) */
  | 'pull-junk'
  /** the real archive cut after `truncateBytes`, exit 0 */
  | 'pull-truncated'
  /** interpreter discovery answers `yes`, endlessly */
  | 'discover-endless'
  /** with discover-endless: `cat /dev/zero` instead (no newline at all) */
  | 'discover-zero'
  /** the live follower sends one endless line (no newline) */
  | 'follow-endless'
  /** terminal escapes in uname (doctor's facts, `uname -m`, `uname -srm`) and in $HOME for every command */
  | 'escapes'
  /** `printf %s "$HOME"` answers a relative path full of escapes */
  | 'home-escapes'
  /** `printf %s "$HOME"` never answers (sleep) */
  | 'home-silent'
  /** every run's pid file says -1 before each command; commands that signal run in a pid namespace beside a sentinel (needs python3 on the device) */
  | 'pid-minus-one'
  /** soak collect's archive holds each closed segment twice, the second copy marked DUPLICATE-SECOND-COPY */
  | 'soak-dup'
  /** soak collect's `cat` of the growing segment streams /dev/zero, endlessly */
  | 'soak-endless-cat';

export interface HostileParams {
  /** the size the bomb entry's header claims (default 2 GiB) */
  bombBytes?: number;
  /** the one line of `pull-line` (default 30 MB) */
  lineBytes?: number;
  /** the census line of `pull-census-line` (default 10 MB) */
  censusLineBytes?: number;
  /** where `pull-truncated` cuts the archive (default 2560 bytes: mid-way through the first segment) */
  truncateBytes?: number;
  /** where the escaping archive entry of `pull-bomb` aims (an absolute folder; must never appear) */
  escapeDir: string;
}

export interface HostileDevice {
  device: RigDevice;
  enable(flag: HostileFlag): void;
  disable(flag: HostileFlag): void;
  disableAll(): void;
  /** every command line the device was sent, in order */
  commands(): string[];
  /** what the pid-namespace sentinel saw for each signalling command (`alive …` or `KILLED …`) */
  sentinel(): string[];
  /** (re)write the payload files for these sizes */
  setParams(p: HostileParams): void;
}

/** The escapes `escapes` and `home-escapes` send: OSC 52 (clipboard), window title, CSI, C1 CSI (UTF-8 and raw), RLO. */
export const ESCAPES_SH = '\\033]52;c;cHduZWQ=\\007\\033]0;pwned-title\\007\\033[2J\\033[31mred\\302\\23331m\\2331m\\342\\200\\256rlo';

/** sh, one `case` per command class; falls through to the real command. `$RIG_ROOT` is the device folder. */
export function hostileIntercept(): string {
  return `
  c="$SSH_ORIGINAL_COMMAND"
  F="$RIG_ROOT/flags"
  H="$RIG_ROOT/hostile"
  printf '%s\\n\\036\\n' "$c" >> "$RIG_ROOT/commands.log"
  if [ -e "$F/escapes" ]; then
    HOME="$HOME/$(printf 'h${ESCAPES_SH}')"; mkdir -p "$HOME"; export HOME
  fi
  if [ -e "$F/pid-minus-one" ]; then
    for f in "$HOME"/.refscope/runs/*/pid; do [ -f "$f" ] && echo -1 > "$f"; done
    case "$c" in *kill*) exec /usr/bin/unshare -p -f -m --mount-proc sh "$H/sandbox.sh" "$RIG_ROOT" ;; esac
  fi
  case "$c" in
    'exec tar -cf - -C '*' segments')
      if [ -e "$F/pull-bomb" ]; then sh -c "$c"; cat "$H/bomb.head"; exec cat /dev/zero; fi
      if [ -e "$F/pull-line" ]; then cat "$H/line.head"; head -c "$(cat "$H/line.fill")" /dev/zero | tr '\\0' a; cat "$H/line.tail"; exit 0; fi
      if [ -e "$F/pull-junk" ]; then cat "$H/junk"; exec sleep 1000; fi
      if [ -e "$F/pull-truncated" ]; then sh -c "$c" | head -c "$(cat "$H/truncate.bytes")"; exit 0; fi
      if [ -e "$F/pull-census-line" ]; then
        set -f; set -- $c; set +f
        last=$(ls "$6/segments" | grep '^seg-' | tail -n 1)
        { printf '{"seq":999999,"k":"census","t":1.0,"pad":"'; head -c "$(cat "$H/census.fill")" /dev/zero | tr '\\0' a; printf '"}\\n'; } >> "$6/segments/$last"
      fi
      ;;
    *'mode="$1"; shift'*)
      if [ -e "$F/discover-endless" ]; then
        if [ -e "$F/discover-zero" ]; then exec cat /dev/zero; fi
        exec yes
      fi
      ;;
    *refscope_follow.py*)
      if [ -e "$F/follow-endless" ]; then tr '\\0' x < /dev/zero; exit 0; fi
      ;;
    *'printf "uname'*)
      if [ -e "$F/escapes" ]; then
        sh -c "$c"
        printf 'shell\\t/bin/sh ${ESCAPES_SH}\\n'
        printf 'uname\\tLinux ${ESCAPES_SH}\\n'
        printf 'machine\\tarm${ESCAPES_SH}\\n'
        exit 0
      fi
      ;;
    'exec uname -m'|'exec uname -srm')
      if [ -e "$F/escapes" ]; then printf 'Linux arm${ESCAPES_SH}\\n'; exit 0; fi
      ;;
    *'printf %s "$HOME"'*)
      if [ -e "$F/home-silent" ]; then exec sleep 1000; fi
      if [ -e "$F/home-escapes" ]; then printf '${ESCAPES_SH}relative'; exit 0; fi
      ;;
    *'exec tar -cf - "$@"'*)
      if [ -e "$F/soak-dup" ]; then
        set -f; names=
        for w in $c; do case "$w" in seg-*.jsonl) names="$names $w" ;; esac; done
        sh -c "$c"
        t="$RIG_ROOT/dup"; rm -rf "$t"; mkdir -p "$t"
        for n in $names; do printf '{"seq":0,"k":"DUPLICATE-SECOND-COPY"}\\n' > "$t/$n"; done
        cd "$t" && exec tar -cf - $names
      fi
      ;;
    'exec cat '*/segments/seg-*)
      if [ -e "$F/soak-endless-cat" ]; then exec cat /dev/zero; fi
      ;;
  esac`;
}

/**
 * Runs a signalling command in its own pid namespace (as a child of its pid 1) beside a
 * sentinel process that catches every catchable signal: a `kill … -1` there reaches the
 * sentinel (and nothing of this machine). Logs, per command, `alive`, `SIGNALLED(n …)` or
 * `KILLED`. $1 = the device folder. (A shell's background job ignores SIGINT: the sentinel
 * is a Python that installs its own handlers.)
 */
const SANDBOX = `g=$(mktemp "$1/sentinel.XXXXXX")
python3 "$1/hostile/sentinel.py" "$g" &
s=$!
i=0
while [ ! -e "$g.ready" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
sh -c "$SSH_ORIGINAL_COMMAND"
rc=$?
sleep 0.2
st=$(sed -n 's/^State:[[:space:]]*\\([A-Z]\\).*/\\1/p' "/proc/$s/status" 2>/dev/null)
got=$(cat "$g" 2>/dev/null)
if [ ! -e "$g.ready" ]; then w=NOT-READY
elif [ -n "$got" ]; then w="SIGNALLED($got)"
else case "$st" in S|R|D) w=alive ;; *) w="KILLED($st)" ;; esac
fi
printf '%s %s\\n\\036\\n' "$w" "$SSH_ORIGINAL_COMMAND" >> "$1/sentinel.log"
kill -9 "$s" 2>/dev/null
rm -f "$g" "$g.ready"
exit $rc
`;

/** The sentinel: records each signal it gets in $1 (signal numbers), says it is ready in $1.ready. */
const SENTINEL = `import signal, sys, time
out = sys.argv[1]
def on(sig, frame):
    f = open(out, 'a')
    f.write('%d ' % sig)
    f.close()
for name in ('SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGPIPE', 'SIGCONT'):
    signal.signal(getattr(signal, name), on)
open(out + '.ready', 'w').close()
while True:
    time.sleep(1)
`;

export function makeHostileDevice(pythons: Record<string, string>, params: HostileParams): HostileDevice {
  const device = makeDevice({ pythons, intercept: hostileIntercept() });
  const flags = join(device.root, 'flags');
  const payload = join(device.root, 'hostile');
  mkdirSync(flags);
  mkdirSync(payload);
  const setParams = (p: HostileParams): void => {
    const bomb = p.bombBytes ?? 2 * 1024 * 1024 * 1024;
    const esc = p.escapeDir.replace(/^\/+/, '');
    writeFileSync(join(payload, 'bomb.head'), Buffer.concat([
      // a file whose name climbs out of the session (its base name is a segment's)
      tarFile(`${'../'.repeat(12)}${esc}/seg-000098.jsonl`, '\n'),
      // a symbolic link in place of a segment, and one that climbs out
      tarFile('segments/seg-000097.jsonl', '', 'symlink', '/etc/passwd'),
      tarFile(`${'../'.repeat(12)}${esc}/link`, '', 'symlink', '/etc/passwd'),
      // the bomb: a segment whose header claims `bomb` bytes (then zeros follow, endlessly)
      tarHeader({ name: 'segments/seg-000099.jsonl', size: bomb }),
    ]));
    const line = oneLineEntry('segments/seg-000001.jsonl', p.lineBytes ?? 30_000_000);
    writeFileSync(join(payload, 'line.head'), line.head);
    writeFileSync(join(payload, 'line.fill'), String(line.fill));
    writeFileSync(join(payload, 'line.tail'), line.tail);
    writeFileSync(join(payload, 'census.fill'), String((p.censusLineBytes ?? 10_000_000) - 60));
    writeFileSync(join(payload, 'junk'), Buffer.alloc(512, 'J'));
    writeFileSync(join(payload, 'truncate.bytes'), String(p.truncateBytes ?? 2560));
    writeFileSync(join(payload, 'sandbox.sh'), SANDBOX);
    writeFileSync(join(payload, 'sentinel.py'), SENTINEL);
  };
  setParams(params);
  const records = (file: string): string[] => {
    try {
      return readFileSync(join(device.root, file), 'latin1').split('\n\x1e\n').filter((s) => s !== '');
    } catch {
      return [];
    }
  };
  return {
    device,
    setParams,
    enable: (flag) => writeFileSync(join(flags, flag), ''),
    disable: (flag) => rmSync(join(flags, flag), { force: true }),
    disableAll: () => {
      rmSync(flags, { recursive: true, force: true });
      mkdirSync(flags);
    },
    commands: () => records('commands.log'),
    sentinel: () => records('sentinel.log'),
  };
}
