# refscope_lava.py SESSION_DIR [--threshold N] [--native-threshold BYTES]
#
# The verdict of a standalone probe run, on the device, for a LAVA test definition
# (`refscope farm export --lava`; docs/farm.md, "LAVA"): no host is there during the job,
# so the job's own test cases come from here. It reads the probe's segment files in
# SESSION_DIR (docs/protocol.md) and prints one line per test case:
#
#   NAME RESULT MEASUREMENT UNITS
#   app-run pass 0 exit-status
#   object-growth fail 1.00 objects/mark
#   refcount-growth pass 0.00 references/mark
#   native-growth pass 312 bytes/mark
#
# and, on stderr, one line per case saying which type and why. This is a coarse gate, not
# the diagnosis: `refscope report SESSION_DIR` on the host (the folder kept as the job's
# artifact) runs the full analysis (confidence, referrers, where). Here a rate is the
# Theil-Sen slope (the median of the pairwise slopes, so one census taken amid a burst of
# temporaries does not move it) over the censuses of the second half of the run (warm-up
# left out), per mark of the busiest mark name (per second when the app never marks):
#   object-growth    the fastest-growing type's live-object count;
#   refcount-growth  the fastest growth of a type's reference sum beyond what its new
#                    objects bring (refsum slope - count slope x references per object);
#   native-growth    RSS growth in bytes; it fails only when no Python type grows (RSS that
#                    follows growing objects is their growth, already failed above).
# A rate at or above --threshold (default 0.5 per mark) fails; native growth at or above
# --native-threshold (default 4096 bytes per mark). Fewer than 4 censuses: result unknown.
#
# Python 2.5 to 3.13, standard library only (the 2.5 subset: DESIGN.md section 4).
import os
import sys

try:
    _loads = __import__('json').loads    # 2.6+: fast; 2.5 uses the small reader below
except ImportError:
    _loads = None


# ---- a JSON reader for 2.5, which has no json module (records are ASCII, \uXXXX escapes)
class _Bad(Exception):
    pass


