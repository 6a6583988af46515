"""compiler/jsontext.py writes exactly what ``json.dumps`` writes with the same options, for any
tree of JSON values, and raises what it raises for anything else."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kc.compiler import jsontext

_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8), st.sampled_from(["", "é", "\u2028"])
)
_KEYS = st.one_of(st.text(max_size=6), st.integers(-3, 3), st.none(), st.booleans(), st.floats(width=16))
_TREES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=6), inner, max_size=4)
        | st.dictionaries(_KEYS, inner, max_size=3)
    ),
    max_leaves=25,
)


def outcome(write: Callable[[Any], str], value: Any) -> tuple[str, str]:
    try:
        return ("text", write(value))
    except TypeError as exc:
        return ("refused", str(exc))


def plain(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


@settings(max_examples=500)
@given(_TREES)
def test_writes_what_json_dumps_writes(value: Any) -> None:
    assert jsontext.dumps(value) == plain(value)


@settings(max_examples=300)
@given(_TREES)
def test_compact_and_canonical_write_what_json_dumps_writes(value: Any) -> None:
    assert outcome(jsontext.compact, value) == outcome(lambda v: json.dumps(v, ensure_ascii=False), value)
    canonical = outcome(lambda v: json.dumps(v, sort_keys=True, separators=(",", ":")), value)
    assert outcome(jsontext.canonical, value) == canonical  # keys of mixed types cannot be sorted: the same error


def test_a_plan_like_tree() -> None:
    entry = {"kind": "Job", "namespace": None, "name": "a-b", "digest": "0f", "after": [], "extra": {}}
    tree = {"format": 1, "bundles": [{"index": 0, "objects": [entry, entry], "steps": [{"gate": {"objects": []}}]}]}
    assert jsontext.dumps(tree) == plain(tree)


@pytest.mark.parametrize("value", [{"a": {1, 2}}, [object()], {"k": b"x"}])
def test_what_json_refuses_it_refuses(value: Any) -> None:
    with pytest.raises(TypeError) as expected:
        plain(value)
    for write in (jsontext.dumps, jsontext.compact, jsontext.canonical):
        with pytest.raises(TypeError) as refused:
            write(value)
        assert str(refused.value) == str(expected.value)


def test_a_cycle_is_refused_as_json_refuses_it() -> None:
    cycle: list[Any] = []
    cycle.append([cycle])
    for write in (jsontext.dumps, jsontext.compact, jsontext.canonical):
        with pytest.raises(ValueError, match="Circular reference"):
            write(cycle)
