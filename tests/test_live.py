"""What ``kc apply`` and ``kc diff`` make of the live objects, without a cluster: an object found
by name after the labelled listing missed it is a conflict only when it is not the instance's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import compile_text
from kc.cluster import live, rest
from kc.compiler import contract


class _Late:
    """A cluster whose labelled LISTs find nothing, while a look by name finds each object, with
    the labels ``labels``: as when it was created between the two."""

    def __init__(self, labels: dict[str, str]) -> None:
        self.labels = labels

    def kind(self, api_version: str, kind: str) -> rest.Kind:
        return rest.Kind(api_version, kind, kind.lower() + "s", kind != "Namespace")

    def list(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        return []

    def get(self, kind: rest.Kind, namespace: str | None, name: str) -> dict[str, Any]:
        return {"metadata": {"name": name, "namespace": namespace, "labels": dict(self.labels)}}


SPEC = "kc: 1\npipeline: late\nstages:\n  web: service docker.io/library/nginx:1.27.3\n"


def test_an_object_of_the_instance_found_late_is_no_conflict(tmp_path: Path) -> None:
    program = compile_text(SPEC, tmp_path)
    found = live.observe(_Late(contract.ownership("late")), program.objects, "late", "late")  # type: ignore[arg-type]
    assert found.conflicts == {}
    other = live.observe(_Late(contract.ownership("other")), program.objects, "late", "late")  # type: ignore[arg-type]
    assert other.conflicts and all("belongs to kc instance 'other'" in why for _, why in other.conflicts.values())
