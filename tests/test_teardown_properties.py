"""Properties of the teardown plan, over every example and over generated specs: every compiled
object is deleted exactly once, what was applied later is deleted earlier, claims appear only in
the data phase, every command selects by ownership, and the file form reads back unchanged."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import test_properties
import yaml
from cases import CASES
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kc.compiler import arguments, commands, contract, ir, kinds, teardown
from kc.compiler.teardown import model
from kc.targets import emit, teardown_text


def check(program: ir.Program, plan: teardown.TeardownPlan) -> None:
    assert program.spec is not None
    assert model.problems(plan) == []
    steps = plan.steps
    bundle_of = {o.key: b.index for b in program.bundles for o in b.objects}

    # Every object of the bundles is deleted by name exactly once, and nothing else is named
    # except the claims StatefulSets make.
    named = Counter(model.objects_named(plan))
    assert {k: n for k, n in named.items() if n != 1} == {}
    claims = {k for k in named if k[1] == "PersistentVolumeClaim"} - set(bundle_of)
    assert set(named) - claims == set(bundle_of)

    # What was applied later is deleted earlier: bundles in reverse.
    position = {(s.api_version, s.kind, s.namespace or "", s.name): s.number for s in steps if s.action == "delete"}
    ordered = sorted(bundle_of, key=lambda k: position[k])
    assert [bundle_of[k] for k in ordered] == sorted(bundle_of.values(), reverse=True)
    assert [s.bundle for s in steps] == sorted((s.bundle for s in steps), reverse=True)

    # Within a bundle, phases in their order: workloads before everything but custom resources.
    for index in {s.bundle for s in steps}:
        phases = [kinds.PHASES.index(s.phase) for s in steps if s.bundle == index]
        assert phases == sorted(phases)

    # Claims appear only under the data phase, which holds nothing else and runs only when asked.
    for step in steps:
        is_claim = step.kind == "PersistentVolumeClaim"
        assert is_claim == (step.phase == "data")
        if is_claim:
            assert step.data and (plan.runs(step) == plan.delete_data)

    # Every StatefulSet's claims are named, ordinal by ordinal, up to its replicas.
    for obj in program.objects:
        if obj.kind == "StatefulSet":
            for template in obj.manifest["spec"].get("volumeClaimTemplates") or []:
                for i in range(obj.manifest["spec"].get("replicas", 1)):
                    key = (
                        "v1",
                        "PersistentVolumeClaim",
                        obj.namespace or "",
                        f"{template['metadata']['name']}-{obj.name}-{i}",
                    )
                    assert named[key] == 1

    # Safety: ownership labels on every command, a name or a stage label with a namespace.
    own = contract.ownership_selector(program.instance)
    for step in steps:
        assert step.selector[: len(own)] == own
        assert ("-l", contract.selector_text(step.selector)) == tuple(
            step.argv[step.argv.index("-l") : step.argv.index("-l") + 2]
        )
        assert step.name is not None or (step.namespace and step.selector[len(own)][0] == contract.STAGE)

    # The namespace: last, only when kc created it, kept with the claims it holds.
    spaces = [s for s in steps if s.kind == "Namespace"]
    assert len(spaces) == (1 if program.spec.workspace.create else 0)
    if spaces:
        assert spaces[0] is steps[-1]
        assert spaces[0].data == any(s.kind == "PersistentVolumeClaim" for s in steps)
        assert spaces[0].guard

    # The file form reads back as the same plan, and is the plan's dict as the YAML writer
    # writes any document (teardown_text writes the steps itself, faster).
    text = teardown_text.yaml(plan)
    assert model.from_dict(yaml.safe_load(text)) == plan
    assert text.split("\n", 2)[2] == emit.document(model.as_dict(plan))


def program_of(case: str) -> ir.Program:
    spec, flags = CASES[case]
    return commands.build(arguments.parser().parse_args(["compile", str(ROOT / spec), *flags]))


@pytest.mark.parametrize("case", sorted(CASES))
def test_examples(case: str) -> None:
    program = program_of(case)
    for delete_data in (False, True):
        check(program, teardown.plan(program, delete_data))


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    """test_properties' specs, with claims, several replicas, kept or created namespaces and both
    data policies."""
    spec: dict[str, Any] = draw(test_properties.specs())
    for stage in spec["stages"].values():
        if stage["pattern"] == "stateful" and draw(st.booleans()):
            stage["storage"] = "1Gi"
            stage["replicas"] = draw(st.integers(0, 4))
    workspace: dict[str, Any] = {}
    if draw(st.booleans()):
        workspace["create"] = False
    if draw(st.booleans()):
        workspace["data"] = {"size": "2Gi"}
    spec["workspace"] = workspace
    if draw(st.booleans()):
        spec["policy"] = {"data": "delete"}
    return spec


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=specs(), delete_data=st.booleans())
def test_generated(spec: dict[str, Any], delete_data: bool, tmp_path: Path) -> None:
    program = test_properties.compile_spec(spec, tmp_path)
    plan = teardown.plan(program, delete_data)
    check(program, plan)
    assert plan.delete_data == (delete_data or spec.get("policy", {}).get("data") == "delete")
    assert teardown.plan(program, delete_data) == plan
