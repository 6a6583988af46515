"""The data half of job and task stages, compiled: results, fan-out and fan-in, finally steps.
The scripts kc puts into pods are run here with the machine's sh, as the pods would run them."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import codes, compile_text, errors_of
from hypothesis import given, settings
from hypothesis import strategies as st
from kc.cluster import gates, status, status_text
from kc.compiler import ir, pods, results
from kc.compiler.patterns import fanout

IMAGE = "docker.io/library/busybox:1.36.1"


def jobs(program: ir.Program) -> dict[str, dict[str, Any]]:
    return {o.stage: o.manifest for b in program.bundles for o in b.objects if o.kind == "Job"}


def pod_spec(manifest: dict[str, Any]) -> dict[str, Any]:
    return next(pods.specs(manifest))


def main(manifest: dict[str, Any]) -> dict[str, Any]:
    return dict(pod_spec(manifest)["containers"][0])


def bundle_of(program: ir.Program) -> dict[str, int]:
    return {s.stage: b.index for b in program.bundles for s in b.steps}


def spec(stages: str, top: str = "") -> str:
    return f"kc: 1\npipeline: flow\n{top}stages:\n{stages}"


# --- results ------------------------------------------------------------------------------------

RESULTS = spec(
    f"""
  score:
    pattern: job
    image: {IMAGE}
    command: [sh, -c, "echo 42 > /kc/results/best"]
    results: [best, worst]
  report:
    pattern: job
    image: {IMAGE}
    command: [echo, "best is ${{score.results.best}}"]
    env: {{BEST: "${{score.results.best}}", LABEL: "score ${{score.results.worst}}"}}
