"""Reject Python newer than 2.5 in device-side files (DESIGN.md section 4).

    python3 test/lint/py25_lint.py FILE_OR_DIR...

Parses each .py file with the ast module of the running Python 3 and reports every
construct that CPython 2.5 cannot compile or run, as `file:line: reason`. Exit status 1
when anything is found, 0 when the files are clean, 2 on bad usage. The real 2.5
interpreter is the final judge; this catches the usual slips early and says where.
"""
import ast
import io
import os
import sys
import tokenize

# Modules (and names inside them) that 2.5 does not have.
NEW_MODULES = {
    'json': '2.6', 'io': '2.6', 'argparse': '2.7', 'ast': '2.6', 'abc': '2.6',
    'fractions': '2.6', 'numbers': '2.6', 'multiprocessing': '2.6', 'ssl': '2.6',
    'importlib': '2.7', 'sysconfig': '2.7', 'concurrent': '3.2', 'pathlib': '3.4',
    'typing': '3.5', 'enum': '3.4', 'asyncio': '3.4', 'dataclasses': '3.7',
    'selectors': '3.4', 'statistics': '3.4', 'secrets': '3.6',
}
NEW_NAMES = {
    ('collections', 'namedtuple'): '2.6', ('collections', 'OrderedDict'): '2.7',
    ('collections', 'Counter'): '2.7', ('itertools', 'product'): '2.6',
    ('itertools', 'permutations'): '2.6', ('itertools', 'combinations'): '2.6',
    ('itertools', 'chain.from_iterable'): '2.6', ('itertools', 'zip_longest'): '3.0',
    ('itertools', 'izip_longest'): '2.6', ('string', 'Formatter'): '2.6',
    ('os', 'closerange'): '2.6', ('os', 'SEEK_SET'): '2.6', ('os', 'SEEK_END'): '2.6',
    ('functools', 'total_ordering'): '2.7', ('functools', 'cmp_to_key'): '2.7',
}
NEW_FUTURES = {'print_function': '2.6', 'unicode_literals': '2.6', 'barry_as_FLUFL': '3.1',
               'generator_stop': '3.5', 'annotations': '3.7'}
# Builtins 2.5 lacks.
NEW_BUILTINS = {'next': '2.6', 'print': '2.6 as a function (and the statement is 3.x-invalid)',
                'bytes': '2.6', 'bytearray': '2.6', 'memoryview': '2.7', 'format': '2.6',
                'bin': '2.6', 'ascii': '3.0', 'exec': None}
# Attributes that are newer than 2.5: allowed only under an `if hasattr(..., 'name')`
# (or a getattr with a default, which is a string, not an attribute).
NEW_ATTRS = {
    'getsizeof': 'sys.getsizeof is 2.6', 'is_tracked': 'gc.is_tracked is 2.7',
    'setitimer': 'signal.setitimer is 2.6', 'getitimer': 'signal.getitimer is 2.6',
    'current_thread': 'threading.current_thread is 2.6 (use currentThread)',
    'active_count': 'threading.active_count is 2.6 (use activeCount)',
    'daemon': 'Thread.daemon property is 2.6 (use setDaemon/isDaemon)',
    'is_set': 'Event.is_set is 2.6 (use isSet)', 'is_alive': 'Thread.is_alive is 2.6',
    'format': 'str.format is 2.6', 'setter': '@property.setter is 2.6',
    'getswitchinterval': 'sys.getswitchinterval is 3.2',
    'setswitchinterval': 'sys.setswitchinterval is 3.2',
}


