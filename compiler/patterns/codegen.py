"""Templates compiled ahead to plain Python, so that rendering them needs no Jinja2.

Jinja2 parses the template (``env.parse``, with the sandbox's own options); this walks the tree
and writes a Python function for a subset of the language, the one kc's built-in patterns use:
output and template data, ``if``/``elif``/``else``, ``for`` (with a filter, tuple targets, and
``loop.first``/``last``/``index``/``index0``/``length``/``revindex``/``revindex0``), ``set`` and
block ``set`` at the top level, names, attribute and item access, constants, list/tuple/dict
literals, comparisons, ``and``/``or``/``not``, ``~``, arithmetic, ``a if b else c``, the tests
``defined``/``undefined``/``none``, calls of ``dict``, of the context's functions and of a dict's
``get``, ``range`` as a loop's iterable, kc's filters, and Jinja2's ``dictsort``, ``string``,
``replace``, ``list``, ``selectattr`` and ``map(attribute=…)``. A template using anything else
raises ``Unsupported`` and simply renders through Jinja2.

The generated function takes the render's context and its embed table (embed.py) and returns
the text; every value goes through runtime.py, which raises whenever it is not sure to match
Jinja2, and the caller then renders through Jinja2 (templates.py). This module is loaded only on
a cache miss, when importing Jinja2 is fine."""

from __future__ import annotations

import keyword
import math
import types
import warnings
from dataclasses import dataclass

from jinja2 import nodes
from jinja2.environment import Environment
from jinja2.parser import Parser
from kc.compiler.patterns import filters, runtime

# Names the sandbox resolves itself when the context has none of them.
_GLOBALS = frozenset({"range", "dict", "lipsum", "cycler", "joiner", "namespace"})
# Names Jinja2 gives a meaning of its own in some places; the generated code never reads them.
_SPECIAL = frozenset({"self", "caller", "varargs", "kwargs", "super", "loop"})
_COMPARE = {"eq": "==", "ne": "!=", "gt": ">", "gteq": ">=", "lt": "<", "lteq": "<=", "in": "in", "notin": "not in"}
_PLAIN_BINARY = {nodes.Sub: "-", nodes.Div: "/", nodes.FloorDiv: "//", nodes.Mod: "%"}
_CHECKED_BINARY = {nodes.Add: "rt.add", nodes.Mul: "rt.mul", nodes.Pow: "rt.power"}
_LOOP = {
    "first": "({i} == 0)",
    "last": "({i} == {n} - 1)",
    "index": "({i} + 1)",
    "index0": "{i}",
    "length": "{n}",
    "revindex": "({n} - {i})",
    "revindex0": "({n} - {i} - 1)",
}


class Unsupported(Exception):
    """The template uses something the generated code does not cover."""


def template(env: Environment, source: str) -> str:
    """Python source of a module defining ``render(ctx, table) -> str``."""
    tree = env.parse(source)
    sets = {_name(n.target) for n in tree.body if isinstance(n, nodes.Assign | nodes.AssignBlock)} - {""}
    gen = _Generator(pending=sets)
    gen.statements(tree.body, top=True)
    head = ["def render(ctx, table):", "    out = []", "    w = out.append"]
    if gen.loops_used:
        head += ["    n = 0", "    k = 0", "    st = rt.Meter()"]
    tail = ["    text = ''.join(out)", "    if len(text) > rt.MAX_OUTPUT:", "        raise rt.Abandon('output')"]
    return "\n".join([*head, *gen.lines, *tail, "    return text", ""])


def expression(env: Environment, source: str) -> str:
    """Python source of a module defining ``evaluate(ctx)``, for a pattern's warning condition
    (what ``env.compile_expression`` compiles)."""
    parser = Parser(env, source, state="variable")
    expr = parser.parse_expression()
    if not parser.stream.eos:
        raise Unsupported("chunk after expression")
    return f"def evaluate(ctx):\n    return {_Generator(pending=set()).expr(expr)}\n"