"""
)


def test_a_writer_gets_the_sidecar_that_reports_its_results(tmp_path: Path) -> None:
    program = compile_text(RESULTS, tmp_path)
    writer = jobs(program)["score"]
    assert writer["metadata"]["annotations"]["kc.dev/results"] == "best,worst"
    spec_ = pod_spec(writer)
    (sidecar,) = spec_["initContainers"]
    assert sidecar["name"] == results.SIDECAR and sidecar["restartPolicy"] == "Always"
    assert sidecar["image"] == IMAGE and sidecar["command"][:2] == ["sh", "-c"]
    assert {"name": results.VOLUME, "mountPath": results.DIR, "readOnly": True} in sidecar["volumeMounts"]
    assert sidecar["securityContext"]["readOnlyRootFilesystem"] is True  # the security pass covers it
    assert {"name": results.VOLUME, "mountPath": results.DIR} in main(writer)["volumeMounts"]
    assert {"name": results.VOLUME, "emptyDir": {"sizeLimit": "1Mi"}} in spec_["volumes"]


def test_a_reader_takes_each_value_from_the_results_configmap(tmp_path: Path) -> None:
    program = compile_text(RESULTS, tmp_path)
    reader = main(jobs(program)["report"])
    assert reader["command"] == ["echo", "best is $(KC_RESULT_SCORE__BEST)"]
    env = reader["env"]
    # The variables come first: the kubelet expands $(X) only from variables defined before.
    assert env[:2] == [
        {
            "name": "KC_RESULT_SCORE__BEST",
            "valueFrom": {"configMapKeyRef": {"name": "flow-results", "key": "score.best"}},
        },
        {
            "name": "KC_RESULT_SCORE__WORST",
            "valueFrom": {"configMapKeyRef": {"name": "flow-results", "key": "score.worst"}},
        },
    ]
    assert {"name": "BEST", "value": "$(KC_RESULT_SCORE__BEST)"} in env
    assert {"name": "LABEL", "value": "score $(KC_RESULT_SCORE__WORST)"} in env


def test_reading_a_result_orders_the_reader_and_the_configmap_is_in_bundle_0(tmp_path: Path) -> None:
    program = compile_text(RESULTS, tmp_path)
    assert bundle_of(program)["report"] > bundle_of(program)["score"]
    deps = next(s for s in program.steps if s.stage == "report").deps
    assert {(d.target, d.kind) for d in deps} == {("score", "result")}
    workspace = [o.manifest for o in program.bundles[0].objects if o.kind == "ConfigMap"]
    assert [m["metadata"]["name"] for m in workspace] == ["flow-results"]
    assert "data" not in workspace[0]  # kc apply writes the values; no compiled file holds them


def test_no_results_no_configmap(tmp_path: Path) -> None:
    program = compile_text(spec(f"  one:\n    pattern: job\n    image: {IMAGE}\n"), tmp_path)
    assert not [o for o in program.bundles[0].objects if o.kind == "ConfigMap"]


def test_the_sidecar_counts_in_the_quota(tmp_path: Path) -> None:
    # 250m for the job and 50m for its sidecar: 0.28 cores are too few, 0.3 enough.
    stage = f"  one:\n    pattern: job\n    image: {IMAGE}\n    results: [x]\n"
    assert "KC414" in codes(errors_of(spec(stage, 'workspace: {quota: {cpu: "280m"}}\n'), tmp_path))
    compile_text(spec(stage, 'workspace: {quota: {cpu: "300m"}}\n'), tmp_path)


def _collect(values: dict[str, bytes], names: list[str], tmp_path: Path) -> str:
    """Run the sidecar's script with the machine's sh: the values written, then SIGTERM."""
    folder = tmp_path / "results"
    folder.mkdir(exist_ok=True)
    for name, value in values.items():
        (folder / name).write_bytes(value)
    log = tmp_path / "termination-log"
    script = results.sidecar(IMAGE, names, None)["command"][2]
    script = script.replace(results.DIR, str(folder)).replace("/dev/termination-log", str(log))
    shell = subprocess.Popen(["sh", "-c", script])
    time.sleep(0.3)
    shell.send_signal(signal.SIGTERM)
    assert shell.wait(timeout=10) == 0
    return log.read_bytes().decode()  # as the API server gives it: no newline translation


@settings(max_examples=15, deadline=None)
@given(
    st.lists(
        st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=200),
        min_size=1,
        max_size=3,
    )
)
def test_values_come_back_as_written_less_trailing_newlines(tmp_path_factory: Any, texts: list[str]) -> None:
    tmp_path = tmp_path_factory.mktemp("collect")
    names = [f"r{i}" for i in range(len(texts))]
    message = _collect({n: t.encode() for n, t in zip(names, texts, strict=True)}, names, tmp_path)
    assert results.parse(message, names) == {n: t.rstrip("\n") for n, t in zip(names, texts, strict=True)}


def test_a_value_too_large_or_not_written_is_an_error(tmp_path: Path) -> None:
    message = _collect({"big": b"x" * (results.MAX_BYTES + 1)}, ["big", "absent"], tmp_path)
    with pytest.raises(results.ResultError, match=r"result 'big' has 1025 bytes; a result holds at most 1024"):
        results.parse(message, ["big", "absent"])
    message = _collect({"big": b"fine"}, ["big", "absent"], tmp_path)
    with pytest.raises(results.ResultError, match=r"result 'absent' was not written"):
        results.parse(message, ["big", "absent"])
    with pytest.raises(results.ResultError, match="was not reported"):
        results.parse("", ["big"])


def test_status_shows_the_values(tmp_path: Path) -> None:
    step = status.StepState(
        "score", "score", "job-complete", "job complete", "passed", "", results=(("best", "42"), ("worst", None))
    )
    report = status.Status("flow", "flow", "flow", "here", (status.BundleState(1, "score", (step,)),))
    text = status_text.text(report)
    assert '    result best: "42"\n' in text and "    result worst: (not stored yet)\n" in text
    assert status_text.data(report)["bundles"][0]["steps"][0]["results"] == {"best": "42", "worst": None}


# --- fan-out and fan-in ---------------------------------------------------------------------------

FAN = spec(
    f"""
  split:
    pattern: task
    image: {IMAGE}
    command: [split]
    outputs: [parts]
  count:
    pattern: task
    image: {IMAGE}
    shards: 3
    command: [count, "/data/in/parts/${{item}}"]
    env: {{SHARD: "shard-${{item}}"}}
    inputs: {{parts: split.parts}}
    outputs: [counts]
  merge:
    pattern: task
    image: {IMAGE}
    command: [merge]
    inputs: {{counts: count.counts}}
""",
    "workspace: {data: {size: 1Gi}}\n",
)


def test_shards_are_an_indexed_job_whose_pods_know_their_item(tmp_path: Path) -> None:
    job = jobs(compile_text(FAN, tmp_path))["count"]
    assert job["spec"]["completionMode"] == "Indexed"
    assert (job["spec"]["completions"], job["spec"]["parallelism"]) == (3, 3)
    assert job["spec"]["backoffLimitPerIndex"] == 3 and "backoffLimit" not in job["spec"]
    assert job["metadata"]["annotations"]["kc.dev/items"] == "0,1,2"
    container = main(job)
    by_index = {"valueFrom": {"fieldRef": {"fieldPath": fanout.INDEX_FIELD}}}
    assert container["env"][:2] == [{"name": "KC_INDEX", **by_index}, {"name": "KC_ITEM", **by_index}]
    assert {"name": "SHARD", "value": "shard-$(KC_ITEM)"} in container["env"]
    assert container["command"] == ["count", "/data/in/parts/$(KC_ITEM)"]
    out = {"name": "data", "mountPath": "/data/out/counts", "subPathExpr": "count/counts/$(KC_INDEX)"}
    assert out in container["volumeMounts"]


def test_a_reader_of_a_fanned_out_output_sees_every_item_and_waits_for_all(tmp_path: Path) -> None:
    program = compile_text(FAN, tmp_path)
    mounts = [m for m in main(jobs(program)["merge"])["volumeMounts"] if m["name"] == "data"]
    assert mounts == [
        {"name": "data", "mountPath": f"/data/in/counts/{i}", "subPath": f"count/counts/{i}", "readOnly": True}
        for i in range(3)
    ]
    assert bundle_of(program)["merge"] == bundle_of(program)["count"] + 1  # after the whole Job completes


def test_parallel_bounds_the_pods_and_policy_bounds_the_default(tmp_path: Path) -> None:
    stage = f"  many:\n    pattern: job\n    image: {IMAGE}\n    command: [run]\n    shards: 40\n"
    assert jobs(compile_text(spec(stage), tmp_path))["many"]["spec"]["parallelism"] == 10  # max-parallelism
    assert jobs(compile_text(spec(stage + "    parallel: 4\n"), tmp_path))["many"]["spec"]["parallelism"] == 4
    assert "KC402" in codes(errors_of(spec(stage + "    parallel: 11\n"), tmp_path))


EACH = spec(
    f"""
  langs:
    pattern: job
    image: {IMAGE}
    command: [printf, "%s|", "it's ${{item}}"]
    args: ["$HOME", "${{item}}-$(KC_INDEX)"]
    env: {{GREETING: "hello ${{item}}", PLAIN: "same"}}
    each: [en, de, fr]
