"""Properties over generated specs: compiling is deterministic, every dependency points to an
earlier bundle, names are unique, and every object carries the pipeline's ownership labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kc.compiler import ir, passes, source
from kc.targets import kubernetes

PATTERNS = ("service", "worker", "job", "cron", "stateful", "volume", "config")


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 10))
    stages: dict[str, Any] = {}
    for i in range(count):
        name = f"s{i}"
        pattern = draw(st.sampled_from(PATTERNS))
        stage: dict[str, Any] = {"pattern": pattern}
        if pattern not in ("volume", "config"):
            stage["image"] = f"acme/{name}:1.{i}.0"
        if pattern == "cron":
            stage["schedule"] = "0 3 * * *"
        if pattern == "config":
            stage["data"] = {"key": draw(st.text("abc", max_size=5))}
        if pattern in ("service", "stateful"):
            stage["port"] = 8000 + i
        earlier = list(stages)
        if earlier and pattern not in ("volume", "config"):
            stage["after"] = draw(st.lists(st.sampled_from(earlier), max_size=3, unique=True))
            services = [s for s in earlier if stages[s]["pattern"] in ("service", "stateful")]
            if services:
                target = draw(st.sampled_from(services))
                stage["env"] = {"TARGET": f"${{{target}.url}}"}
        stages[name] = stage
    flow = draw(st.sampled_from(["dependencies", "sequential"]))
    return {"kc": 1, "pipeline": "prop", "flow": flow, "stages": stages}


def compile_spec(spec: dict[str, Any], tmp: Path) -> ir.Program:
    path = tmp / "pipeline.spec"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return passes.run(source.load_file(str(path)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=specs())
def test_compile_properties(spec: dict[str, Any], tmp_path: Path) -> None:
    program = compile_spec(spec, tmp_path)
    assert dict(kubernetes.files(program)) == dict(kubernetes.files(compile_spec(spec, tmp_path)))

    bundle_of = {s.id: b.index for b in program.bundles for s in b.steps}
    stage_last = {s.stage: s.id for s in program.steps}
    for step in program.steps:
        for dep in step.deps:
            assert bundle_of[dep.target] < bundle_of[step.id]
    for stage in program.stages:
        for dep in stage.deps:
            assert bundle_of[stage_last[dep.target]] < bundle_of[stage.name]

    keys = [o.key for b in program.bundles for o in b.objects]
    assert len(keys) == len(set(keys))
    for b in program.bundles:
        for obj in b.objects:
            labels = obj.manifest["metadata"]["labels"]
            assert labels["app.kubernetes.io/managed-by"] == "kc"
            assert labels["app.kubernetes.io/instance"] == "prop"
            assert obj.manifest["metadata"]["annotations"]["kc.dev/bundle"] == str(b.index)
