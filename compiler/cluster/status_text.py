"""A ``kc status`` report as text (coloured on a terminal), as JSON (docs/cluster.md has its
shape), and as the one-line-per-change entries that ``kc status --watch`` prints into a log."""

from __future__ import annotations

import json
from typing import Any

from kc.cluster import status as st

COLORS = {st.PASSED: "32", st.HEALTHY: "32", st.WAITING: "33", st.FAILED: "31", st.NONE: "2"}
JSON_FORMAT = 1


def _paint(text: str, state: str, color: bool) -> str:
    code = COLORS.get(state, "")
    return f"\033[{code}m{text}\033[0m" if color and code else text


def _pod_text(pod: st.Pod) -> str:
    out = f"{pod.phase}{', ready' if pod.ready else ''}"
    if pod.restarts:
        out += f", {pod.restarts} restart{'s' if pod.restarts > 1 else ''}"
    return out + (f": {pod.message}" if pod.message else "")


def _thing_text(thing: st.Thing) -> str:
    out = f"{thing.state}: {thing.ref}"
    if thing.fields:
        out += f" ({', '.join(thing.fields[:5])}{', …' if len(thing.fields) > 5 else ''})"
    return out + (f": {thing.note}" if thing.note else "")


def _value_text(value: str | None) -> str:
    return "(not stored yet)" if value is None else json.dumps(value, ensure_ascii=False)


def text(status: st.Status, color: bool = False) -> str:
    """The report: a header with the verdict, then each bundle, its steps, their pods and the
    objects that are not as planned."""
    out = [
        f"{status.pipeline}: instance {status.instance} in namespace {status.namespace} on {status.where}: "
        + _paint(status.health, status.health, color)
    ]
    for bundle in status.bundles:
        out.append(f"bundle {bundle.index:02d} {bundle.name}")
        for step in bundle.steps:
            state = "no gate" if step.state == st.NONE else step.state
            gate = "" if step.state == st.NONE else f"{step.gate_text}: "
            why = f": {step.why}" if step.why and step.state != st.NONE else ""
            out.append(f"  {step.id}: {gate}{_paint(state, step.state, color)}{why}")
            out.extend(f"    result {n}: {_value_text(v)}" for n, v in step.results)
            out.extend(f"    pod {p.name}: {_pod_text(p)}" for p in step.pods)
            out.extend(f"    {_thing_text(t)}" for t in step.objects if t.state != "present")
    return "\n".join(out) + "\n"


def data(status: st.Status) -> dict[str, Any]:
    return {
        "format": JSON_FORMAT,
        "pipeline": status.pipeline,
        "instance": status.instance,
        "namespace": status.namespace,
        "cluster": status.where,
        "health": status.health,
        "bundles": [
            {
                "index": b.index,
                "name": b.name,
                "steps": [
                    {
                        "id": s.id,
                        "stage": s.stage or None,
                        "gate": {"kind": s.gate, "text": s.gate_text},
                        "state": s.state,
                        "why": s.why,
                        "pods": [
                            {
                                "name": p.name,
                                "phase": p.phase,
                                "ready": p.ready,
                                "restarts": p.restarts,
                                "reason": p.reason or None,
                                "message": p.message or None,
                            }
                            for p in s.pods
                        ],
                        "objects": [
                            {"ref": t.ref, "state": t.state, "fields": list(t.fields), "note": t.note or None}
                            for t in s.objects
                        ],
                        "results": dict(s.results),
                    }
                    for s in b.steps
                ],
            }
            for b in status.bundles
        ],
    }


def json_text(status: st.Status) -> str:
    return json.dumps(data(status), indent=2, ensure_ascii=False) + "\n"


def entries(status: st.Status) -> dict[str, str]:
    """One line for each thing whose change ``--watch`` reports: the verdict, each step's gate,
    each pod, each object."""
    out = {"health": f"{status.instance}: {status.health}"}
    for step in status.steps:
        state = "no gate" if step.state == st.NONE else f"{step.gate_text}: {step.state}"
        why = f": {step.why}" if step.why and step.state != st.NONE else ""
        out[f"step {step.id}"] = f"{step.id}: {state}{why}"
        for name, value in step.results:
            out[f"result {step.id} {name}"] = f"{step.id}: result {name}: {_value_text(value)}"
        for pod in step.pods:
            out[f"pod {pod.name}"] = f"{step.id}: pod {pod.name}: {_pod_text(pod)}"
        for thing in step.objects:
            out[f"object {thing.ref}"] = f"{step.id}: {_thing_text(thing)}"
    return out


def changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The lines of what changed from ``before`` to ``after``; a pod that went says so."""
    out = [line for key, line in after.items() if before.get(key) != line]
    out += [
        f"{line.partition(': pod ')[0]}: pod {key[4:]}: gone"
        for key, line in before.items()
        if key.startswith("pod ") and key not in after
    ]
    return out
