"""The committed JSON Schema of the spec (what ``kc schema`` prints, and what editors load)
checked with a real draft 2020-12 validator: the examples are valid, the corpus's structural
errors are not, and each stage is checked against the pattern it names."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SCHEMA = json.loads((ROOT / "schemas" / "kc-spec.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
CORPUS = ROOT / "tests" / "errors"
EXPECT = re.compile(r"^# expect: (KC\d{3}) \d+$", re.MULTILINE)

# The codes of errors in a spec's structure or a field's type, which the schema also finds.
STRUCTURAL = {
    "KC003",  # empty spec: not a mapping
    "KC101",  # unknown field
    "KC102",  # wrong type
    "KC103",  # out of range
    "KC104",  # missing field
    "KC105",  # invalid name
    "KC106",  # value outside its set or pattern
    "KC201",  # unknown pattern, in a spec without imports
}
# A patch's kind is checked against the objects the stage's templates render, not its fields;
# two parameters that exclude each other, or one that needs another, are checked by kc, not by the
# schema; nor are two values compared with each other (autoscale's min above its max, one port
# number under two names), which JSON Schema has no keyword for.
NOT_STRUCTURAL = {
    "patch-unknown-kind",
    "replicas-and-autoscale",
    "fanout-command",
    "autoscale-min-above-max",
    "ports-same-number",
    "egress-stage-name",
}


def errors(doc: Any) -> list[str]:
    return [error.message for error in VALIDATOR.iter_errors(doc)]


def spec(stage: object, imports: list[str] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"kc": 1, "pipeline": "shop", "stages": {"api": stage}}
    if imports is not None:
        doc["imports"] = imports
    return doc


def test_schema_is_draft_2020_12() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*/pipeline.spec")), ids=lambda p: p.parent.name)
def test_examples_are_valid(path: Path) -> None:
    assert errors(yaml.safe_load(path.read_text())) == []


def _structural(path: Path) -> bool:
    return path.stem not in NOT_STRUCTURAL and bool(STRUCTURAL & set(EXPECT.findall(path.read_text())))


@pytest.mark.parametrize("path", [p for p in sorted(CORPUS.glob("*.spec")) if _structural(p)], ids=lambda p: p.stem)
def test_structural_errors_are_invalid(path: Path) -> None:
    assert errors(yaml.safe_load(path.read_text()))


SERVICE = {"pattern": "service", "image": "shop/api:2.3.0"}


@pytest.mark.parametrize(
    ("stage", "imports", "valid"),
    [
        ({**SERVICE, "replica": 2}, None, False),
        ({**SERVICE, "replicas": "lots"}, None, False),
        ({**SERVICE, "replicas": 2}, None, True),
        ({"pattern": "service"}, None, False),
        ({"pattern": "cockroachdb", "port": 26257}, None, False),  # the database patterns own their ports
        ({"pattern": "nosuch"}, None, False),
        ({"pattern": "nosuch"}, [], False),
        # an imported pattern: its parameters are unknown, the fields every stage has are checked
        ({"pattern": "nosuch", "anything": 1}, ["patterns"], True),
        ({"pattern": "nosuch", "enabled": "false"}, ["patterns"], False),
        ({**SERVICE, "replica": 2}, ["patterns"], False),
        (
            {
                **SERVICE,
                "after": ["db"],
                "enabled": False,
                "labels": {"team": "shop"},
                "annotations": {"example.com/owner": "shop"},
                "patch": {"Deployment": {"spec": {"minReadySeconds": 10}}},
            },
            None,
            True,
        ),
        ({**SERVICE, "enabled": "false"}, None, False),
        # numbers that kc reads as text
        ({**SERVICE, "resources": {"cpu": 2, "memory": "1Gi"}, "env": {"PORT": 8080}}, None, True),
        ({"pattern": "job", "image": "shop/migrate:1.4.2", "timeout": 90}, None, True),
        ({"pattern": "volume", "size": "ten gigabytes"}, None, False),
        # retries: a number, or the count and the exit codes that may be retried
        ({"pattern": "job", "image": "shop/migrate:1.4.2", "retries": 3}, None, True),
        (
            {"pattern": "job", "image": "shop/migrate:1.4.2", "retries": {"count": 3, "on-exit-codes": [1, 2]}},
            None,
            True,
        ),
        ({"pattern": "cron", "image": "a/b:1.0.0", "schedule": "@daily", "retries": {"count": 1}}, None, True),
        ({"pattern": "task", "image": "a/b:1.0.0", "retries": {"count": 3, "on-exit-codes": [2, 2]}}, None, False),
        ({"pattern": "job", "image": "shop/migrate:1.4.2", "retries": {"count": 3, "on-exit-codes": []}}, None, False),
        ({"pattern": "job", "image": "shop/migrate:1.4.2", "retries": {"count": 3, "on-exit-codes": [0]}}, None, False),
        ({"pattern": "job", "image": "shop/migrate:1.4.2", "retries": {"on-exit-codes": [1]}}, None, False),
        ({"pattern": "job", "image": "shop/migrate:1.4.2", "retries": {"count": 3, "codes": [1]}}, None, False),
        ({"pattern": "job", "image": "shop/migrate:1.4.2", "retries": True}, None, False),
        ({"pattern": "job", "image": "shop/migrate:1.4.2", "retries": 101}, None, False),
        ({**SERVICE, "retries": 3}, None, False),  # a service does not retry
        # pending-timeout: every pattern that runs a container
        ({**SERVICE, "pending-timeout": "2m"}, None, True),
        ({"pattern": "postgres", "pending-timeout": 90}, None, True),
        ({**SERVICE, "pending-timeout": "two minutes"}, None, False),
        ({"pattern": "volume", "pending-timeout": "2m"}, None, False),  # no pod to wait on
        # the one-line form
        ("service nginx:1.27.3", None, True),
        ("redis", None, True),
        ("redis docker.io/library/redis:7.4.1", None, True),
        ("volume", None, True),
        ("service", None, False),  # service needs an image
        ("cron shop/report:1.0.0", None, False),  # cron needs a schedule
        ("volume nginx:1.27.3", None, False),  # a volume has no image
        ("service nginx:1.27.3 --port=80", None, False),
        ("nosuch nginx:1.27.3", None, False),
        ("nosuch nginx:1.27.3", ["patterns"], True),
        (None, None, False),
    ],
)
def test_stages(stage: object, imports: list[str] | None, valid: bool) -> None:
    assert (errors(spec(stage, imports)) == []) is valid, errors(spec(stage, imports))


@pytest.mark.parametrize("name", ["Web_Server", "workspace", "pipeline", "a" * 64])
def test_stage_names(name: str) -> None:
    assert errors({"kc": 1, "pipeline": "shop", "stages": {name: "service nginx:1.27.3"}})


def test_examples_name_the_schema_for_editors() -> None:
    for spec in sorted((ROOT / "examples").glob("*/pipeline.spec")):
        first = spec.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), spec
        assert (spec.parent / first.partition("$schema=")[2]).resolve() == ROOT / "schemas" / "kc-spec.schema.json"


# --- profiles ----------------------------------------------------------------------------------


def profiled(profile: dict[str, Any], imports: list[str] | None = None) -> dict[str, Any]:
    return {**spec(SERVICE, imports), "profiles": {"prod": profile}}


@pytest.mark.parametrize(
    ("profile", "imports", "valid"),
    [
        ({"stages": {"api": {"replicas": 4, "size": "medium"}}}, None, True),
        ({"stages": {"api": {"replica": 4}}}, None, False),  # no pattern has it
        ({"stages": {"api": {"replica": 4}}}, ["lib"], True),  # an imported pattern may
        ({"stages": {"api": {"size": "huge"}}}, None, False),
        ({"stages": {"api": {"replicas": True}}}, None, False),
        ({"stages": {"api": {"env": {"LOG": {"secret": "db/password"}}}}}, None, True),
        ({"stages": {"api": None}}, None, True),
        ({"workspace": {"quota": {"cpu": "16"}}}, None, True),  # a part of the record: merged, then checked
        ({"workspace": {"quota": {"cpu": "lots"}}}, None, False),
        ({"workspace": {"namespce": "x"}}, None, False),
        ({"defaults": {"resources": {"cpu": 2}}}, None, True),
        ({"defaults": {"size": "huge"}}, None, False),
        ({"policy": {"max-replicas": "many"}}, None, False),
        ({"policy": {"allow-root": 1}}, None, False),
    ],
)
def test_profile_bodies(profile: dict[str, Any], imports: list[str] | None, valid: bool) -> None:
    assert (errors(profiled(profile, imports)) == []) == valid


# --- what an editor says ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "said"),
    [
        ({**spec(SERVICE), "workspace": {"quota": {"pods": "lots"}}}, "'lots' is not of type 'integer', 'null'"),
        ({**spec(SERVICE), "workspace": {"quota": "big"}}, "'big' is not of type 'object', 'null'"),
        ({**spec(SERVICE), "workspace": {"limits": "huge"}}, "'huge' is not one of ['nano', 'small',"),
        (spec({**SERVICE, "resources": {"cpu": 1, "memory": "10GB"}}), "'10GB' does not match"),
        (spec({**SERVICE, "health": "healthz"}), "'healthz' does not match '^/'"),
        (spec({**SERVICE, "env": {"A": {"secret": "nokey"}}}), "'nokey' does not match"),
        (spec({**SERVICE, "env": {"A": {"config": "a/b", "x": 1}}}), "Additional properties are not allowed ('x'"),
    ],
)
def test_an_optional_value_is_refused_for_its_own_reason(doc: dict[str, Any], said: str) -> None:
    """No 'is not valid under any of the given schemas': the schema says what is wrong."""
    found = errors(doc)
    assert found and not any("any of the given schemas" in e for e in found)
    assert any(said in e for e in found), found


def test_optional_fields_are_typed_unions_not_any_of() -> None:
    quota = SCHEMA["$defs"]["Workspace"]["properties"]["quota"]
    assert quota["type"] == ["object", "null"] and "anyOf" not in quota
    left = re.findall(r'"anyOf"', json.dumps(SCHEMA["$defs"]["ServiceStage"]))
    assert left == []  # a stage's fields, optional ones included, are each one schema


def _unions(node: Any) -> list[list[Any]]:
    if isinstance(node, list):
        return [u for item in node for u in _unions(item)]
    if not isinstance(node, dict):
        return []
    own = [node["anyOf"]] if isinstance(node.get("anyOf"), list) else []
    return own + [u for value in node.values() for u in _unions(value)]


def _model_schemas() -> list[dict[str, Any]]:
    from kc.compiler.patterns import catalog, registry
    from kc.schemas import models
    from kc.schemas import spec as spec_schema

    records = [spec_schema.Spec, *(p.record for p in catalog.public(registry.builtins()).values())]
    return [models.model_of(r).model_json_schema(by_alias=True, ref_template="#/$defs/{model}") for r in records]


_VALUE = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-2, 70000),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(["", "a", "nano", "huge", "/x", "x", "10Gi", "10GB", "db/pw", "30m", "http", "Always"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(["secret", "config", "cpu", "memory", "command", "x", "max"]), inner, max_size=3
        ),
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_VALUE)
def test_a_union_written_as_one_schema_takes_exactly_the_same_values(value: Any) -> None:
    from kc.schemas import jsonflat

    for schema in _MODEL_SCHEMAS:
        defs = schema.get("$defs", {})
        for members in _unions(schema):
            one = jsonflat.merged(members, defs)
            if one is None:
                continue
            union = jsonschema.Draft202012Validator({"anyOf": members, "$defs": defs}).is_valid(value)
            merged = jsonschema.Draft202012Validator({**one, "$defs": defs}).is_valid(value)
            assert union == merged, (members, one, value)


_MODEL_SCHEMAS = _model_schemas()
