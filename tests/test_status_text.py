"""kc status's report as text, JSON and --watch change lines, from hand-built states."""

from __future__ import annotations

import json

from kc.cluster import status as st
from kc.cluster import status_text


def _status(state: str = st.PASSED, why: str = "Deployment shop/shop-api: 2/2 available") -> st.Status:
    pods = (st.Pod("shop-api-1", "Running", True), st.Pod("shop-api-2", "Running", True, restarts=2))
    web = st.StepState(
        "api", "api", "rollout", "rollout complete", state, why, pods, (st.Thing("Service shop/api", "present"),)
    )
    job = st.StepState(
        "migrate",
        "migrate",
        "job-complete",
        "job complete",
        st.PASSED,
        "Job shop/m: 1/1 succeeded",
        objects=(st.Thing("Job shop/m", "drifted", ("spec.template.spec.containers[m].image",)),),
    )
    ws = st.StepState("workspace", "", "none", "none", st.NONE, "no gate")
    bundles = (st.BundleState(0, "workspace", (ws,)), st.BundleState(1, "api", (web, job)))
    return st.Status("shop", "shop", "shop", "context kc (https://x)", bundles)


def test_health_follows_the_gates_and_missing_objects() -> None:
    assert _status().health == st.HEALTHY  # drift alone is shown, not counted
    assert _status(st.WAITING).health == st.WAITING
    assert _status(st.FAILED).health == st.FAILED
    missing = _status()
    step = missing.bundles[1].steps[0]
    gone = st.StepState(
        step.id, step.stage, step.gate, step.gate_text, st.PASSED, "", (), (st.Thing("Service shop/api", "missing"),)
    )
    assert st.Status("shop", "shop", "shop", "x", (st.BundleState(1, "api", (gone,)),)).health == st.WAITING


def test_text_lists_steps_pods_and_what_is_not_as_planned() -> None:
    out = status_text.text(_status())
    assert out.splitlines()[0] == "shop: instance shop in namespace shop on context kc (https://x): healthy"
    assert "  workspace: no gate\n" in out
    assert "  api: rollout complete: passed: Deployment shop/shop-api: 2/2 available\n" in out
    assert "    pod shop-api-2: Running, ready, 2 restarts\n" in out
    assert "    drifted: Job shop/m (spec.template.spec.containers[m].image)\n" in out
    assert "Service shop/api" not in out  # present objects are not listed
    assert "\033[" not in out
    assert "\033[31mfailed\033[0m" in status_text.text(_status(st.FAILED), color=True)


def test_json_shape() -> None:
    data = json.loads(status_text.json_text(_status(st.WAITING, "Deployment shop/shop-api: 1/2 available")))
    assert set(data) == {"format", "pipeline", "instance", "namespace", "cluster", "health", "bundles"}
    assert data["health"] == "waiting"
    step = data["bundles"][1]["steps"][0]
    assert set(step) == {"id", "stage", "gate", "state", "why", "pods", "objects", "results"}
    assert step["gate"] == {"kind": "rollout", "text": "rollout complete"} and step["state"] == "waiting"
    assert step["pods"][1] == {
        "name": "shop-api-2",
        "phase": "Running",
        "ready": True,
        "restarts": 2,
        "reason": None,
        "message": None,
    }
    assert step["objects"] == [{"ref": "Service shop/api", "state": "present", "fields": [], "note": None}]
    assert data["bundles"][0]["steps"][0]["stage"] is None


def test_watch_lines_are_the_changes() -> None:
    before = status_text.entries(_status())
    after = status_text.entries(_status(st.WAITING, "Deployment shop/shop-api: 1/2 available"))
    del after["pod shop-api-2"]
    assert status_text.changes(before, before) == []
    assert status_text.changes(before, after) == [
        "shop: waiting",
        "api: rollout complete: waiting: Deployment shop/shop-api: 1/2 available",
        "api: pod shop-api-2: gone",
    ]
