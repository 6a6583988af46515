"""The parts of the cluster commands that need no cluster: the essence of an object and the
comparison, the rendering of a diff, durations and the progress display."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from kc.cluster import diff, diff_text, essence
from kc.cluster import progress as progress_display
from kc.cluster.essence import ABSENT, Named
from kc.compiler import contract
from kc.schemas import units


def deployment(**container: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "labels": {"app.kubernetes.io/managed-by": "kc"},
            "annotations": {"kc.dev/source": "pipeline.spec:3", "kc.dev/revision": "abc", "kc.dev/bundle": "1"},
        },
        "spec": {
            "replicas": 2,
            "template": {
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1.27.3", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}
                        | container
                    ]
                }
            },
        },
    }


def served(manifest: dict[str, Any]) -> dict[str, Any]:
    """What the API server makes of it: its metadata, defaults, a status, controllers' annotations."""
    out = json.loads(json.dumps(manifest))
    meta = out["metadata"]
    meta.update(uid="u-1", resourceVersion="42", generation=3, creationTimestamp="2024-01-01T00:00:00Z")
    meta["annotations"]["deployment.kubernetes.io/revision"] = "3"
    meta["annotations"]["kc.dev/revision"] = "older"
    meta["managedFields"] = [{"manager": "kc", "operation": "Apply", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]
    out["spec"]["revisionHistoryLimit"] = 10
    out["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    out["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] = {"cpu": "1000m", "memory": "1024Mi"}
    out["status"] = {"replicas": 2, "readyReplicas": 2}
    return out


@pytest.mark.parametrize(
    ("a", "b"),
    [("1000m", "1"), ("1Gi", "1024Mi"), ("0.5", "500m"), ("1k", "1000"), ("2e3", "2k"), (1, "1"), ("1.5Gi", "1536Mi")],
)
def test_quantities_compare_by_value(a: Any, b: Any) -> None:
    assert units.quantity(a) == units.quantity(b) is not None


@pytest.mark.parametrize("text", ["", "abc", "1Gb", "1 Gi", "Gi", "true"])
def test_what_is_not_a_quantity(text: str) -> None:
    assert units.quantity(text) is None


def test_server_fields_defaults_and_quantities_are_no_difference() -> None:
    compiled = deployment()
    assert essence.drift(compiled, served(compiled), "kc") == ()
    assert essence.difference(served(compiled), served(compiled)) == ()


def test_a_quantity_is_only_a_quantity_where_kubernetes_says_so() -> None:
    compiled = deployment(env=[{"name": "SIZE", "value": "1Gi"}])
    live = served(compiled)
    live["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = "1024Mi"
    [change] = essence.drift(compiled, live, "kc")
    assert change.text == "spec.template.spec.containers[web].env[SIZE].value"
    assert (change.before, change.after, change.op) == ("1024Mi", "1Gi", "changed")


def test_changes_are_found_field_by_field_in_named_lists() -> None:
    compiled = deployment(image="nginx:1.27.4", env=[{"name": "A", "value": "1"}])
    live = served(deployment(env=[{"name": "B", "value": "2"}]))
    changes = {c.text: c for c in essence.drift(compiled, live, "kc")}
    assert set(changes) == {
        "spec.template.spec.containers[web].image",
        "spec.template.spec.containers[web].env[A]",
    }
    assert changes["spec.template.spec.containers[web].env[A]"].op == "added"
    # B is not kc's (no managed field says so), so it is not reported as removed
    full = {c.text: c.op for c in essence.difference(live, compiled)}
    assert full["spec.template.spec.containers[web].env[B]"] == "removed"


def test_fields_kc_applied_and_dropped_are_removals() -> None:
    compiled = deployment()
    live = served(deployment(env=[{"name": "OLD", "value": "1"}]))
    live["metadata"]["labels"]["team"] = "web"
    live["metadata"]["annotations"]["example.com/theirs"] = "x"
    # FieldsV1 as a real API server writes it: lists keyed by name, sets by value.
    live["metadata"]["managedFields"] = [
        {
            "manager": "kc",
            "operation": "Apply",
            "fieldsV1": {
                "f:metadata": {
                    "f:labels": {"f:team": {}, "f:app.kubernetes.io/managed-by": {}},
                    "f:annotations": {"f:kc.dev/source": {}},
                },
                "f:spec": {
                    "f:template": {
                        "f:spec": {
                            "f:containers": {
                                'k:{"name":"web"}': {
                                    ".": {},
                                    "f:env": {'k:{"name":"OLD"}': {".": {}, "f:name": {}, "f:value": {}}},
                                    "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}}},
                                }
                            }
                        }
                    }
                },
            },
        },
        {"manager": "kubectl-edit", "operation": "Update", "fieldsV1": {"f:spec": {"f:paused": {}}}},
    ]
    live["spec"]["paused"] = True
    assert essence.owned_paths(live, "kc") >= {
        ("metadata", "labels", "team"),
        ("spec", "template", "spec", "containers", Named("web"), "env", Named("OLD"), "value"),
        ("spec", "template", "spec", "containers", Named("web"), "ports"),
    }
    changes = {c.text: (c.op, c.before) for c in essence.drift(compiled, live, "kc")}
    assert changes == {
        "metadata.labels.team": ("removed", "web"),
        "spec.template.spec.containers[web].env[OLD]": ("removed", {"name": "OLD", "value": "1"}),
    }
    # Asked for the fields an object lacks, the walk beside it finds what resolving each path finds.
    owned = essence.owned_paths(live, "kc")
    for want in (essence.essence(compiled), essence.essence(live), {}, {"metadata": {"labels": {}}}):
        absent = {p for p in owned if essence._resolve(want, p) is essence.ABSENT}
        assert essence.owned_paths(live, "kc", absent_from=want) == absent


def test_secret_values_are_redacted_and_string_data_is_compared_as_data() -> None:
    compiled = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"password": "new"}}
    live = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"password": "b2xk", "x": "eQ=="}}
    [changed] = essence.drift(compiled, live, "kc")
    assert changed.redacted and changed.before is None and changed.after is None and changed.op == "changed"
    same = {**compiled, "stringData": {"password": "old"}}
    assert essence.drift(same, live, "kc") == ()
    removed = essence.difference(live, same)
    assert [(c.text, c.op, c.redacted, c.before) for c in removed] == [("data.x", "removed", True, None)]
    entry = diff.Entry(contract.Ref.of(compiled), (changed, *removed))
    report = diff.Report("here", change=(entry,))
    text = diff_text.text(report)
    assert "data.password: changed (value hidden)" in text and "data.x: removed (value hidden)" in text
    assert "b2xk" not in text and "eQ==" not in text and "new" not in text
    fields = diff_text.as_dict(report)["change"][0]["fields"]
    assert fields[0] == {"path": "data.password", "op": "changed", "redacted": True, "source": None}


