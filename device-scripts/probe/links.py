# ---------------------------------------------------------------- links  (probe/links.py)
# Following the links that only carry a reference (a closure's cell and tuple, a function, a
# bound method, an anonymous tuple) up from a holder to the first container a person names
# in code, for the referrer walk's phrases; and the module-qualified class names those
# phrases use. Reads app objects only as referrers.py does (type(), _type_attr, C
# attributes of functions, methods and tuples).
# Defines: _chain, _in_chain, _said, _item_phrase, _link_text, _method_text, _is_link,
#   _closure_of, _closure_owner, _funcs_of_cell, _qual_class, _class_text, _owner_text,
#   _LINK_MAX.
# Uses: base (_type_attr, the type handles), referrers (_parents, _root, _name, _short,
#   _func_name, _KIND, _CellType, _METHOD_FUNC).

def _qual_class(k):
    """'module.QualName' of class k (builtins bare), read through `type`'s own descriptors
    (an old-style class's C attributes): no hook of the app's runs."""
    n = _type_attr(k, '__qualname__')
    if type(n) is not str and type(n) is not _unicode:
        n = _type_attr(k, '__name__')
    if type(n) is not str and type(n) is not _unicode:
        return '?'
    m = _type_attr(k, '__module__')
    if (type(m) is not str and type(m) is not _unicode) or m in ('builtins', '__builtin__', 'exceptions'):
        return str(n)
    return '%s.%s' % (m, n)


def _class_text(k, ctx):
    """Class k as a holder phrase names it: its own name; module-qualified in a chain's."""
    if ctx.get('qual'):
        return _qual_class(k)
    return _short_class(k)


def _owner_text(o, ctx):
    """The class of instance o as a holder phrase names it (see _class_text)."""
    if ctx.get('qual'):
        t = type(o)
        if t is _InstanceType:
            t = o.__class__      # an old-style instance's class: a C attribute, no hook
        return _qual_class(t)
    return _short(o)


def _closure_of(f):
    """Function f's closure tuple (None for a function without one): a C attribute."""
    try:
        return getattr(f, '__closure__', getattr(f, 'func_closure', None))
    except Exception:
        return None


def _funcs_of_cell(cell, ctx):
    """The functions whose closure holds cell (through their closure tuple)."""
    out = []
    for p in _parents(cell, ctx):
        if type(p) is tuple:
            for f in _parents(p, ctx):
                if type(f) is _FunctionType and _closure_of(f) is p:
                    out.append(f)
    return out


# ---- following links up to the container a person edits
# Some holders only carry a reference: a closure's cell (held by the closure tuple, held by
# the function), a function, a bound method, an anonymous tuple (a (deadline, callback)
# pair, an argument tuple). Named as the nearest link ("closure cell of function on_tick")
# they tell nobody what to fix; the walk goes on up through them to the first container a
# person names in code (a module global, a class or instance attribute, a dict, list or set
# such a name holds) and says it in one phrase:
#     HOLDER in CONTAINER (via LINK, LINK, ...)
#     HOLDER     closure `f` | closure tuple of `f` | closure cell of `f` | function `f` |
#                bound method W.m | list item | tuple item | dict value | dict key |
#                set member
#     CONTAINER  module global `mod.NAME` | attribute `mod.Class.attr` |
#                class attribute `mod.Class.attr` | dict|list|set `PATH` where PATH
#                names it from such a root (`mod.Class.attr['key'][*]`); a tuple is a
#                link (named as a path it would name one entry: `pending[28]`)
#     LINK       a (float, function) tuple | closure `f` | function `f` | bound method `W.m`
#                | a closure cell | a partial (any other object holding it that the walk
#                cannot name as a namespace, by its type)
# e.g. "closure `on_tick` in dict `ui.Scheduler.pending` (via a (float, function) tuple)".
# Names in it are module-qualified (in backticks); a holder named directly (a module
# global, an attribute, a named container) keeps its shorter phrase. Each link costs heap
# scans (deadline checks before each, as everywhere); at most _LINK_MAX links are followed.
_LINK_MAX = 6


def _link_text(o):
    t = type(o)
    if t is tuple:
        names = []
        for y in o[:4]:
            names.append(_short(y))
        if len(o) > 4:
            names.append('...')
        if len(names) == 1:
            return 'a (%s,) tuple' % names[0]
        return 'a (%s) tuple' % ', '.join(names)
    if t is _FunctionType:
        if _closure_of(o) is not None:
            return 'closure `%s`' % _func_name(o)
        return 'function `%s`' % _func_name(o)
    if t is _MethodType:
        return 'bound method `%s`' % _method_text(o)
    if t is _CellType:
        return 'a closure cell'
    return 'a ' + _short(o)


