"""Every object of every golden case validates against the Kubernetes OpenAPI schema, in strict
mode (unknown fields are errors), for Kubernetes 1.30 and the newest version the package knows."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from cases import CASES
from conftest import ROOT

VERSIONS = ("1.30.0", kubernetes_validate.latest_version())


def objects(case: str) -> list[dict[str, object]]:
    root = ROOT / "golden" / case
    return [doc for path in sorted(root.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_objects_validate_strictly(case: str, version: str) -> None:
    found = objects(case)
    assert found, f"golden/{case} has no objects"
    for doc in found:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            meta = doc["metadata"]
            assert isinstance(meta, dict)
            pytest.fail(f"{case}: {doc['kind']} {meta['name']} invalid for {version}: {exc.message}")


def test_golden_cases_exist() -> None:
    assert all((ROOT / "golden" / case).is_dir() for case in CASES), "run pytest --update-goldens"
    assert Path(ROOT / "golden").is_dir()
