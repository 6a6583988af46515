"""Every object of every golden case validates against the Kubernetes OpenAPI schema, in strict
mode (unknown fields are errors), for Kubernetes 1.30 and the newest version the package knows.
A custom resource validates against the schema its CustomResourceDefinition (in the same case)
declares, as strictly: the API server prunes unknown fields, so kc must not emit any."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from cases import CASES
from conftest import ROOT, compile_text

VERSIONS = ("1.30.0", kubernetes_validate.latest_version())


def objects(case: str) -> list[dict[str, object]]:
    root = ROOT / "golden" / case
    return [doc for path in sorted(root.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """A CRD's structural schema with unknown fields forbidden where the server would prune them."""
    out = {
        k: (_strict(v) if isinstance(v, dict) and k in ("items", "additionalProperties") else v)
        for k, v in schema.items()
    }
    if "properties" in schema:
        out["properties"] = {k: _strict(v) for k, v in schema["properties"].items()}
        if not schema.get("x-kubernetes-preserve-unknown-fields"):
            out.setdefault("additionalProperties", False)
    return out


def custom_schemas(found: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the JSON schema of each served version of each CRD in ``found``."""
    out = {}
    for crd in (d for d in found if d["kind"] == "CustomResourceDefinition"):
        spec = crd["spec"]
        for version in spec["versions"]:
            schema = _strict(version["schema"]["openAPIV3Schema"])
            meta = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}}
            schema["properties"] = {**meta, **schema.get("properties", {})}
            out[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = schema
    return out


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_objects_validate_strictly(case: str, version: str) -> None:
    found = objects(case)
    assert found, f"golden/{case} has no objects"
    custom = custom_schemas(found)
    for doc in found:
        if (doc["apiVersion"], doc["kind"]) in custom:
            jsonschema.validate(doc, custom[(str(doc["apiVersion"]), str(doc["kind"]))])
            continue
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            meta = doc["metadata"]
            assert isinstance(meta, dict)
            pytest.fail(f"{case}: {doc['kind']} {meta['name']} invalid for {version}: {exc.message}")


def test_golden_cases_exist() -> None:
    assert all((ROOT / "golden" / case).is_dir() for case in CASES), "run pytest --update-goldens"
    assert Path(ROOT / "golden").is_dir()


@pytest.mark.parametrize("version", VERSIONS)
def test_a_pod_failure_policy_validates_strictly(version: str, tmp_path: Path) -> None:
    """`retries` with exit codes, which no example uses, in each pattern that takes it."""
    retries = "retries: {count: 2, on-exit-codes: [75, 1]}"
    stages = "".join(
        f"  {pattern}: {{pattern: {pattern}, image: 'a/b:1.0.0', {retries}{more}}}\n"
        for pattern, more in (("job", ""), ("task", ""), ("cron", ", schedule: '@daily'"))
    )
    program = compile_text(f"kc: 1\npipeline: p\nstages:\n{stages}", tmp_path)
    found = [o.manifest for b in program.bundles for o in b.objects if o.kind in ("Job", "CronJob")]
    assert len(found) == 3
    for doc in found:
        kubernetes_validate.validate(doc, version, strict=True)
