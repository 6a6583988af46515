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
# schema.
NOT_STRUCTURAL = {"patch-unknown-kind", "replicas-and-autoscale", "fanout-command", "egress-stage-name"}


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
