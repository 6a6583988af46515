"""compiler/jsontext.py writes exactly what ``json.dumps(value, indent=2, ensure_ascii=False)``
writes, for any tree of JSON values, and raises what it raises for anything else."""

from __future__ import annotations

import json
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
    lambda inner: st.lists(inner, max_size=4)
    | st.lists(inner, max_size=3).map(tuple)
    | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    | st.dictionaries(_KEYS, inner, max_size=3),
    max_leaves=25,
)


def plain(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


@settings(max_examples=500)
@given(_TREES)
def test_writes_what_json_dumps_writes(value: Any) -> None:
    assert jsontext.dumps(value) == plain(value)


def test_a_plan_like_tree() -> None:
    entry = {"kind": "Job", "namespace": None, "name": "a-b", "digest": "0f", "after": [], "extra": {}}
    tree = {"format": 1, "bundles": [{"index": 0, "objects": [entry, entry], "steps": [{"gate": {"objects": []}}]}]}
    assert jsontext.dumps(tree) == plain(tree)


@pytest.mark.parametrize("value", [{"a": {1, 2}}, [object()], {"k": b"x"}])
def test_what_json_refuses_it_refuses(value: Any) -> None:
    with pytest.raises(TypeError):
        plain(value)
    with pytest.raises(TypeError):
        jsontext.dumps(value)


def test_a_cycle_is_refused_as_json_refuses_it() -> None:
    cycle: list[Any] = []
    cycle.append([cycle])
    with pytest.raises(ValueError, match="Circular reference"):
        jsontext.dumps(cycle)
