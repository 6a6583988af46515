"""Reading a template's output without parsing it again for every stage.

A pattern's template gives the same YAML for stage after stage but for its values: names,
images, ports. So a render in skeleton mode (``runtime.Holes``) leaves out every value whose text
is safe to leave out (a short word of letters, digits and ``._/-``, which reads back as its own
text wherever it lands) and writes a numbered hole in its place. The text that is left, the
skeleton, is the same for every stage that takes the same branches of the template; the second
time a skeleton is seen it is parsed once into a Python function that builds the documents from
the holes' values, and from then on each stage costs a render and a call, not a YAML parse.

What the function builds is what PyYAML's safe loader would give for the text with the values in
it: a hole in a plain scalar is resolved as PyYAML resolves that scalar's text (``8080`` is a
number, ``true`` a boolean), a hole anywhere else is text, and embedded structures are put back
as embed.py does. A skeleton the function cannot stand for exactly (anchors, tags, merge keys, a
long key, text that is not YAML) is left to the plain render and parse, as is the first sighting
of every skeleton, so that a small spec pays nothing for this."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import yaml
from kc.compiler import yamlread
from kc.compiler.patterns import budget, embed, runtime, templates

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_HOLE = re.compile(f"{runtime.HOLE}([0-9]+){runtime.HOLE_END}")
_WHOLE_EMBED = re.compile(f"{embed.MARK}([0-9]+)")
_MAX_KEY = 1000  # characters: YAML reads a longer implicit key as no key at all (1024, with slack)
_MAX_HOLE = 63  # characters of one hole's value (runtime._SAFE)
_MAX_SKELETONS = 4096

Build = Callable[[list[Any]], list[Any]]
_NEW, _SEEN = object(), object()  # a skeleton not seen yet; seen once, not yet worth a function
_skeletons: dict[str, Any] = {}  # skeleton text -> _SEEN, its function, or None: left to the parse


def objects(template: templates.Template, context: dict[str, Any]) -> list[Any] | None:
    """The documents ``template`` gives for ``context`` by way of its skeleton; None when the
    plain render and parse are to decide (render.py)."""
    if template.fast is None:
        return None
    holes = runtime.Holes()
    try:
        text = template.fast(context, holes)
    except Exception:  # the plain render decides
        return None
    build = _skeletons.get(text, _NEW)
    if build is _NEW:
        if len(_skeletons) >= _MAX_SKELETONS:
            _skeletons.clear()
        _skeletons[text] = _SEEN
        return None
    if build is _SEEN:
        build = _skeletons[text] = _compile(text)
    if build is None:
        return None
    # Every hole and embedded structure in the text is one the render made, and the text with
    # the values in it stays within the output budget.
    if text.count(runtime.HOLE) != holes.scalars or text.count(embed.MARK) != len(holes) - holes.scalars:
        return None
    if len(text) + _MAX_HOLE * holes.scalars > budget.MAX_OUTPUT:
        return None
    try:
        docs: list[Any] = build(holes)
    except Exception:  # an embedded value that is not one (AttributeError): the plain parse decides
        return None
    return docs


class _Unusable(Exception):
    """The skeleton has something the built function would not give exactly."""


def _compile(text: str) -> Build | None:
    try:
        writer = _Writer()
        source = writer.stream(iter(yaml.parse(text, Loader=_Loader)))
        namespace: dict[str, Any] = {"K": writer.constants, "plain": yamlread.plain, "restore": embed.restore}
        exec(compile(source, "<kc skeleton>", "exec"), namespace)
    except Exception:  # not YAML, _Unusable, or nested deeper than Python compiles
        return None
    build: Build = namespace["build"]
    return build


class _Writer:
    """Python source for one skeleton's ``build(h)``, from its parse events."""

    def __init__(self) -> None:
        self.constants: list[Any] = []

    def stream(self, events: Iterator[yaml.Event]) -> str:
        docs = []
        for event in events:
            if isinstance(event, yaml.DocumentStartEvent):
                docs.append(self.node(next(events), events))
        return f"def build(h):\n    return [d for d in ({''.join(d + ', ' for d in docs)}) if d is not None]\n"

    def node(self, event: yaml.Event, events: Iterator[yaml.Event]) -> str:
        if not isinstance(event, yaml.NodeEvent) or event.anchor is not None or getattr(event, "tag", None):
            raise _Unusable("an alias, anchor or tag")
        if isinstance(event, yaml.ScalarEvent):
            return self.scalar(event, key=False)
        if isinstance(event, yaml.SequenceStartEvent):
            items: list[str] = []
            for item in events:
                if isinstance(item, yaml.SequenceEndEvent):
                    return f"[{', '.join(items)}]"
                items.append(self.node(item, events))
        pairs: list[str] = []
        for key in events:
            if isinstance(key, yaml.MappingEndEvent):
                return f"{{{', '.join(pairs)}}}"
            if not isinstance(key, yaml.ScalarEvent) or key.anchor is not None or key.tag:
                raise _Unusable("a key that is not a plain word")
            if key.implicit[0] and key.value in ("<<", "="):
                raise _Unusable("a merge key")
            value = next(events)
            holes = len(_HOLE.findall(key.value))
            if holes and _span(key, value) + _MAX_HOLE * holes > _MAX_KEY:
                raise _Unusable("a key that may be too long to be one")
            pairs.append(f"{self.scalar(key, key=True)}: {self.node(value, events)}")
        raise _Unusable("unterminated")

    def scalar(self, event: yaml.ScalarEvent, key: bool) -> str:
        """A scalar's value; embedded structures are put back in values, not keys (embed.py)."""
        parts = _HOLE.split(event.value)
        if len(parts) == 1:
            value = yamlread.construct(event.value, event.implicit, event.style)
            if key or type(value) is not str or embed.MARK not in value:
                return self.constant(value)
            whole = _WHOLE_EMBED.fullmatch(value)
            return f"h[{whole[1]}].value" if whole else f"restore({self.constant(value)}, h)"
        pieces = [f"h[{p}]" if i % 2 else repr(p) for i, p in enumerate(parts) if p]
        code = " + ".join(pieces)
        if event.implicit[0]:
            code = f"plain({code})"
        if not key and embed.MARK in event.value:
            code = f"restore({code}, h)"
        return code

    def constant(self, value: Any) -> str:
        if value is None or type(value) in (str, int, bool):
            return repr(value)
        self.constants.append(value)
        return f"K[{len(self.constants) - 1}]"


def _span(key: yaml.Event, value: yaml.Event) -> int:
    """Characters from a key to its value: no fewer than the key and its colon."""
    if key.start_mark is None or value.start_mark is None:
        raise _Unusable("no position")
    return int(value.start_mark.index - key.start_mark.index)
