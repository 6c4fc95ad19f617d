# ---------------------------------------------------------------- sizes  (probe/sizes.py)
# Bytes a sampled object takes with what it alone holds (its __dict__, its own lists,
# strings, numbers): the object itself plus, to a small depth, every referent whose only
# reference is the one from its holder. Sizes come from the nearest built-in base type's
# __sizeof__ (never an app-defined hook), plus the collector's header for tracked types,
# rounded to the allocator's 8 bytes. Python 2.5 has no __sizeof__: basic size plus item
# size times the length of a built-in container.
# Defines: sample_sizes(samples), _owned_size, _base_sizeof, SIZE_DEPTH, SIZE_MAX_OBJECTS.
# Uses: base (_S, _grc, _type_attr, _FunctionType, _long, _unicode, _xrange), writer
#   (probe_error).

SIZE_DEPTH = 4
SIZE_MAX_OBJECTS = 256
_HEAPTYPE = 1 << 9
_HAVE_GC = 1 << 14
_MANAGED_DICT = 0
if sys.version_info[:2] >= (3, 11):
    _MANAGED_DICT = 1 << 4


def _gc_head():
    f = getattr(sys, 'getsizeof', None)
    if f is not None:
        try:
            return f([]) - [].__sizeof__()
        except Exception:
            pass
    return 3 * _ptr_size()


def _ptr_size():
    try:
        return type(()).__itemsize__ or 8
    except Exception:
        return 8


_SHARED_TYPES = (type, _FunctionType, type(sys), type(len))


def _base_sizeof(o):
    t = type(o)
    b = t
    try:
        # read as `type` defines them: a metaclass's hooks do not run
        while _type_attr(b, '__flags__') & _HEAPTYPE:
            b = _type_attr(b, '__bases__')[0]
    except Exception:
        b = object
    f = getattr(b, '__sizeof__', None)
    if f is not None:
        try:
            n = f(o)
        except Exception:
            n = object.__sizeof__(o)
    else:
        n = _size25(o, b)
    try:
        flags = _type_attr(t, '__flags__')
        if flags & _HAVE_GC:
            n += _S['gc_head']
        if _MANAGED_DICT and flags & _MANAGED_DICT:
            # 3.11+: the attributes live in a values array outside the object (and two
            # pointers before it), which no __sizeof__ counts: a pointer per value (its
            # referents, less the type), at least a small shared-keys table's worth
            k = len(gc.get_referents(o)) - 1
            n += _ptr_size() * (2 + max(6, k + 1))
    except Exception:
        pass
    return (n + 7) & ~7


def _size25(o, b):
    n = getattr(b, '__basicsize__', 16)
    if b is list or b is tuple or b is dict or b is str or b is _unicode or b is _long:
        try:
            k = b.__len__(o)     # the built-in's own length, not an override
        except Exception:
            k = 0
        if b is dict:
            if k > 5:
                m = 8
                while m * 2 <= k * 3:
                    m *= 2
                n += 3 * _ptr_size() * m
        elif b is list:
            n += _ptr_size() * k
        else:
            n += (getattr(b, '__itemsize__', 0) or 1) * k
    return n


def _owned_size(o, offset):
    """Bytes of o and of what only o holds (depth SIZE_DEPTH, SIZE_MAX_OBJECTS at most)."""
    total = _base_sizeof(o)
    seen = {id(o): 1}
    level = [o]
    left = SIZE_MAX_OBJECTS
    depth = 0
    while level and depth < SIZE_DEPTH and left > 0:
        nxt = []
        for h in level:
            try:
                subs = gc.get_referents(h)
            except Exception:
                continue
            for r in subs:
                if id(r) in seen or issubclass(type(r), _SHARED_TYPES):   # not r.__class__
                    continue
                seen[id(r)] = 1
                if _grc(r) - offset != 1:
                    continue
                total += _base_sizeof(r)
                nxt.append(r)
                left -= 1
                if left <= 0:
                    break
            subs = None
            if left <= 0:
                break
        level = nxt
        depth += 1
    level = nxt = None
    return total


def _owned_offset_walk():
    """References the size walk itself holds to a referent (its list of referents, the
    loop variable, getrefcount's argument), measured the same way on this interpreter."""
    h = [[]]
    subs = gc.get_referents(h)
    for r in subs:
        return _grc(r) - 1
    return 3


def sample_sizes(samples):
    """Median bytes of the sampled objects with what they alone hold, or None."""
    try:
        if 'gc_head' not in _S:
            _S['gc_head'] = _gc_head()
            _S['size_off'] = _owned_offset_walk()
        sizes = []
        for i in _xrange(len(samples)):
            sizes.append(_owned_size(samples[i], _S['size_off']))
        if not sizes:
            return None
        sizes.sort()
        return sizes[len(sizes) // 2]
    except Exception:
        probe_error('sizes')
        return None