_WS = ' \t\r\n'
_ESC = {'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}


def _value(s, i):
    while i < len(s) and s[i] in _WS:
        i += 1
    if i >= len(s):
        raise _Bad('end')
    c = s[i]
    if c == '{':
        d = {}
        i += 1
        while 1:
            while s[i] in _WS:
                i += 1
            if s[i] == '}':
                return d, i + 1
            k, i = _value(s, i)
            while s[i] in _WS:
                i += 1
            if s[i] != ':':
                raise _Bad(':')
            v, i = _value(s, i + 1)
            d[k] = v
            while s[i] in _WS:
                i += 1
            if s[i] == ',':
                i += 1
            elif s[i] != '}':
                raise _Bad('}')
    if c == '[':
        a = []
        i += 1
        while 1:
            while s[i] in _WS:
                i += 1
            if s[i] == ']':
                return a, i + 1
            v, i = _value(s, i)
            a.append(v)
            while s[i] in _WS:
                i += 1
            if s[i] == ',':
                i += 1
            elif s[i] != ']':
                raise _Bad(']')
    if c == '"':
        out = []
        i += 1
        while s[i] != '"':
            if s[i] == '\\':
                e = s[i + 1]
                if e == 'u':
                    out.append(unichr_(int(s[i + 2:i + 6], 16)))
                    i += 6
                else:
                    out.append(_ESC[e])
                    i += 2
            else:
                out.append(s[i])
                i += 1
        return ''.join(out), i + 1
    for word, v in (('true', True), ('false', False), ('null', None)):
        if s.startswith(word, i):
            return v, i + len(word)
    j = i
    while j < len(s) and s[j] in '+-0123456789.eE':
        j += 1
    num = s[i:j]
    if not num:
        raise _Bad('value')
    if '.' in num or 'e' in num or 'E' in num:
        return float(num), j
    return int(num), j


def unichr_(n):
    try:
        return unichr(n)
    except NameError:
        return chr(n)


def loads(line):
    if _loads is not None:
        return _loads(line)
    v, i = _value(line, 0)
    return v


# ---- reading the session
def records(d):
    names = [n for n in os.listdir(d) if n.startswith('seg-') and n.endswith('.jsonl')]
    names.sort()
    out = []
    for n in names:
        f = open(os.path.join(d, n), 'r')
        try:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    r = loads(line)
                except Exception:
                    continue    # a truncated last line: one lost record, as the host counts it
                if isinstance(r, dict):
                    out.append(r)
        finally:
            f.close()
    out.sort(key=lambda r: r.get('seq', 0))
    return out


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    if n == 0:
        return 0.0
    if n % 2:
        return float(xs[n // 2])
    return (xs[n // 2 - 1] + xs[n // 2]) / 2.0


def slope(points):
    """Theil-Sen: the median of the slopes between every two points with different x."""
    s = []
    for a in range(len(points)):
        for b in range(a + 1, len(points)):
            dx = points[b][0] - points[a][0]
            if dx != 0:
                s.append((points[b][1] - points[a][1]) / float(dx))
    return median(s)


def fmt(x, places):
    # formatted here, not by repr: the same text on 2.5 and 3.13
    return ('%.' + str(places) + 'f') % x


def judge(d, threshold, native_threshold):
    recs = records(d)
    cases = []
    notes = []
    end = None
    for r in recs:
        if r.get('k') == 'end':
            end = r
    if end is None:
        cases.append(('app-run', 'fail', '-1', 'exit-status'))
        notes.append('app-run: no end record: the run ended abnormally (killed, out of memory, power lost)')
    else:
        ok = end.get('how') == 'interrupt' or (end.get('how') == 'exit' and end.get('exit') == 0)
        cases.append(('app-run', ok and 'pass' or 'fail', str(end.get('exit')), 'exit-status'))
        notes.append('app-run: ended by %s, exit status %s%s' % (end.get('how'), end.get('exit'),
                     end.get('error') and (', ' + str(end.get('error'))) or ''))
    censuses = [r for r in recs if r.get('k') == 'census']
    last = {}
    for c in censuses:
        for k, v in (c.get('marks') or {}).items():
            last[k] = v
    mark = None
    for k in last:
        if mark is None or last[k] > last[mark]:
            mark = k
    if mark is not None and last[mark] > 0:
        unit = 'mark'
        xs = [(c.get('marks') or {}).get(mark, 0) for c in censuses]
    else:
        unit = 's'
        xs = [c.get('t', 0) for c in censuses]
    top = max(xs + [0])
    window = [(x, c) for x, c in zip(xs, censuses) if x >= top / 2.0 and x > 0]
    if len(window) > 60:
        step = len(window) / 60.0
        window = [window[int(k * step)] for k in range(60)] + [window[-1]]
    if len(window) < 4:
        for kind, units in (('object-growth', 'objects/' + unit), ('refcount-growth', 'references/' + unit), ('native-growth', 'bytes/' + unit)):
            cases.append((kind, 'unknown', '0', units))
            notes.append('%s: only %d census(es) in the second half of the run: too few to judge' % (kind, len(window)))
        return cases, notes
    series = {}
    for x, c in window:
        for t in c.get('types') or []:
            series.setdefault(t[0], []).append((x, t[1], t[2]))
    best_obj = (0.0, None)
    best_ref = (0.0, None)
    growing = []
    for name, pts in series.items():
        if len(pts) < 4:
            continue
        so = slope([(p[0], p[1]) for p in pts])
        sr = slope([(p[0], p[2]) for p in pts])
        counts = [p[1] for p in pts]
        refs = [p[2] for p in pts]
        per = sum(counts) and float(sum(refs)) / sum(counts) or 0.0
        extra = sr - so * per
        if so > 0:
            growing.append((so, name))
        if so > best_obj[0]:
            best_obj = (so, name)
        if extra > best_ref[0]:
            best_ref = (extra, name)
    growing.sort()
    growing.reverse()
    # new objects hold references: as many extra references as new objects may be theirs
    held = sum([g[0] for g in growing])
    obj_fail = best_obj[0] >= threshold
    ref_fail = best_ref[0] >= threshold and best_ref[0] > held
    per = mark or 'second'
    cases.append(('object-growth', obj_fail and 'fail' or 'pass', fmt(best_obj[0], 2), 'objects/' + unit))
    notes.append('object-growth: %s' % (growing and ', '.join(['%s +%s' % (g[1], fmt(g[0], 2)) for g in growing[:3]]) + ' per ' + per or 'no type grows'))
    cases.append(('refcount-growth', ref_fail and 'fail' or 'pass', fmt(best_ref[0], 2), 'references/' + unit))
    if best_ref[1] is None:
        notes.append('refcount-growth: no type\'s references grow beyond its objects\'')
    else:
        notes.append('refcount-growth: %s +%s references per %s beyond its objects\'%s' % (best_ref[1], fmt(best_ref[0], 2), per,
                     (best_ref[0] >= threshold and not ref_fail) and (' (the %s new objects per %s may hold them)' % (fmt(held, 2), per)) or ''))
    rss = [(x, c.get('rss')) for x, c in window if c.get('rss') is not None]
    if len(rss) < 4:
        cases.append(('native-growth', 'unknown', '0', 'bytes/' + unit))
        notes.append('native-growth: RSS unreadable (/proc)')
    else:
        b = slope(rss) * 1024.0
        grows = b >= native_threshold and not obj_fail and not ref_fail
        cases.append(('native-growth', grows and 'fail' or 'pass', fmt(b, 0), 'bytes/' + unit))
        notes.append('native-growth: RSS %s bytes per %s%s' % (fmt(b, 0), mark or 'second',
                     (b >= native_threshold and not grows) and ' (growing Python objects explain it)' or ''))
    return cases, notes


def main(argv):
    args = argv[1:]
    threshold = 0.5
    native_threshold = 4096.0
    d = None
    try:
        while args:
            a = args.pop(0)
            if a == '--threshold':
                threshold = float(args.pop(0))
            elif a == '--native-threshold':
                native_threshold = float(args.pop(0))
            elif d is None:
                d = a
            else:
                raise ValueError(a)
    except (IndexError, ValueError):
        d = None
    if d is None or not os.path.isdir(d):
        sys.stderr.write('usage: refscope_lava.py SESSION_DIR [--threshold N] [--native-threshold BYTES]\n')
        return 2
    cases, notes = judge(d, threshold, native_threshold)
    for c in cases:
        sys.stdout.write(' '.join(c) + '\n')
    for n in notes:
        sys.stderr.write('refscope: ' + n + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