def test_paths_read_like_kubectl_explain() -> None:
    path = ("metadata", "labels", "app.kubernetes.io/name")
    assert essence.path_text(path) == 'metadata.labels["app.kubernetes.io/name"]'
    assert essence.path_text(("spec", "ports", 0, "port")) == "spec.ports[0].port"
    assert essence.path_text(("spec", "containers", Named("api"), "image")) == "spec.containers[api].image"


def test_text_and_json_reports() -> None:
    ref = contract.Ref("apps/v1", "Deployment", "shop", "shop-api", "pipeline.spec:42")
    change = essence.Change(("spec", "replicas"), 2, 3)
    added = essence.Change(("metadata", "labels", "team"), ABSENT, "web")
    report = diff.Report(
        "context x",
        create=(diff.Entry(contract.Ref("v1", "Service", "shop", "shop-new", "pipeline.spec:50")),),
        change=(diff.Entry(ref, (change, added)),),
        orphaned=(diff.Entry(contract.Ref("batch/v1", "Job", "shop", "shop-old", None), note="gone"),),
        conflicts=(diff.Entry(contract.Ref("v1", "ConfigMap", "shop", "x", None), note="not kc's"),),
    )
    assert diff_text.text(report) == (
        "+ Service shop/shop-new  (pipeline.spec:50)\n"
        "~ Deployment shop/shop-api  (pipeline.spec:42)\n"
        "    spec.replicas: 2 -> 3\n"
        '    metadata.labels.team: added "web"\n'
        "- Job shop/shop-old  orphaned: gone\n"
        "! ConfigMap shop/x  conflict: not kc's; kc will not adopt it\n"
        "1 to create, 1 to change, 1 orphaned, 1 conflict, 0 unchanged (against context x)\n"
    )
    colored = diff_text.text(report, color=True)
    assert "\033[32m+ Service shop/shop-new\033[0m" in colored and "\033[33m~ Deployment" in colored
    data = diff_text.as_dict(report)
    assert data["differences"] is True
    assert data["change"][0]["fields"][1] == {
        "path": "metadata.labels.team",
        "op": "added",
        "after": "web",
        "source": "pipeline.spec:42",
    }
    assert not diff.Report("x", unchanged=(diff.Entry(ref),)).differences


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("500ms", 0.5), ("1.5s", 1.5), ("2d", 172800)],
)
def test_durations(text: str, seconds: float) -> None:
    assert float(units.seconds(text)) == seconds


@pytest.mark.parametrize("text", ["", "5 m", "m", "5x", "-1s", "1m5"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        units.seconds(text)


def test_progress_is_a_live_line_on_a_terminal_and_plain_lines_otherwise() -> None:
    plain = io.StringIO()
    shown = progress_display.Progress(plain)
    shown.status("waiting 1/2")
    shown.line("bundle 01 db: gate passed")
    assert plain.getvalue() == "bundle 01 db: gate passed\n"

    terminal = io.StringIO()
    live = progress_display.Progress(terminal, color=True, live=True)
    live.status("waiting 1/2")
    live.status("waiting 2/2")
    live.line("done", "32")
    assert terminal.getvalue() == "\r\033[Kwaiting 1/2\r\033[Kwaiting 2/2\r\033[K\033[32mdone\033[0m\n"