def _method_text(m, x=None):
    """'Class.method' of bound method m, by the instance it is bound to (2.x's unbound
    method, bound to nothing: by x, the object it holds)."""
    s = _METHOD_SELF.__get__(m, _MethodType)
    if s is None:
        s = x
    return '%s.%s' % (_short(s), _func_name(_METHOD_FUNC.__get__(m, _MethodType)))


_METHOD_SELF = _MethodType.__dict__.get('__self__')
if _METHOD_SELF is None:
    _METHOD_SELF = _MethodType.__dict__['im_self']     # 2.5


_NOT_LINKS = {dict: 1, list: 1, set: 1, frozenset: 1, _FrameType: 1, _GenType: 1, _ModuleType: 1}


def _is_link(o):
    """Can o be followed as a link: a tuple, a function, a bound method, a cell, or any
    other object the walk could not name as a namespace (a functools.partial, holding its
    argument tuple; a weak reference's callback; an object holding it in a C field)? Not a
    named container's type, a frame, a generator, a module or a class."""
    t = type(o)
    if t is tuple or t is _FunctionType or t is _MethodType or t is _CellType:
        return True
    return not (t in _NOT_LINKS or _is_class(o))


def _chain(c, ctx):
    """(CONTAINER, [LINK, ...]) for link c: its holders followed up through links to the
    first named container; None when there is none within _LINK_MAX links."""
    ctx['qual'] = True
    try:
        return _chain_walk(c, ctx)
    finally:
        ctx['qual'] = False


def _chain_walk(c, ctx):
    links = []
    seen = {}
    steps = 0
    while steps <= _LINK_MAX:
        steps += 1
        seen[id(c)] = 1
        parents = _parents(c, ctx)
        for p in parents:
            tp = type(p)
            if tp is _FrameType or tp is _GenType:
                continue
            r = _root(c, p, ctx)
            if r is not None:
                return ('%s `%s`' % r, links)
        for p in parents:
            tp = type(p)
            # (a tuple is a link: named as a path, `pending[28]`, it would name one entry)
            if tp is dict or tp is list or tp is set or tp is frozenset:
                n = _name(p, ctx, 1)
                if n is not None:
                    return ('%s `%s`' % (_KIND.get(tp, _short(p)), n[1]), links)
        nxt = None
        for p in parents:
            if _is_link(p) and id(p) not in seen:
                nxt = p
                break
        if nxt is None:
            return None
        if type(nxt) is tuple:
            owner = _closure_owner(nxt, ctx)
            if owner is not None:
                nxt = owner              # cell <- closure tuple <- function: one link
        if type(nxt) is not _CellType:
            links.append(_link_text(nxt))
        c = nxt
    return None


def _closure_owner(tup, ctx):
    """The function whose closure tuple tup is, or None."""
    for f in _parents(tup, ctx):
        if type(f) is _FunctionType and _closure_of(f) is tup:
            return f
    return None


def _said(ch, first=None):
    """'CONTAINER (via LINK, ...)' for a chain; `first`: the direct holder, said first."""
    container, links = ch
    if first is not None:
        links = [first] + links
    if links:
        return '%s (via %s)' % (container, ', '.join(links))
    return container


def _in_chain(head, c, ctx):
    """'HEAD in CONTAINER (via ...)' following the links up from c, or None."""
    ch = _chain(c, ctx)
    if ch is None:
        return None
    return '%s in %s' % (head, _said(ch))


def _item_phrase(head, r, ctx):
    """'HEAD in CONTAINER' for an item of list, dict, tuple or set r: r named from a root;
    else r followed up as a link (an anonymous tuple; an unnamed container held by one)."""
    n = _name(r, ctx, 1)
    if n is not None and not (type(r) is tuple and n[0] == 'tuple'):
        return '%s in %s %s' % (head, n[0], n[1])      # (a tuple named as a path is a link)
    ch = _chain(r, ctx)
    if ch is not None:
        if type(r) is tuple:
            return '%s in %s' % (head, _said(ch, _link_text(r)))
        return '%s in %s' % (head, _said(ch, 'an unnamed ' + _KIND.get(type(r), _short(r))))
    return '%s in unnamed %s' % (head, _KIND.get(type(r), _short(r)))
