/**
 * What the analysis knows about type names: which are the app's own, which are builtin
 * containers/helpers that follow an app object around, and a rough size per object.
 * Sizes are estimates (CPython, 64-bit, GC header included); on 32-bit ARM they are
 * about 40 % smaller. They only rank suspects and subtract explained RSS growth.
 */

/** Modules whose dotted type names are the runtime's, not the app's. */
const RUNTIME_MODULES = new Set([
  '_thread', 'thread', 'threading', 'weakref', '_weakref', '_weakrefset', 'collections', '_collections',
  '_collections_abc', 'functools', '_functools', 'itertools', 're', '_sre', 'sre', 'sre_compile', 'socket',
  '_socket', 'io', '_io', 'os', 'posix', 'sys', 'types', 'builtins', '__builtin__', 'abc', '_abc', 'gc', 'time',
  'datetime', 'decimal', '_decimal', 'encodings', 'codecs', '_codecs', 'array', 'ctypes', '_ctypes', 'select',
  'logging', 'queue', 'Queue', 'json', 'enum', 'operator', '_operator', 'random', '_random', 'struct', '_struct',
  'zipimport', 'importlib', '_frozen_importlib', '_frozen_importlib_external', 'typing', 'asyncio', '_asyncio',
  'contextlib', 'string', 'signal', 'warnings', '_warnings', 'traceback', 'linecache', 'inspect', 'dis',
  'email', 'xml', 'http', 'urllib', 'ssl', '_ssl', 'hashlib', '_hashlib', 'pickle', '_pickle', 'cPickle',
  'copy', 'copy_reg', 'copyreg', 'heapq', 'bisect', 'math', 'cmath', 'subprocess', 'tempfile', 'shutil',
  'stat', 'errno', 'fcntl', 'mmap', 'zlib', 'binascii', 'unicodedata', 'locale', 'platform', 'sysconfig',
  'site', 'atexit', 'dataclasses', 'pathlib', 'argparse', 'optparse', 'getopt', 'textwrap', 'pprint',
  'reprlib', 'repr', 'numbers', 'fractions', 'statistics', 'uuid', 'base64', 'csv', 'sqlite3', '_sqlite3',
  'concurrent', 'multiprocessing', '_multiprocessing', 'selectors', 'contextvars', '_contextvars', 'tokenize',
  'ast', '_ast', 'symtable', 'zipfile', 'tarfile', 'gzip', 'bz2', 'lzma', 'unittest', 'doctest', 'sets',
  'UserDict', 'UserList', 'StringIO', 'cStringIO', 'mimetools', 'rfc822', 'httplib', 'urllib2', 'urlparse',
  'exceptions', 'new', 'refscope', 'refscope_probe',
]);

/** Builtin containers and helpers that usually exist because an app object does. */
export const HELPER_TYPES = new Set([
  'method', 'instancemethod', 'dict', 'list', 'tuple', 'function', 'cell', 'weakref', 'str', 'unicode',
  'builtin_function_or_method', 'frame', 'set', 'bytes', 'property', 'staticmethod', 'classmethod',
  'method-wrapper', 'generator', 'coroutine', 'traceback',
]);

/** True for the app's own types: `module.Class` from a module that is not the runtime's. */
export function isUserType(name: string): boolean {
  const dot = name.indexOf('.');
  if (dot <= 0) return false;
  return !RUNTIME_MODULES.has(name.slice(0, dot));
}

/** Builtins: no module prefix (`list`, `dict`, `method`). */
export function isBuiltinHelper(name: string): boolean {
  return HELPER_TYPES.has(name);
}

const SIZES = new Map<string, number>(Object.entries({
  tuple: 64, list: 88, dict: 232, set: 216, frozenset: 216, function: 136, method: 64, instancemethod: 64,
  builtin_function_or_method: 72, 'method-wrapper': 56, cell: 40, weakref: 80, str: 56, unicode: 64,
  bytes: 40, int: 28, long: 28, float: 24, frame: 400, generator: 200, coroutine: 200, traceback: 64,
  type: 1000, classobj: 400, module: 80, code: 150, property: 80, staticmethod: 48, classmethod: 48,
  deque: 624, 'collections.deque': 624, 'collections.OrderedDict': 400, bytearray: 56, memoryview: 184,
}));

/** An instance of an app class, its __dict__ included. */
export const INSTANCE_BYTES = 300;
/** Anything else (runtime helpers, C extension objects). */
export const DEFAULT_BYTES = 64;

/** Estimated bytes per live object of the type. */
export function bytesPerObject(name: string): number {
  return SIZES.get(name) ?? (isUserType(name) ? INSTANCE_BYTES : DEFAULT_BYTES);
}

/**
 * Whether a holder sentence of an app type mentions a builtin helper type: the signal that
 * objects of the helper exist because of the app object (`bound method Widget.on_click …`
 * makes `method` objects dependents of Widget).
 */
export function holderMentions(helper: string, via: string): boolean {
  switch (helper) {
    case 'method':
    case 'instancemethod':
      return /\bbound method\b/.test(via);
    case 'function':
    case 'cell':
      return /\b(function|closure|lambda|cell)\b/.test(via);
    case 'list':
      return /\blist\b/.test(via);
    case 'tuple':
      return /\btuple\b/.test(via);
    case 'set':
      return /\bset\b/.test(via);
    case 'dict':
      return /\bdict\b/.test(via);
    case 'weakref':
      return /\bweakref\b/.test(via);
    case 'frame':
    case 'generator':
    case 'traceback':
      return /\b(frame|generator|traceback|local)\b/.test(via);
    default:
      return via.includes(helper);
  }
}

/** Helpers every instance of an app class plausibly carries (its __dict__, its attribute strings). */
export function perInstanceHelper(helper: string): boolean {
  return helper === 'dict' || helper === 'str' || helper === 'unicode' || helper === 'weakref';
}

/** `app.ui.Widget` → `Widget` */
export function shortName(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot >= 0 ? name.slice(dot + 1) : name;
}
