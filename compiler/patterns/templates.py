"""A pattern's templates and warning conditions, compiled once and cached by content.

Each template (and each ``warnings[].when`` expression) is compiled to plain Python by codegen.py
and the result cached (cache.py) under a key made of the template's text, the kind of thing it is,
the generator (the source of the modules that write and run the code), the Jinja2 release that
parsed it and the Python bytecode version. On a warm cache loading a pattern reads its files and
the cached code, and Jinja2 is not imported at all; on a miss Jinja2 compiles the template as
before (its syntax errors are the pattern's errors) and the generator runs once.

Rendering tries the generated function first. Whenever it is not sure to match Jinja2 (an
undefined name, a type it does not know, any exception, a budget limit) it raises, and Jinja2
renders the template from scratch: output and errors stay Jinja2's, byte for byte. A template
the generator does not cover has no generated function and always renders through Jinja2."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import marshal
import os
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kc.compiler.patterns import cache, runtime

if TYPE_CHECKING:
    import jinja2
    from jinja2.environment import TemplateExpression

# What the generated code depends on besides the template: a change to any of them is a new key.
_GENERATOR = ("codegen.py", "runtime.py", "sandbox.py", "filters.py", "embed.py", "budget.py", "templates.py")
_ENTRY = {"template": "render", "expression": "evaluate"}


class NotFound(Exception):
    """The pattern names a template its folder does not have (or one Jinja2 refuses to load)."""


class BadSyntax(Exception):
    def __init__(self, filename: str | None, lineno: int, message: str | None) -> None:
        super().__init__(message)
        self.filename, self.lineno, self.message = filename, lineno, message


class Template:
    """One template of a pattern: ``fast``, the generated function when there is one, and
    Jinja2's compiled template, made when first needed."""

    __slots__ = ("_jinja", "fast", "folder", "name")

    def __init__(self, folder: str, name: str, fast: Callable[..., str] | None, jinja: Any = None) -> None:
        self.folder, self.name, self.fast, self._jinja = folder, name, fast, jinja

    def jinja(self) -> jinja2.Template:
        if self._jinja is None:
            self._jinja = _jinja_template(self.folder, self.name)
        return self._jinja  # type: ignore[no-any-return]


class Condition:
    """A pattern warning's ``when``: the generated function, then Jinja2's expression."""

    __slots__ = ("_jinja", "fast", "folder", "source")

    def __init__(self, folder: str, source: str, fast: Callable[..., Any] | None, jinja: Any = None) -> None:
        self.folder, self.source, self.fast, self._jinja = folder, source, fast, jinja

    def evaluate(self, context: dict[str, Any]) -> Any:
        """The condition's value; raises what Jinja2 raises."""
        if self.fast is not None:
            try:
                return self.fast(context)
            except Exception:  # not sure: Jinja2 decides (runtime.py)
                pass
        if self._jinja is None:
            self._jinja = _jinja_expression(self.folder, self.source)
        expression: TemplateExpression = self._jinja
        return expression(**context)


def template(folder: str, name: str) -> Template:
    """Load template ``name`` of the pattern in ``folder``; raises NotFound or BadSyntax."""
    source = _read(folder, name)
    key = _key("template", source) if source is not None else None
    found, fast = _cached(key, "template")
    if found and fast is not None:
        return Template(folder, name, fast)
    compiled = _jinja_template(folder, name)
    if key is not None and source is not None and not found:
        fast = _generate(key, folder, "template", source)
    return Template(folder, name, fast, compiled)


def condition(folder: str, source: str) -> Condition:
    """Compile a warning condition of the pattern in ``folder``; raises BadSyntax."""
    key = _key("expression", source)
    found, fast = _cached(key, "expression")
    if found and fast is not None:
        return Condition(folder, source, fast)
    compiled = _jinja_expression(folder, source)
    if key is not None and not found:
        fast = _generate(key, folder, "expression", source)
    return Condition(folder, source, fast, compiled)


