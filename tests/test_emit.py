"""The YAML writer, and yamlread.documents that reads kc's output back: what the writer writes reads
back as exactly the data it was given, through PyYAML's safe loader and through kc's reader."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from kc.compiler import yamlread
from kc.targets import emit

scalars = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "yes",
            "No",
            "on",
            "~",
            "null",
            "1.5",
            "0x1F",
            "1:30",
            "2026-01-02",
            "=",
            "<<",
            "- a",
            "a: b",
            "a #b",
            "#c",
            "@x",
            "%y",
            "`z",
            "!t",
            "*al",
            "&an",
            "|",
            ">",
            "'q",
            '"d',
            "a\nb",
            "a\nb\n",
            "\nlead",
            "trail\n\n",
            " sp",
            "sp ",
            "x\n  \ny",
            "tab\there",
            "\u2028",
            "--flag",
            "-",
            "$(VAR)",
            "${x}",
            "[a]",
            "{a: b}",
            "?",
            ":",
            "a:",
            "http://h:80/p",
        ]
    ),
    st.integers(-(2**40), 2**40),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
)
data = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(min_size=1, max_size=12), inner, max_size=4),
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(value=st.dictionaries(st.text(min_size=1, max_size=12), data, min_size=1, max_size=5))
def test_round_trip(value: dict[str, Any]) -> None:
    text = emit.document(value)
    assert yaml.safe_load(text) == value
    assert yamlread.documents(text) == [value]


def _safe(text: str) -> Any:
    try:
        return list(yaml.load_all(text, Loader=yaml.CSafeLoader))
    except yaml.YAMLError as exc:
        return type(exc)


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: [yes, No, ~, 0x1f, 1e3, .5, '2', 2026-01-02]\n---\n---\nc: d\n",
        "a: !!str 3\nb: !!int '4'\n? !!str 5\n: six\n",  # explicit tags
        "base: &b {x: 1}\nboth: {<<: *b, y: 2}\n'<<': quoted, not a merge\n",
        "!!set {a, b}\n",
        "- !!omap [{a: 1}]\n",
        "a: =\n",  # a tag the safe loader cannot construct
        "key: |\n  text\n  more\nfolded: >\n  one\n  two\n",
        "",
    ],
)
def test_the_reader_reads_as_the_safe_loader(text: str) -> None:
    try:
        found: Any = yamlread.documents(text)
    except yaml.YAMLError as exc:
        found = type(exc)
    assert found == _safe(text)


def test_layout_matches_kubectl_style() -> None:
    manifest = {
        "metadata": {"labels": {"b": "2", "a": "1"}, "name": "x"},
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "data": {"script": "echo hi\necho there\n", "n": "8080", "on": "yes", "list": []},
        "spec": {"containers": [{"name": "c", "args": ["--flag", "run"]}]},
    }
    assert emit.dump([manifest]) == (
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels:\n    a: '1'\n".replace("'1'", '"1"')
        + '    b: "2"\n'
        "data:\n"
        "  script: |\n"
        "    echo hi\n"
        "    echo there\n"
        '  n: "8080"\n'
        '  "on": "yes"\n'
        "  list: []\n"
        "spec:\n"
        "  containers:\n"
        "  - name: c\n"
        "    args:\n"
        "    - --flag\n"
        "    - run\n"
    )


@pytest.mark.parametrize("text", ["\t\n", "\tx\ny", "all:\n\tcc -o x x.c\n"])
def test_text_whose_first_line_starts_with_a_tab_reads_back(text: str) -> None:
    """libyaml refuses a tab where it looks for a literal block's indentation (its first line)."""
    for value in ({"k": text}, {"a": [text, {"c": text}]}):
        assert yamlread.documents(emit.document(value)) == [value]
