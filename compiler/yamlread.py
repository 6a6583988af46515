"""YAML read as PyYAML's safe loader reads it, faster: a scalar's value resolved once per distinct
text (``construct``, ``plain``: template skeletons read holes with them), and whole documents of
what kc wrote, read back by the cluster commands (``documents``)."""

from __future__ import annotations

import functools
from typing import Any

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseLoader = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
_resolver = yaml.resolver.Resolver()
_constructor = yaml.constructor.SafeConstructor()  # keeps nothing once a document is made


def construct(text: str, implicit: tuple[bool, bool], style: str | None) -> Any:
    """What PyYAML's safe loader makes of a scalar with no tag."""
    tag = _resolver.resolve(yaml.ScalarNode, text, implicit)  # type: ignore[no-untyped-call]
    return _constructor.construct_document(yaml.ScalarNode(tag, text, style=style))


_RESOLVED_FIRST = frozenset(yaml.resolver.Resolver.yaml_implicit_resolvers)


def plain(text: str) -> Any:
    """A plain scalar's value: text, unless its first character can begin a number, a boolean,
    a null or a date."""
    return text if text[:1] not in _RESOLVED_FIRST else _resolved(text)


@functools.lru_cache(maxsize=4096)
def _resolved(text: str) -> Any:
    return construct(text, (True, False), "")


_STR, _SEQ, _MAP = "tag:yaml.org,2002:str", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"
_PLAIN = "kc:plain"  # a plain scalar without a tag, to be resolved here


class _Reader(_BaseLoader):  # type: ignore[misc,valid-type]
    """libyaml's composer, resolving nothing: untagged nodes get the default tags, and a plain
    scalar ``_PLAIN``, which an explicit ``!!str`` does not get."""

    def resolve(self, kind: type, value: str, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode:
            return _PLAIN if implicit[0] else _STR
        return _SEQ if kind is yaml.SequenceNode else _MAP


class _Unusual(Exception):
    """A tag or a merge key, which the safe loader's constructor is to read."""


def documents(text: str) -> list[Any]:
    """Every document of ``text`` as plain data, exactly as PyYAML's safe loader reads it, in
    about half the time, for reading back what kc wrote: libyaml composes without resolving, and
    each plain scalar is resolved here, once per distinct text of the few that can be other than
    text. A tag or a merge key is left to the safe loader."""
    try:
        return [_data(node) for node in yaml.compose_all(text, Loader=_Reader)]
    except _Unusual:
        return list(yaml.load_all(text, Loader=_Loader))


def _data(node: yaml.Node | None) -> Any:
    if node is None:
        return None
    kind, tag = type(node), node.tag
    if kind is yaml.ScalarNode:
        return _scalar_data(node)
    if kind is yaml.SequenceNode and tag == _SEQ:
        return [_data(item) for item in node.value]
    if tag != _MAP:
        raise _Unusual(tag)
    out = {}
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode) or (key.tag == _PLAIN and key.value == "<<"):
            raise _Unusual("a merge key, or a key that is not text")
        out[_scalar_data(key)] = _data(value)
    return out


def _scalar_data(node: yaml.Node) -> Any:
    if node.tag == _PLAIN:
        return plain(node.value)
    if node.tag == _STR:
        return node.value
    raise _Unusual(node.tag)
