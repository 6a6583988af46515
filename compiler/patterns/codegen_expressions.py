"""The expressions of a template as Python source: the half of the template compiler
(codegen.py) that its statements call for every value. Each method returns the source of one
Jinja2 expression node; a node outside the subset kc's patterns use raises ``Unsupported``, and
the template then renders through Jinja2."""

from __future__ import annotations

import keyword
import math
from dataclasses import dataclass

from jinja2 import nodes
from kc.compiler.patterns import filters, runtime

# Names the sandbox resolves itself when the context has none of them.
GLOBALS = frozenset({"range", "dict", "lipsum", "cycler", "joiner", "namespace"})
# Names Jinja2 gives a meaning of its own in some places; the generated code never reads them.
SPECIAL = frozenset({"self", "caller", "varargs", "kwargs", "super", "loop"})
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


@dataclass
class Loop:
    index: str  # the Python names of the position and the length, when the body reads loop.*
    length: str


class Expressions:
    """The scopes an expression is read in (Jinja name -> Python local), the loops around it,
    and the names a top-level ``set`` assigns later on."""

    def __init__(self, pending: set[str]) -> None:
        self.scopes: list[dict[str, str]] = [{}]  # innermost last
        self.pending = pending
        self.loops: list[Loop | None] = []

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
        if node.name in SPECIAL:
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
            if node.name in SPECIAL:
                raise Unsupported(node.name)
            return "True" if node.name in GLOBALS else f"({node.name!r} in ctx)"
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
