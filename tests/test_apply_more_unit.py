"""Without a cluster: a compiled DIR read back and its digests checked, --rerun's choice of stages,
the Job a cron stage's --rerun makes, and when replicas are handed over."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT
from kc.cluster import handover, rerun, reviewed
from kc.cluster.errors import Refused
from kc.compiler import cli, passes, source
from kc.compiler import ir as kc_ir

EXAMPLES = sorted(p.parent.name for p in (ROOT / "examples").glob("*/pipeline.spec"))


@pytest.mark.parametrize("example", EXAMPLES)
@pytest.mark.parametrize("ordering", [[], ["--ordering-annotations", "kapp"]])
def test_a_compiled_directory_reads_back_as_compiled(example: str, ordering: list[str], tmp_path: Path) -> None:
    spec = ROOT / "examples" / example / "pipeline.spec"
    assert cli.main(["compile", str(spec), "-o", str(tmp_path), *ordering]) == 0
    compiled = reviewed.load(str(tmp_path))  # every digest matches
    program = passes.run(source.load_file(str(spec)), kc_ir.Options())
    assert compiled.instance == program.instance and compiled.namespace == program.namespace
    assert [(b.index, [s.id for s in b.steps]) for b in compiled.bundles] == [
        (b.index, [s.id for s in b.steps]) for b in program.bundles
    ]
    names = [(o.kind, o.name) for b in compiled.bundles for o in b.objects]
    assert names == [(o.kind, o.name) for b in program.bundles for o in b.objects]
    assert [s.gate for b in compiled.bundles for s in b.steps] == [s.gate for b in program.bundles for s in b.steps]


def test_a_compiled_directory_keeps_each_steps_pending_timeout(tmp_path: Path) -> None:
    """kc apply DIR waits as kc apply SPEC does: kc/plan.json records the pending-timeouts a
    stage sets, and only those (no entry is kc's default)."""
    spec = tmp_path / "p.spec"
    spec.write_text(
        "kc: 1\npipeline: p\nstages:\n"
        "  migrate: {pattern: job, image: 'busybox:1.36.1', pending-timeout: 20s}\n"
        "  api: {pattern: service, image: 'nginx:1.27.3', pending-timeout: 10m}\n"
        "  web: {pattern: service, image: 'nginx:1.27.3'}\n"
    )
    out = tmp_path / "out"
    assert cli.main(["compile", str(spec), "-o", str(out)]) == 0
    compiled = reviewed.load(str(out))
    found = {s.id: s.gate.pending_timeout for b in compiled.bundles for s in b.steps}
    assert found == {"workspace": None, "migrate": 20, "api": 600, "web": None}
    assert (out / "kc" / "plan.json").read_text().count('"pending_timeout"') == 2


def test_an_edited_bundle_file_is_refused_before_connecting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compile", str(ROOT / "examples" / "shop" / "pipeline.spec"), "-o", str(tmp_path)]) == 0
    bundle = next(tmp_path.glob("*-api.yaml"))
    bundle.write_text(bundle.read_text().replace("replicas: 2", "replicas: 3", 1))
    capsys.readouterr()
    for command, *more in (("apply",), ("diff",), ("status",), ("logs", "api")):
        assert cli.main([command, str(tmp_path), *more, "--kubeconfig", str(tmp_path / "none")]) == 2
        err = capsys.readouterr().err
        assert f"kc {command}: {bundle}: Deployment shop/shop-api was edited since kc compile wrote it" in err
    assert cli.main(["apply", str(tmp_path), "--profile", "prod"]) == 2
    assert "apply to a spec, not to DIR" in capsys.readouterr().err


def _plan(tmp_path: Path) -> kc_ir.Program:
    spec = tmp_path / "p.spec"
    spec.write_text(
        "kc: 1\npipeline: p\nstages:\n"
        "  migrate: {pattern: job, image: 'busybox:1.36.1'}\n"
        "  nightly: {pattern: cron, schedule: '0 3 * * *', image: 'busybox:1.36.1'}\n"
        "  api: {pattern: service, image: 'nginx:1.27.3', port: 8080}\n"
    )
    return passes.run(source.load_file(str(spec)), kc_ir.Options())


def test_rerun_chooses_job_and_cron_stages(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    assert rerun.choose(plan, ["migrate", "nightly", "migrate"]) == rerun.Rerun(("migrate",), ("nightly",))
    with pytest.raises(Refused, match="did you mean 'migrate'"):
        rerun.choose(plan, ["migrat"])
    with pytest.raises(Refused, match=r"runs no Job or CronJob.*stages that can run again: migrate, nightly"):
        rerun.choose(plan, ["api"])


def test_a_cron_stage_job_is_named_owned_and_labelled() -> None:
    cronjob = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "x" * 52, "namespace": "ns", "uid": "u1", "labels": {"kc.dev/instance": "ns"}},
        "spec": {"jobTemplate": {"metadata": {"labels": {"a": "b"}}, "spec": {"backoffLimit": 1}}},
    }
    job = rerun.job_from(cronjob, "abc1234")
    assert len(job["metadata"]["name"]) <= 63 and job["metadata"]["name"].endswith("-run-abc1234")
    assert job["metadata"]["labels"] == {"a": "b", "kc.dev/instance": "ns"}
    assert job["metadata"]["ownerReferences"][0]["uid"] == "u1" and job["spec"] == {"backoffLimit": 1}
    assert "kc.dev/source" not in job["metadata"]["annotations"]


def test_replicas_are_handed_over_only_from_kc() -> None:
    compiled = {"kind": "Deployment", "spec": {"template": {}}}

    def live(manager: str) -> dict[str, object]:
        fields = {"f:spec": {"f:replicas": {}, "f:template": {}}}
        return {
            "metadata": {"managedFields": [{"manager": manager, "operation": "Apply", "fieldsV1": fields}]},
            "spec": {"replicas": 4},
        }

    assert handover.needed(compiled, live("kc")) == 4
    assert handover.needed(compiled, live("kube-controller-manager")) is None
    assert handover.needed({"kind": "Deployment", "spec": {"replicas": 2}}, live("kc")) is None
    assert handover.needed(compiled, None) is None