class Lint(ast.NodeVisitor):
    def __init__(self, path):
        self.path = path
        self.problems = []
        self.guards = []   # attribute names made safe by an enclosing hasattr() test

    def bad(self, node, reason):
        self.problems.append((getattr(node, 'lineno', 0), reason))

    # -- statements
    def visit_With(self, node):
        self.bad(node, '`with` statement (2.6; use try/finally)')
        self.generic_visit(node)

    def visit_AsyncWith(self, node):
        self.bad(node, '`async with` (3.5)')
        self.generic_visit(node)

    def visit_AsyncFunctionDef(self, node):
        self.bad(node, '`async def` (3.5)')
        self.generic_visit(node)

    def visit_AsyncFor(self, node):
        self.bad(node, '`async for` (3.5)')
        self.generic_visit(node)

    def visit_Await(self, node):
        self.bad(node, '`await` (3.5)')
        self.generic_visit(node)

    def visit_Nonlocal(self, node):
        self.bad(node, '`nonlocal` (3.0)')

    def visit_ExceptHandler(self, node):
        if node.name:
            self.bad(node, '`except ... as name` (2.6; use sys.exc_info()[1])')
        self.generic_visit(node)

    def visit_TryStar(self, node):
        self.bad(node, '`except*` (3.11)')
        self.generic_visit(node)

    def visit_Raise(self, node):
        if getattr(node, 'cause', None) is not None:
            self.bad(node, '`raise ... from ...` (3.0)')
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        self.bad(node, 'variable annotation (3.6)')
        self.generic_visit(node)

    def visit_Match(self, node):
        self.bad(node, '`match` statement (3.10)')
        self.generic_visit(node)

    def visit_ClassDef(self, node):
        if node.decorator_list:
            self.bad(node, 'class decorator (2.6)')
        if node.keywords:
            self.bad(node, 'class keyword arguments / metaclass= (3.0)')
        for b in node.bases:
            if isinstance(b, ast.Starred):
                self.bad(node, 'starred base classes (3.0)')
        self.generic_visit(node)

    def _check_args(self, node):
        a = node.args
        if a.kwonlyargs:
            self.bad(node, 'keyword-only arguments (3.0)')
        if getattr(a, 'posonlyargs', None):
            self.bad(node, 'positional-only arguments (3.8)')
        for arg in list(a.args) + list(a.kwonlyargs) + [a.vararg, a.kwarg]:
            if arg is not None and arg.annotation is not None:
                self.bad(node, 'argument annotation (3.0)')
        if getattr(node, 'returns', None) is not None:
            self.bad(node, 'return annotation (3.0)')

    def visit_FunctionDef(self, node):
        self._check_args(node)
        for d in node.decorator_list:
            if isinstance(d, ast.Attribute) and d.attr in ('setter', 'deleter'):
                self.bad(d, '@property.%s (2.6)' % d.attr)
        self.generic_visit(node)

    def visit_Lambda(self, node):
        self._check_args(node)
        self.generic_visit(node)

    def visit_If(self, node):
        names = guarded_names(node.test)
        self.visit(node.test)
        self.guards.append(names)
        for n in node.body:
            self.visit(n)
        self.guards.pop()
        for n in node.orelse:
            self.visit(n)

    def visit_IfExp(self, node):
        names = guarded_names(node.test)
        self.visit(node.test)
        self.guards.append(names)
        self.visit(node.body)
        self.guards.pop()
        self.visit(node.orelse)

    def visit_Import(self, node):
        for alias in node.names:
            top = alias.name.split('.')[0]
            if top in NEW_MODULES:
                self.bad(node, 'import of %s (%s; not in 2.5)' % (alias.name, NEW_MODULES[top]))
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        mod = node.module or ''
        top = mod.split('.')[0]
        if mod == '__future__':
            for alias in node.names:
                if alias.name in NEW_FUTURES:
                    self.bad(node, 'from __future__ import %s (%s)' % (alias.name, NEW_FUTURES[alias.name]))
        elif top in NEW_MODULES:
            self.bad(node, 'import from %s (%s; not in 2.5)' % (mod, NEW_MODULES[top]))
        for alias in node.names:
            if (mod, alias.name) in NEW_NAMES:
                self.bad(node, '%s.%s (%s)' % (mod, alias.name, NEW_NAMES[(mod, alias.name)]))
        self.generic_visit(node)

    # -- expressions
    def visit_JoinedStr(self, node):
        self.bad(node, 'f-string (3.6)')

    def visit_Set(self, node):
        self.bad(node, 'set literal (2.7; use set([...]))')
        self.generic_visit(node)

    def visit_SetComp(self, node):
        self.bad(node, 'set comprehension (2.7)')
        self.generic_visit(node)

    def visit_DictComp(self, node):
        self.bad(node, 'dict comprehension (2.7)')
        self.generic_visit(node)

    def visit_YieldFrom(self, node):
        self.bad(node, '`yield from` (3.3)')
        self.generic_visit(node)

    def visit_NamedExpr(self, node):
        self.bad(node, 'assignment expression := (3.8)')
        self.generic_visit(node)

    def visit_Starred(self, node):
        if not isinstance(getattr(node, 'parent', None), ast.Call):
            self.bad(node, 'starred expression / extended unpacking (3.0)')
        self.generic_visit(node)

    def visit_Dict(self, node):
        if any(k is None for k in node.keys):
            self.bad(node, '{**mapping} unpacking (3.5)')
        self.generic_visit(node)

    def visit_BinOp(self, node):
        if isinstance(node.op, ast.MatMult):
            self.bad(node, '@ operator (3.5)')
        self.generic_visit(node)

    def visit_Constant(self, node):
        if isinstance(node.value, bytes):
            self.bad(node, "b'' bytes literal (2.6)")

    def visit_Call(self, node):
        for a in node.args:
            a.parent = node
        starred = [a for a in node.args if isinstance(a, ast.Starred)]
        if len(starred) > 1:
            self.bad(node, 'more than one *args in a call (3.5)')
        if starred:
            pos = (starred[0].lineno, starred[0].col_offset)
            later = [a for a in node.args if (getattr(a, 'lineno', 0), getattr(a, 'col_offset', 0)) > pos]
            if later:
                self.bad(node, 'positional argument after *args (3.5)')
            for k in node.keywords:
                if k.arg is not None and (k.value.lineno, k.value.col_offset) > pos:
                    self.bad(node, 'keyword argument after *args (2.6)')
        if sum(1 for k in node.keywords if k.arg is None) > 1:
            self.bad(node, 'more than one **kwargs in a call (3.5)')
        f = node.func
        if isinstance(f, ast.Name) and f.id in NEW_BUILTINS and NEW_BUILTINS[f.id]:
            self.bad(node, '%s() builtin (%s)' % (f.id, NEW_BUILTINS[f.id]))
        self.generic_visit(node)

    def visit_Name(self, node):
        if node.id in ('bytes', 'bytearray', 'memoryview') and isinstance(node.ctx, ast.Load):
            if not self._guarded(node.id):
                self.bad(node, 'name %s (not a builtin in 2.5)' % node.id)

    def visit_Attribute(self, node):
        reason = NEW_ATTRS.get(node.attr)
        if reason and not self._guarded(node.attr):
            self.bad(node, '.%s: %s; guard it with hasattr()' % (node.attr, reason))
        v = node.value
        if isinstance(v, ast.Name) and v.id == 'collections' and node.attr in ('namedtuple', 'OrderedDict', 'Counter'):
            self.bad(node, 'collections.%s (not in 2.5)' % node.attr)
        self.generic_visit(node)

    def _guarded(self, name):
        for g in self.guards:
            if name in g:
                return True
        return False


