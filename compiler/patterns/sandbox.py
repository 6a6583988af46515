"""Jinja2's side of template rendering: the sandboxed environment a pattern folder's templates and
warning conditions compile in. This is the only module of the pattern layer that imports Jinja2
at its top, and it is imported only when a template is compiled (a cache miss) or when the
generated code gives a render back (templates.py), so a compile whose cache is warm never loads
Jinja2. Its behaviour is the reference: the generated code must write what this writes."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from typing import Any

import jinja2
from jinja2 import runtime, sandbox
from jinja2.exceptions import SecurityError
from kc.compiler.patterns import budget, embed, filters


def _range(*args: int) -> Iterator[int]:
    spent = budget.current()
    for number in sandbox.safe_range(*args):  # itself at most MAX_RANGE long
        spent.loops += 1
        if spent.loops > budget.MAX_LOOPS:
            raise SecurityError(f"the template's loops ran more than {budget.MAX_LOOPS} times")
        if spent.loops % 4096 == 0:
            spent.tick("in a loop")
        yield number


class Sandbox(sandbox.ImmutableSandboxedEnvironment):
    """The immutable sandbox, with the size of what ``*``, ``+`` and ``**`` build checked first."""

    intercepted_binops = frozenset({"*", "+", "**"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = _range

    def call_binop(self, context: runtime.Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and budget.huge_power(left, right):
            raise SecurityError(f"{left} ** {right} is too large for a template")  # 1000+ digits
        size = budget.built(operator, left, right)
        if size > budget.MAX_LENGTH:
            raise SecurityError(f"the template builds a value of {size} items (at most {budget.MAX_LENGTH})")
        return super().call_binop(context, operator, left, right)


class _FolderLoader(jinja2.FileSystemLoader):
    """Templates from the pattern's own folder only: Jinja already refuses ``..`` in names, and
    this also refuses a symlink that leads out of the folder, so a pattern library cannot
    include a file from elsewhere on the disk into the objects it renders."""

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        text, filename, uptodate = super().get_source(environment, template)
        root = os.path.realpath(str(self.searchpath[0]))
        if os.path.commonpath([root, os.path.realpath(filename)]) != root:
            raise jinja2.TemplateNotFound(template, f"'{template}' leads outside the pattern's folder")
        return text, filename, uptodate


@jinja2.pass_context
def _finalize(context: runtime.Context, value: Any) -> Any:
    return embed.placeholder(context.get(embed.TABLE), value)


@functools.cache
def environment(folder: str) -> jinja2.Environment:
    """The environment of one pattern folder (one per folder and run)."""
    # The sandbox keeps templates away from Python internals (attributes starting with "_",
    # str.format, mutating methods); they see only the context kc passes in, nothing of the
    # filesystem beyond their own folder or of the environment, and undefined names are errors.
    # The template compiler (codegen.py) reads the same options: change them together.
    env = Sandbox(
        loader=_FolderLoader(folder),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_finalize,
    )
    env.filters.update(filters.FILTERS)
    return env
