"""Make-like re-runs without a cluster: a reader's Job name follows its producers' (seal), the
stages ``kc apply --rerun`` chooses, and why ``kc diff --against DIR`` says each Job will run."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import compile_text
from kc.cluster import diff, diff_text, live, progress, rerun, reviewed, runs
from kc.cluster.errors import Refused
from kc.compiler import cli, contract, ir
from kc.compiler.diagnostics import Pos

# produce -> consume -> report read each other's outputs; other reads nothing, after only orders.
FLOW = """\
kc: 1
pipeline: flow
workspace:
  data: {size: 1Gi}
stages:
  produce:
    pattern: task
    image: busybox:1.36.1
    args: [produce-v1]
    outputs: [words]
  consume:
    pattern: task
    image: busybox:1.36.1
    args: [consume-v1]
    inputs: {words: produce.words}
    outputs: [count]
  report:
    pattern: task
    image: busybox:1.36.1
    args: [report-v1]
    inputs: {count: consume.count}
  other:
    pattern: job
    image: busybox:1.36.1
    args: [other-v1]
    after: [produce]
"""


def jobs(program: ir.Program) -> dict[str, dict[str, Any]]:
    return {o.stage: o.manifest for o in program.objects if o.kind == "Job"}


def names(program: ir.Program) -> dict[str, str]:
    return {stage: job["metadata"]["name"] for stage, job in jobs(program).items()}


def edited(stage: str) -> str:
    return FLOW.replace(f"{stage}-v1", f"{stage}-v2")


# --- the names ------------------------------------------------------------------------------------


def test_an_edit_of_the_producer_renames_every_reader_downstream(tmp_path: Path) -> None:
    before, after = names(compile_text(FLOW, tmp_path)), names(compile_text(edited("produce"), tmp_path))
    assert {s for s in before if before[s] != after[s]} == {"produce", "consume", "report"}


def test_an_edit_of_a_reader_leaves_its_producer_alone(tmp_path: Path) -> None:
    before, after = names(compile_text(FLOW, tmp_path)), names(compile_text(edited("consume"), tmp_path))
    assert {s for s in before if before[s] != after[s]} == {"consume", "report"}


def test_an_edit_of_an_unrelated_stage_renames_only_it(tmp_path: Path) -> None:
    before, after = names(compile_text(FLOW, tmp_path)), names(compile_text(edited("other"), tmp_path))
    assert {s for s in before if before[s] != after[s]} == {"other"}


def test_the_content_annotation_holds_the_jobs_own_content_alone(tmp_path: Path) -> None:
    before, after = jobs(compile_text(FLOW, tmp_path)), jobs(compile_text(edited("produce"), tmp_path))
    content = {s: j["metadata"]["annotations"][contract.CONTENT] for s, j in before.items()}
    assert {s: j["metadata"]["annotations"][contract.CONTENT] for s, j in after.items() if s != "produce"} == {
        s: c for s, c in content.items() if s != "produce"
    }
    # A Job that reads nothing is named by its content alone; a reader is not.
    assert before["produce"]["metadata"]["name"].endswith("-" + content["produce"])
    assert not before["consume"]["metadata"]["name"].endswith("-" + content["consume"])


def test_only_data_edges_chain(tmp_path: Path) -> None:
    program = compile_text(FLOW, tmp_path)
    assert program.producers == {"consume": ("produce",), "report": ("consume",)}
    assert {"input", "result", "finally"} == ir.DATA


# --- kc apply --rerun: which stages -----------------------------------------------------------------


def test_rerun_takes_the_readers_downstream_in_plan_order(tmp_path: Path) -> None:
    plan = compile_text(FLOW, tmp_path)
    chosen = rerun.choose(plan, ["produce"])
    assert chosen == rerun.Rerun(
        ("produce", "consume", "report"), (), (("consume", ("produce",)), ("report", ("consume",)))
    )
    assert [chosen.why(s) for s in chosen.jobs] == ["", "downstream of produce", "downstream of consume"]
    assert rerun.choose(plan, ["report", "consume"]).jobs == ("consume", "report")
    assert rerun.choose(plan, ["other"]) == rerun.Rerun(("other",))


def test_rerun_only_takes_the_named_stages(tmp_path: Path) -> None:
    plan = compile_text(FLOW, tmp_path)
    assert rerun.choose(plan, ["produce"], only=True) == rerun.Rerun(("produce",))
    assert rerun.choose(plan, ["report", "produce"], only=True) == rerun.Rerun(("produce", "report"))


def test_rerun_refuses_a_stage_the_plan_does_not_have(tmp_path: Path) -> None:
    plan = compile_text(FLOW, tmp_path)
    with pytest.raises(Refused, match="no stage 'produc' in the plan; did you mean 'produce'"):
        rerun.choose(plan, ["produc"])
    with pytest.raises(Refused, match="no stage 'produc'"):
        rerun.choose(plan, ["produc"], only=True)


def test_a_reader_without_a_job_is_chosen_and_left_as_it_is() -> None:
    pos = Pos("p.spec", 1, 1)

    def step(stage: str, kind: str) -> ir.Step:
        manifest = {"apiVersion": "v1", "kind": kind, "metadata": {"name": stage}}
        return ir.Step(stage, stage, ir.Gate("none"), (ir.Object(manifest, stage, stage, pos),))

    bundles = (ir.Bundle(1, "a", (step("a", "Job"),)), ir.Bundle(2, "b", (step("b", "ConfigMap"), step("c", "Job"))))
    plan = reviewed.Compiled("d", "p", "p", "p", "retain", bundles, {"b": ("a",), "c": ("b",)})
    chosen = rerun.choose(plan, ["a"])
    assert (chosen.jobs, chosen.idle, chosen.why("c")) == (("a", "c"), ("b",), "downstream of b")

    class NoJobs:  # a cluster that serves no Jobs: only what is said before any request
        def kind(self, api_version: str, kind: str) -> None:
            return None

    shown = io.StringIO()
    rerun.delete_jobs(NoJobs(), plan, chosen, 1.0, progress.Progress(shown, False))  # type: ignore[arg-type]
    said = "kc apply: stage b runs no Job, so it is applied as it is, though it is downstream of a\n"
    assert shown.getvalue() == said


def test_a_compiled_directory_carries_the_data_edges(tmp_path: Path) -> None:
    spec = tmp_path / "flow.spec"
    spec.write_text(FLOW)
    assert cli.main(["compile", str(spec), "-o", str(tmp_path / "out")]) == 0
    compiled = reviewed.load(str(tmp_path / "out"))
    assert compiled.producers == compile_text(FLOW, tmp_path).producers
    assert rerun.choose(compiled, ["consume"]).jobs == ("consume", "report")


def test_only_without_rerun_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "flow.spec"
    spec.write_text(FLOW)
    assert cli.main(["apply", str(spec), "--only", "--kubeconfig", str(tmp_path / "none")]) == 2
    assert "--only goes with --rerun STAGE" in capsys.readouterr().err


# --- kc diff: why each Job will run -----------------------------------------------------------------


def against(tmp_path: Path, now: str, before: str = FLOW) -> diff.Report:
    tmp_path.mkdir(exist_ok=True)
    spec = tmp_path / "flow.spec"
    spec.write_text(before)
    out = tmp_path / "before"
    assert cli.main(["compile", str(spec), "-o", str(out)]) == 0
    return diff.offline_diff(compile_text(now, tmp_path), str(out))


def reasons(report: diff.Report) -> dict[str, str]:
    return {e.run.stage: e.run.text for e in report.create if e.run}


def test_diff_says_a_changed_job_and_its_readers_will_run(tmp_path: Path) -> None:
    report = against(tmp_path, edited("produce"))
    assert reasons(report) == {
        "produce": "will run: changed",
        "consume": "will run: upstream produce changed",
        "report": "will run: upstream consume changed",
    }
    assert [e.ref.kind for e in report.create] == ["Job"] * 3


def test_diff_leaves_the_producer_of_a_changed_reader_alone(tmp_path: Path) -> None:
    assert reasons(against(tmp_path, edited("consume"))) == {
        "consume": "will run: changed",
        "report": "will run: upstream consume changed",
    }


def test_diff_says_a_new_stages_job_is_new_and_nothing_runs_without_a_change(tmp_path: Path) -> None:
    extra = FLOW + "  extra: {pattern: job, image: 'busybox:1.36.1', args: [x]}\n"
    assert reasons(against(tmp_path, extra)) == {"extra": "will run: new"}
    assert reasons(against(tmp_path / "same", FLOW)) == {}


def test_diff_text_and_json_carry_the_reason_on_jobs_only(tmp_path: Path) -> None:
    changed = edited("produce").replace("size: 1Gi", "size: 2Gi")
    report = against(tmp_path, changed)
    consume = next(e for e in report.create if e.run and e.run.stage == "consume")
    line = f"+ {consume.ref.text}  ({consume.ref.source})  will run: upstream produce changed"
    assert line in diff_text.text(report).splitlines()
    document = json.loads(diff_text.json_text(report))
    assert [c["run"]["reason"] for c in document["create"]] == ["changed", "upstream", "upstream"]
    assert document["create"][1]["run"] == {
        "stage": "consume",
        "reason": "upstream",
        "upstream": ["produce"],
        "text": "will run: upstream produce changed",
    }
    assert all("run" not in c for c in document["change"]), "the claim's change carries no reason"


def _job(stage: str, content: str, name: str) -> dict[str, Any]:
    meta = {"name": name, "labels": {contract.STAGE: stage}, "annotations": {contract.CONTENT: content}}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta}


def test_a_reader_renamed_by_a_producer_that_already_ran_names_every_producer() -> None:
    """An apply that stopped after the producer ran: the producer's Job is there, the reader's
    content is the same, so it runs because of what it reads, though no producer runs now."""
    pos = Pos("p.spec", 1, 1)
    producer = ir.Object(_job("produce", "c1", "p-2"), "produce", "produce", pos)
    reader = ir.Object(_job("consume", "c2", "c-2"), "consume", "consume", pos)
    there = [_job("produce", "c1", "p-2"), _job("consume", "c2", "c-1")]
    found = runs.reasons([producer, reader], {"consume": ("produce",)}, {live.key_of(reader.manifest)}, there)
    assert found == {live.key_of(reader.manifest): runs.Run("consume", "upstream", ("produce",))}