def code(python: str, filename: str) -> types.CodeType:
    """Compile the generated source. Python warns about some of what a template may say
    (``{{ 1 is none }}`` becomes ``1 is None``); the template's author is not to see that."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compile(python, filename, "exec")


def _name(target: nodes.Node) -> str:
    return target.name if isinstance(target, nodes.Name) else ""


@dataclass
class _Loop:
    index: str  # the Python names of the position and the length, when the body reads loop.*
    length: str


class _Generator:
    def __init__(self, pending: set[str]) -> None:
        self.lines: list[str] = []
        self.depth = 1
        self.scopes: list[dict[str, str]] = [{}]  # Jinja name -> Python local, innermost last
        self.pending = pending  # names a top-level set assigns later on
        self.loops: list[_Loop | None] = []
        self.writer = "w"
        self.count = 0
        self.loops_used = False

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    # --- statements ---------------------------------------------------------------------------

    def statements(self, body: list[nodes.Node], top: bool = False) -> None:
        for node in body:  # none of these node classes has subclasses
            if isinstance(node, nodes.Output):
                self.output(node)
            elif isinstance(node, nodes.If):
                self.if_(node)
            elif isinstance(node, nodes.For):
                self.for_(node)
            elif isinstance(node, nodes.Assign) and top:
                self.assign(node)
            elif isinstance(node, nodes.AssignBlock) and top:
                self.assign_block(node)
            else:
                raise Unsupported(type(node).__name__)

    def block(self, body: list[nodes.Node]) -> None:
        self.depth += 1
        before = len(self.lines)
        self.statements(body)
        if len(self.lines) == before:
            self.line("pass")
        self.depth -= 1

    def write(self, code: str, size: int | None = None) -> None:
        if not self.loops:
            self.line(f"{self.writer}({code})")
        elif size is not None:  # inside a loop, the output is counted as it grows
            self.line(f"n += {size}")
            self.line(f"{self.writer}({code})")
        else:
            self.line(f"s = {code}")
            self.line("n += len(s)")
            self.line(f"{self.writer}(s)")

    def output(self, node: nodes.Output) -> None:
        for child in node.nodes:
            if type(child) is nodes.TemplateData:
                self.write(repr(child.data), len(child.data))
            else:
                self.write(f"rt.text(table, {self.expr(child)})")

    def if_(self, node: nodes.If) -> None:
        self.line(f"if {self.expr(node.test)}:")
        self.block(node.body)
        for other in node.elif_:
            self.line(f"elif {self.expr(other.test)}:")
            self.block(other.body)
        if node.else_:
            self.line("else:")
            self.block(node.else_)

    def for_(self, node: nodes.For) -> None:
        if node.else_ or node.recursive:
            raise Unsupported("for: else or recursive")
        reads_loop = any(n.name == "loop" for child in node.body for n in child.find_all(nodes.Name))
        if node.test is not None and (reads_loop or any(n.name == "loop" for n in node.test.find_all(nodes.Name))):
            raise Unsupported("loop variables of a filtered loop")
        iterable = self.iterable(node.iter)
        names = self.targets(node.target)
        target = ", ".join(names.values()) + ("," if isinstance(node.target, nodes.Tuple) else "")
        self.loops_used = True
        loop = None
        if reads_loop:
            loop = _Loop(self.fresh("i"), self.fresh("m"))
            seq = self.fresh("q")
            self.line(f"{seq} = list({iterable})")
            self.line(f"{loop.length} = len({seq})")
            self.line(f"for {loop.index}, ({target}) in enumerate({seq}):")
        else:
            self.line(f"for {target} in {iterable}:")
        self.depth += 1
        self.scopes.append(names)
        self.loops.append(loop)
        # Checked as each pass begins: the time every 1024 passes, the output size every pass.
        self.line("k += 1")
        self.line("if n > rt.MAX_OUTPUT or not k & 1023 and st.late():")
        self.line("    raise rt.Abandon('budget')")
        if node.test is not None:
            self.line(f"if not {self.expr(node.test)}:")
            self.line("    continue")
        self.statements(node.body)
        self.loops.pop()
        self.scopes.pop()
        self.depth -= 1

    def iterable(self, node: nodes.Node) -> str:
        if (
            type(node) is nodes.Call
            and type(node.node) is nodes.Name
            and node.node.name == "range"
            and self.local("range") is None
        ):
            if node.kwargs or node.dyn_args or node.dyn_kwargs:
                raise Unsupported("range with keywords")
            args = "".join(f", {self.expr(a)}" for a in node.args)
            return f"rt.loop_range(st, ctx.get('range', rt.RANGE){args})"
        return self.expr(node, lazy=True)

    def targets(self, target: nodes.Node) -> dict[str, str]:
        items = target.items if isinstance(target, nodes.Tuple) else [target]
        names: dict[str, str] = {}
        for entry in items:
            if type(entry) is not nodes.Name or entry.name in _SPECIAL or entry.name in names:
                raise Unsupported("loop target")
            names[entry.name] = self.fresh("v")
        return names

    def assign(self, node: nodes.Assign) -> None:
        name = self.assigned(node.target)
        code = self.expr(node.node)
        var = self.scopes[0].get(name) or self.fresh("v")
        self.line(f"{var} = {code}")
        self.scopes[0][name] = var
        self.pending.discard(name)

    def assign_block(self, node: nodes.AssignBlock) -> None:
        name = self.assigned(node.target)
        if node.filter is not None:
            raise Unsupported("block set with a filter")
        buffer, writer, outer = self.fresh("b"), self.fresh("w"), self.writer
        self.line("rt.no_holes(table)")
        self.line(f"{buffer} = []")
        self.line(f"{writer} = {buffer}.append")
        self.writer = writer
        self.statements(node.body)
        self.writer = outer
        var = self.scopes[0].get(name) or self.fresh("v")
        self.line(f"{var} = ''.join({buffer})")
        self.scopes[0][name] = var
        self.pending.discard(name)

    def assigned(self, target: nodes.Node) -> str:
        if type(target) is not nodes.Name or target.name in _SPECIAL or target.name in _GLOBALS:
            raise Unsupported("set target")
        return target.name

    # --- expressions --------------------------------------------------------------------------

    def local(self, name: str) -> str | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        if name in self.pending:  # read before the set that assigns it: Jinja2's scoping rules
            raise Unsupported(f"{name} read before it is set")
        return None

    def expr(self, node: nodes.Node, lazy: bool = False) -> str:
        """Python source for ``node``. ``lazy``: the consumer takes a generator (Jinja2's
        selectattr and map give one), so a list stands in for it exactly."""
        if type(node) is nodes.Filter:
            return self.filter(node, lazy)
        method = getattr(self, f"expr_{type(node).__name__}", None)
        if method is None:
            raise Unsupported(type(node).__name__)
        code: str = method(node)
        return code

    def expr_Const(self, node: nodes.Const) -> str:
        value = node.value
        if value is None or type(value) in (str, int, bool) or (type(value) is float and math.isfinite(value)):
            return repr(value)
        raise Unsupported(f"constant {type(value).__name__}")

    def expr_Name(self, node: nodes.Name) -> str:
        local = self.local(node.name)
        if local is not None:
            return local
        if node.name in _SPECIAL:
            raise Unsupported(node.name)
        return f"ctx[{node.name!r}]"

    def loop_attribute(self, node: nodes.Getattr) -> str | None:
        """``loop.last`` and the like inside a loop (None: not a loop variable)."""
        if not (type(node.node) is nodes.Name and node.node.name == "loop" and self.loops):
            return None
        loop = self.loops[-1]
        if loop is None or node.attr not in _LOOP:
            raise Unsupported(f"loop.{node.attr}")
        return _LOOP[node.attr].format(i=loop.index, n=loop.length)

    def expr_Getattr(self, node: nodes.Getattr) -> str:
        loop = self.loop_attribute(node)
        if loop is not None:
            return loop
        return f"rt.attr({self.expr(node.node)}, {node.attr!r})"

    def expr_Getitem(self, node: nodes.Getitem) -> str:
        if type(node.arg) is nodes.Slice:
            raise Unsupported("slice")
        return f"rt.item({self.expr(node.node)}, {self.expr(node.arg)})"

    def expr_Call(self, node: nodes.Call) -> str:
        callee = node.node
        if type(callee) is nodes.Name and callee.name == "range" and self.local("range") is None:
            raise Unsupported("range() other than as a loop's iterable")
        plain = not (node.kwargs or node.dyn_args or node.dyn_kwargs)
        if (
            type(callee) is nodes.Getattr
            and callee.attr == "get"
            and plain
            and 1 <= len(node.args) <= 2
            and self.loop_attribute(callee) is None
        ):
            return f"rt.get({self.expr(callee.node)}{''.join(', ' + self.expr(a) for a in node.args)})"
        if type(callee) is nodes.Name and callee.name == "dict" and self.local("dict") is None:
            func = "ctx.get('dict', dict)"
        else:
            func = self.expr(callee)
        parts = [self.expr(a) for a in node.args]
        for kw in node.kwargs:
            if not kw.key.isidentifier() or keyword.iskeyword(kw.key) or kw.key.startswith("_"):
                raise Unsupported(f"keyword {kw.key!r}")
            parts.append(f"{kw.key}={self.expr(kw.value)}")
        if node.dyn_args is not None:
            parts.append(f"*{self.expr(node.dyn_args)}")
        if node.dyn_kwargs is not None:
            parts.append(f"**{self.expr(node.dyn_kwargs)}")
        return f"rt.call({func}{''.join(', ' + p for p in parts)})"

    def filter(self, node: nodes.Filter, lazy: bool) -> str:
        if node.node is None or node.dyn_args is not None or node.dyn_kwargs is not None:
            raise Unsupported("filter block or dynamic filter arguments")
        name, args, kwargs = node.name, node.args, node.kwargs
        if name in filters.FILTERS and not kwargs:
            return f"rt.kc[{name!r}]({', '.join(self.expr(a) for a in [node.node, *args])})"
        simple = {"dictsort": "rt.dictsort", "string": "rt.string", "list": "rt.to_list"}
        if name in simple and not args and not kwargs:
            return f"{simple[name]}({self.expr(node.node, lazy=name == 'list')})"
        if name == "replace" and len(args) == 2 and not kwargs:
            return f"rt.replace({', '.join(self.expr(a) for a in [node.node, *args])})"
        if name == "selectattr" and lazy and not kwargs and len(args) in (1, 3):
            attribute = _string(args[0])
            test = "" if len(args) == 1 else f", {_test(args[1])!r}, {self.expr(args[2])}"
            return f"rt.selectattr({self.expr(node.node, lazy=True)}, {attribute!r}{test})"
        if name == "map" and lazy and not args and [k.key for k in kwargs] == ["attribute"]:
            attribute = _string(kwargs[0].value)
            return f"rt.map_attribute({self.expr(node.node, lazy=True)}, {attribute!r})"
        raise Unsupported(f"filter {name}")

    def expr_Test(self, node: nodes.Test) -> str:
        if node.args or node.kwargs or node.dyn_args or node.dyn_kwargs:
            raise Unsupported("test arguments")
        if node.name == "none":
            return f"({self.expr(node.node)} is None)"
        if node.name == "defined":
            return self.defined(node.node)
        if node.name == "undefined":
            return f"(not {self.defined(node.node)})"
        raise Unsupported(f"test {node.name}")

    def defined(self, node: nodes.Node) -> str:
        if type(node) is nodes.Name:
            if self.local(node.name) is not None:
                return "True"
            if node.name in _SPECIAL:
                raise Unsupported(node.name)
            return "True" if node.name in _GLOBALS else f"({node.name!r} in ctx)"
        if type(node) is nodes.Getattr and self.loop_attribute(node) is None:
            return f"rt.has_attr({self.expr(node.node)}, {node.attr!r})"
        if type(node) is nodes.Getitem and type(node.arg) is not nodes.Slice:
            return f"rt.has_item({self.expr(node.node)}, {self.expr(node.arg)})"
        raise Unsupported("defined")

    def expr_Not(self, node: nodes.Not) -> str:
        return f"(not {self.expr(node.node)})"

    def expr_Neg(self, node: nodes.Neg) -> str:
        return f"(-{self.expr(node.node)})"

    def expr_Pos(self, node: nodes.Pos) -> str:
        return f"(+{self.expr(node.node)})"

    def expr_And(self, node: nodes.And) -> str:
        return f"({self.expr(node.left)} and {self.expr(node.right)})"

    def expr_Or(self, node: nodes.Or) -> str:
        return f"({self.expr(node.left)} or {self.expr(node.right)})"

    def binary(self, node: nodes.BinExpr) -> str:
        left, right = self.expr(node.left), self.expr(node.right)
        kind = type(node)
        if kind in _CHECKED_BINARY:  # the sandbox checks what these build (budget.py)
            return f"{_CHECKED_BINARY[kind]}({left}, {right})"
        return f"({left} {_PLAIN_BINARY[kind]} {right})"

    expr_Add = expr_Sub = expr_Mul = expr_Div = expr_FloorDiv = expr_Mod = expr_Pow = binary

    def expr_Compare(self, node: nodes.Compare) -> str:
        return "(" + self.expr(node.expr) + "".join(f" {_COMPARE[o.op]} {self.expr(o.expr)}" for o in node.ops) + ")"

    def expr_Concat(self, node: nodes.Concat) -> str:
        return f"rt.concat({', '.join(self.expr(n) for n in node.nodes)})"

    def expr_CondExpr(self, node: nodes.CondExpr) -> str:
        if node.expr2 is None:  # Jinja2's undefined when the test fails
            raise Unsupported("if without else")
        return f"({self.expr(node.expr1)} if {self.expr(node.test)} else {self.expr(node.expr2)})"

    def expr_List(self, node: nodes.List) -> str:
        return "[" + ", ".join(self.expr(n) for n in node.items) + "]"

    def expr_Tuple(self, node: nodes.Tuple) -> str:
        return "(" + "".join(self.expr(n) + ", " for n in node.items) + ")"

    def expr_Dict(self, node: nodes.Dict) -> str:
        return "{" + ", ".join(f"{self.expr(p.key)}: {self.expr(p.value)}" for p in node.items) + "}"


def _string(node: nodes.Node) -> str:
    if type(node) is nodes.Const and type(node.value) is str:
        return node.value
    raise Unsupported("a filter argument that is not a string constant")


def _test(node: nodes.Node) -> str:
    name = _string(node)
    if name not in runtime.TESTS:
        raise Unsupported(f"selectattr test {name}")
    return name