def _read(folder: str, name: str) -> str | None:
    """The template's text, read as Jinja2's loader would (sandbox.py); None whenever that loader
    might decide otherwise (a name it refuses, a link out of the folder, a file it cannot read),
    so that Jinja2 loads the template and gives its own error."""
    pieces = []
    for piece in name.split("/"):
        if os.sep in piece or (os.altsep and os.altsep in piece) or piece == os.pardir:
            return None
        if piece and piece != ".":
            pieces.append(piece)
    filename = os.path.join(folder, *pieces)
    # A file directly in the folder that is not a link cannot lead out of it (one lstat, where
    # a real path costs one per directory of the path).
    if len(pieces) != 1 or os.path.islink(filename):
        root = _real(folder)
        if os.path.commonpath([root, os.path.realpath(filename)]) != root:
            return None
    try:
        with open(filename, "rb") as f:
            return f.read().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


@functools.cache
def _real(folder: str) -> str:
    return os.path.realpath(folder)


@functools.cache
def _generator() -> bytes | None:
    """What the cached code depends on besides its template; None: no cache this run."""
    digest = hashlib.sha256(importlib.util.MAGIC_NUMBER)
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        for name in _GENERATOR:
            with open(os.path.join(here, name), "rb") as f:
                digest.update(f.read())
        spec = importlib.util.find_spec("jinja2")  # finds it without importing it
        if spec is None or spec.origin is None:
            return None
        with open(spec.origin, "rb") as f:  # its __init__ carries the release number
            digest.update(f.read())
    except (OSError, ImportError, ValueError):
        return None
    return digest.digest()


def _key(kind: str, source: str) -> str | None:
    generator = _generator()
    if generator is None:
        return None
    text = source.encode("utf-8", "surrogatepass")
    return hashlib.sha256(generator + kind.encode() + b"\0" + text).hexdigest()


def _function(code: types.CodeType, kind: str) -> Callable[..., Any]:
    namespace: dict[str, Any] = {"rt": runtime}
    exec(code, namespace)
    function = namespace[_ENTRY[kind]]
    if not isinstance(function, types.FunctionType):
        raise TypeError("not a generated function")
    return function


def _cached(key: str | None, kind: str) -> tuple[bool, Callable[..., Any] | None]:
    """(found, function): found with no function is a template the generator does not cover."""
    payload = cache.get(key) if key is not None else None
    if payload is None:
        return False, None
    if not payload:
        return True, None
    try:
        code = marshal.loads(payload)
        return True, _function(code, kind)
    except Exception:  # a damaged entry is a miss
        return False, None


def _generate(key: str, folder: str, kind: str, source: str) -> Callable[..., Any] | None:
    from kc.compiler.patterns import codegen, sandbox

    env = sandbox.environment(folder)
    try:
        python = codegen.template(env, source) if kind == "template" else codegen.expression(env, source)
        code = codegen.code(python, f"<kc {kind} {key[:12]}>")
    except codegen.Unsupported:
        cache.put(key, b"")
        return None
    except Exception:  # a mistake of the generator's must not cost a compile: Jinja2 renders
        return None
    cache.put(key, marshal.dumps(code))
    return _function(code, kind)


def _jinja_template(folder: str, name: str) -> jinja2.Template:
    import jinja2
    from kc.compiler.patterns import sandbox

    try:
        return sandbox.environment(folder).get_template(name)
    except jinja2.TemplateSyntaxError as exc:
        raise BadSyntax(exc.filename, exc.lineno, exc.message) from None
    except jinja2.TemplateNotFound:
        raise NotFound(name) from None


def _jinja_expression(folder: str, source: str) -> TemplateExpression:
    import jinja2
    from kc.compiler.patterns import sandbox

    try:
        return sandbox.environment(folder).compile_expression(source)
    except jinja2.TemplateSyntaxError as exc:
        raise BadSyntax(None, exc.lineno, exc.message) from None
