# ---------------------------------------------------------------- encoder  (probe/encoder.py)
# The records' JSON encoder (Python 2.5 has no json): ASCII out, \uXXXX escapes, so the
# bytes are the same on 2.x and 3.x.
# Defines: encode(v), _ascii(text) (to what os.write takes), _enc, _enc_str, _ESC.
# Uses (base): PY3, _unicode, _long, _bytes.

_ESC = {}                         # code point -> escape, for str.translate
for _i in range(32):
    _ESC[_i] = u'\\u%04x' % _i
_ESC[127] = u'\\u007f'
_ESC[34] = u'\\"'
_ESC[92] = u'\\\\'
_ESC[10] = u'\\n'
_ESC[13] = u'\\r'
_ESC[9] = u'\\t'


def _esc_wide(c):
    o = ord(c)
    if o < 128:
        return c
    if o > 0xFFFF:
        o -= 0x10000
        return '\\u%04x\\u%04x' % (0xD800 | (o >> 10), 0xDC00 | (o & 0x3FF))
    return '\\u%04x' % o


def _enc_str(s):
    if not PY3 and isinstance(s, str):
        try:
            s = s.decode('utf-8')
        except UnicodeError:
            s = s.decode('latin-1')
    elif PY3 and not isinstance(s, str):
        try:
            s = s.decode('utf-8')
        except UnicodeError:
            s = s.decode('latin-1')
    s = s.translate(_ESC)
    try:
        s.encode('ascii')
    except UnicodeError:
        s = ''.join([_esc_wide(c) for c in s])
    return '"' + s + '"'


def _enc(v, out):
    t = type(v)
    if t is str or t is _unicode or t is _bytes:
        out.append(_enc_str(v))
    elif v is None:
        out.append('null')
    elif v is True:
        out.append('true')
    elif v is False:
        out.append('false')
    elif t is int or t is _long:
        out.append('%d' % v)
    elif t is float:
        if v != v or v in (1e999, -1e999):
            out.append('null')
        elif 1e7 <= abs(v) < 1e15:
            out.append('%.3f' % v)   # e.g. wall-clock seconds: keep the milliseconds
        else:
            out.append('%.9g' % v)
    elif t is list or t is tuple:
        out.append('[')
        first = True
        for x in v:
            if not first:
                out.append(',')
            first = False
            _enc(x, out)
        out.append(']')
    elif t is dict:
        out.append('{')
        items = []                # sorted by encoded key: Python 2 cannot compare
        for k in v:               # a non-ASCII str with a unicode
            if isinstance(k, (str, _unicode, _bytes)):
                items.append((_enc_str(k), k))
            else:
                items.append((_enc_str(str(k)), k))
        items.sort()
        first = True
        for ek, k in items:
            if not first:
                out.append(',')
            first = False
            out.append(ek)
            out.append(':')
            _enc(v[k], out)
        out.append('}')
    elif isinstance(v, (int, _long)):
        _enc(int(v), out)
    elif isinstance(v, float):
        _enc(float(v), out)
    else:
        out.append(_enc_str(str(v)))


def encode(v):
    """One JSON value as an ASCII str (tiny encoder: Python 2.5 has no json)."""
    out = []
    _enc(v, out)
    return ''.join(out)


def _ascii(s):
    """Text to what os.write takes: str on Python 2, bytes on Python 3."""
    if PY3:
        return s.encode('ascii')
    if isinstance(s, _unicode):
        return s.encode('ascii')
    return s
