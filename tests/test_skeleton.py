"""Documents built from a template's skeleton (compiler/patterns/skeleton.py) are exactly the
ones its text parses to, whatever the values: numbers, booleans, dates and words that look like
them, in every place a value can land; and a skeleton the built function could not stand for is
left to the parse. tests/test_template_codegen.py checks every render of the examples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kc.compiler.patterns import render, skeleton, templates

EVERYWHERE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ a }}
  labels: {{ {"x": a, "y": b} | tojson }}
data:
  plain: {{ a }}
  joined: {{ a }}-{{ b }}
  colon: {{ a }}:{{ b }}
  quoted: "{{ a }}"
  single: '{{ b }} and {{ a }}'
  json: {{ a | tojson }}
  block: |
    {{ a }} and {{ b }}
    {{ b }}
  folded: >
    {{ b }}
    {{ a }}
  {{ a }}: key
  k-{{ b }}: other key
  "{{ b }}": quoted key
  flow: [{{ a }}, {{ b }}, "{{ a }}", {{ a }}{{ b }}]
  map: {{ "{" }}{{ a }}: {{ b }}, x{{ b }}: {{ a }}{{ "}" }}
  list:
    - {{ a }}
    - {{ b }} # a comment {{ a }}
    - {{ b | tojson }}
  text: {{ a }} {{ b }}
---
{{ a }}: top
"""

# Words YAML 1.1 reads as something other than text, and text that is not a safe word.
_TRICKY = ["true", "True", "yes", "no", "on", "Off", "y", "n", "null", "Null", "NULL", "~", "0", "-1", "012", "0o17",
           "0x1f", "0b101", "1_000", "190", "20", "1.5", "1e3", "6.8523015e+5", ".inf", "-.inf", ".nan", "2001-12-14",
           "2001-12-14t21:59:43.10-05:00", "1Gi", "500m", "a.b", "a/b", "x-1", "plain", "k", "key", "", "a b", "a: b",
           "#x", "- x", "'q'", '"q"', "[x]", "{x}", "a,b", "x" * 70, "\ue0010\ue002", "\ue000kc0", "*a", "&a", "!x",
           "|", ">", "%", "@", "`", "---", "...", "é", "x ", " x", "a  b"]  # fmt: skip
VALUES = (
    st.sampled_from(_TRICKY)
    | st.text(alphabet="aZ09._/-:#, '\"\n\t[]{}", max_size=8)
    | st.integers(-5, 100_000)
    | st.booleans()
    | st.none()
    | st.floats(width=32)
)


def template(tmp_path: Path, text: str) -> templates.Template:
    (tmp_path / "t.yaml").write_text(text)
    made = templates.template(str(tmp_path), "t.yaml")
    assert made.fast is not None
    return made


def parsed(made: templates.Template, context: dict[str, Any]) -> str:
    """What the text parses to, as ``repr``: keys in order, and ``1`` is not ``True``."""
    try:
        return repr(render._parsed(made, "t.yaml", context))
    except yaml.YAMLError:
        return "not YAML"


def built(made: templates.Template, context: dict[str, Any]) -> str | None:
    """What the skeleton builds, once it has been seen before; None: left to the parse."""
    docs = skeleton.objects(made, context)
    return None if docs is None else repr(docs)


@pytest.fixture(scope="module")
def everywhere(tmp_path_factory: pytest.TempPathFactory) -> templates.Template:
    made = template(tmp_path_factory.mktemp("everywhere"), EVERYWHERE)
    skeleton.objects(made, {"a": "x", "b": "y"})
    return made


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=VALUES, b=VALUES)
def test_any_values_build_what_the_text_parses_to(everywhere: templates.Template, a: Any, b: Any) -> None:
    context = {"a": a, "b": b}
    skeleton.objects(everywhere, context)  # a skeleton the values change is seen for the first time
    found = built(everywhere, context)
    if found is not None:
        assert found == parsed(everywhere, context)


def test_safe_words_share_one_skeleton(everywhere: templates.Template) -> None:
    """Values that are safe to leave out give the same skeleton, so every such stage is built."""
    for a, b in [("web", "8080"), ("2001-12-14", "true"), ("a.b", "1_000"), ("x", 12)]:
        context = {"a": a, "b": b}
        found = built(everywhere, context)
        assert found is not None and found == parsed(everywhere, context)


@pytest.mark.parametrize(
    "text",
    [
        "a: &x {{ a }}\nb: *x\n",  # an anchor and its alias
        "a: !!str {{ a }}\n",  # a tag
        "base: &b {x: 1}\nmerged:\n  <<: *b\n  y: {{ a }}\n",  # a merge key
        "m:\n  <<: {{ {'k': a} | tojson }}\n",  # a merge key with an embedded mapping
        f"{'{{ a }}' * 40}: long key\n",  # a key that may be too long for YAML with values in it
        "a: \ue0010\ue002{{ a }}\n",  # the template's own text has what looks like a hole
        "a: [{{ a }}\n",  # not YAML
    ],
)
def test_what_a_built_function_cannot_stand_for_is_left_to_the_parse(tmp_path: Path, text: str) -> None:
    made = template(tmp_path, text)
    context = {"a": "word"}
    for _ in range(3):
        assert built(made, context) is None
    if text != "a: [{{ a }}\n":
        assert parsed(made, context) != "not YAML"


def test_a_captured_block_is_left_to_the_parse(tmp_path: Path) -> None:
    made = template(tmp_path, "{% set x %}{{ a }}{% endset %}a: {{ x | replace('o', '0') }}\n")
    for _ in range(3):
        assert built(made, {"a": "word"}) is None
    assert parsed(made, {"a": "word"}) == "[{'a': 'w0rd'}]"


def test_each_build_makes_new_objects(tmp_path: Path) -> None:
    """Later passes may change what expand made: no two stages share a mapping or list."""
    made = template(tmp_path, "m: {k: {{ a }}}\nl: [1]\n")
    skeleton.objects(made, {"a": "x"})
    one, two = skeleton.objects(made, {"a": "x"}), skeleton.objects(made, {"a": "y"})
    assert one is not None and two is not None
    assert one[0]["m"] is not two[0]["m"] and one[0]["l"] is not two[0]["l"]
    assert (one[0]["m"], two[0]["m"]) == ({"k": "x"}, {"k": "y"})