def guarded_names(test):
    """Names an `if` test checks for with hasattr(x, 'name')."""
    out = set()
    for n in ast.walk(test):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == 'hasattr' \
                and len(n.args) == 2 and isinstance(n.args[1], ast.Constant) and isinstance(n.args[1].value, str):
            out.add(n.args[1].value)
    return out


def token_problems(source):
    """What only the tokens show: 0o/0b literals, and a missing final newline."""
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.NUMBER:
                low = tok.string.lower()
                if low.startswith('0o'):
                    out.append((tok.start[0], '0o octal literal (2.6; write it in decimal)'))
                elif low.startswith('0b'):
                    out.append((tok.start[0], '0b binary literal (2.6)'))
                elif '_' in low:
                    out.append((tok.start[0], 'underscore in a number (3.6)'))
            elif tok.type == tokenize.STRING:
                prefix = tok.string[:tok.string.index(tok.string[-1])].lower()
                if 'b' in prefix:
                    out.append((tok.start[0], "b'' bytes literal (2.6)"))
                if 'f' in prefix:
                    out.append((tok.start[0], 'f-string (3.6)'))
    except (tokenize.TokenError, SyntaxError) as e:
        out.append((0, 'cannot tokenize: %s' % e))
    if source and not source.endswith('\n'):
        out.append((source.count('\n') + 1, 'no newline at end of file (2.5 compile() needs one)'))
    return out


def lint_file(path):
    with open(path, 'rb') as f:
        raw = f.read()
    try:
        source = raw.decode('utf-8')
    except UnicodeDecodeError:
        return [(0, 'not UTF-8 (declare an encoding and keep it ASCII)')]
    try:
        tree = ast.parse(source, path)
    except SyntaxError as e:
        return [(e.lineno or 0, 'does not parse as Python 3: %s' % e.msg)]
    v = Lint(path)
    v.visit(tree)
    problems = v.problems + token_problems(source)
    for offset, body in embedded_sources(tree):
        try:
            inner = ast.parse(body, path)
        except SyntaxError as e:
            problems.append(((e.lineno or 0) + offset, 'embedded source does not parse: %s' % e.msg))
            continue
        w = Lint(path)
        w.visit(inner)
        for line, reason in w.problems + token_problems(body):
            problems.append((line + offset, reason))
    seen = set()
    out = []
    for p in sorted(problems):
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def embedded_sources(tree):
    """Module-level bare string statements (not the docstring) hold code compiled at
    run time (refscope_probe.py keeps its body in one): lint them as code too.
    Yields (line offset, text)."""
    for i, node in enumerate(tree.body):
        if i == 0 or not isinstance(node, ast.Expr):
            continue
        val = node.value
        if isinstance(val, ast.Constant) and isinstance(val.value, str):
            yield node.lineno - 1, val.value


def py_files(paths):
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for n in sorted(files):
                    if n.endswith('.py'):
                        yield os.path.join(root, n)
        else:
            yield p


def main(argv):
    if not argv:
        sys.stderr.write('usage: py25_lint.py FILE_OR_DIR...\n')
        return 2
    bad = 0
    for path in py_files(argv):
        for line, reason in lint_file(path):
            sys.stdout.write('%s:%d: %s\n' % (path, line, reason))
            bad += 1
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