"""
)


def _run(script: str, index: int, env: dict[str, str]) -> str:
    done = subprocess.run(
        ["sh", "-c", script],
        env={**os.environ, **env, "KC_INDEX": str(index)},
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout + done.stderr


def test_a_list_of_items_reaches_each_pod_through_sh(tmp_path: Path) -> None:
    job = jobs(compile_text(EACH, tmp_path))["langs"]
    container = main(job)
    assert job["metadata"]["annotations"]["kc.dev/items"] == "en,de,fr"
    assert container["command"][:2] == ["sh", "-c"] and "args" not in container
    assert [e["name"] for e in container["env"]] == ["KC_INDEX", "PLAIN"]
    script = container["command"][2]
    # What the pod runs for item 1, "de": the words as given, the item written in, $(KC_INDEX)
    # (which the kubelet expands elsewhere) given to sh.
    assert _run(script, 1, {}) == "it's de|$HOME|de-1|"
    assert _run(script + 'echo "$KC_ITEM $GREETING"', 2, {}).startswith("it's fr|")
    probe = script.replace('exec "$@"', 'echo "$KC_ITEM/$GREETING"')
    assert _run(probe, 0, {}) == "en/hello en\n"
    assert "no item for completion index 3" in _run(script, 3, {})


def test_gates_name_the_failed_items() -> None:
    job = {"metadata": {"annotations": {"kc.dev/items": "en,de,fr,it,es"}}, "status": {"failedIndexes": "1,3-4"}}
    assert gates.failed_items(job) == ["de", "it", "es"]
    job["status"]["conditions"] = [{"type": "Failed", "status": "True", "reason": "FailedIndexes"}]
    target = gates.Target("langs", ir.Gate("job-complete"), None, "flow", "flow-langs")  # type: ignore[arg-type]
    assert gates.check(None, target, job).failed == "the Job failed (FailedIndexes; failed items: 'de', 'it', 'es')"  # type: ignore[arg-type]


# --- finally steps ------------------------------------------------------------------------------


def test_a_finally_step_comes_after_everything_else(tmp_path: Path) -> None:
    program = compile_text(
        spec(
            f"""
  cleanup:
    pattern: job
    image: {IMAGE}
    when: always
  a:
    pattern: job
    image: {IMAGE}
  b:
    pattern: job
    image: {IMAGE}
    after: [a]
  c:
    pattern: job
    image: {IMAGE}
  notify:
    pattern: task
    image: {IMAGE}
    when: failed
"""
        ),
        tmp_path,
    )
    order = bundle_of(program)
    assert order["cleanup"] == order["notify"] > max(order["a"], order["b"], order["c"])
    cleanup = next(s for s in program.steps if s.stage == "cleanup")
    assert {(d.target, d.kind) for d in cleanup.deps} == {("b", "finally"), ("c", "finally")}  # a is before b
    assert jobs(program)["notify"]["metadata"]["annotations"]["kc.dev/when"] == "failed"


def test_a_finally_step_runs_again_when_what_it_follows_does(tmp_path: Path) -> None:
    text = spec(
        f"""
  work:
    pattern: job
    image: {IMAGE}
    args: [v1]
  cleanup:
    pattern: job
    image: {IMAGE}
    when: always
"""
    )
    before = jobs(compile_text(text, tmp_path))["cleanup"]["metadata"]
    after = jobs(compile_text(text.replace("[v1]", "[v2]"), tmp_path))["cleanup"]["metadata"]
    assert before["annotations"]["kc.dev/content"] == after["annotations"]["kc.dev/content"]  # its own
    assert before["name"] != after["name"]  # and what it follows
