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

import types
import warnings

from jinja2 import nodes
from jinja2.environment import Environment
from jinja2.parser import Parser
from kc.compiler.patterns import codegen_expressions as ex

Unsupported = ex.Unsupported  # what a caller catches to render through Jinja2 instead


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


class _Generator(ex.Expressions):
    def __init__(self, pending: set[str]) -> None:
        super().__init__(pending)
        self.lines: list[str] = []
        self.depth = 1
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
            loop = ex.Loop(self.fresh("i"), self.fresh("m"))
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
            if type(entry) is not nodes.Name or entry.name in ex.SPECIAL or entry.name in names:
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
        if type(target) is not nodes.Name or target.name in ex.SPECIAL or target.name in ex.GLOBALS:
            raise Unsupported("set target")
        return target.name
