"""The teardown plan's rules case by case, reading it back from an output directory, and the
``kc teardown`` / ``kc compile --teardown`` command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, compile_text
from kc.compiler import arguments, cli, commands, contract, diagnostics, ir, teardown
from kc.compiler.teardown import build, model
from kc.targets import kubernetes

SHOP = str(ROOT / "examples" / "shop" / "pipeline.spec")
OWN = {"kc.dev/instance": "demo"}


def summary(plan: teardown.TeardownPlan) -> list[tuple[int, str, str, str]]:
    return [(s.bundle, s.phase, s.action, s.what) for s in plan.steps]


def test_shop_order() -> None:
    program = commands.build(arguments.parser().parse_args(["compile", SHOP]))
    got = summary(teardown.plan(program))
    assert got[:9] == [
        (5, "workloads", "delete", "CronJob shop/shop-report"),
        (5, "workloads", "wait", "CronJob shop/shop-report"),
        (5, "workloads", "delete", "every Job in shop with kc.dev/stage=report"),
        (5, "workloads", "delete", "every Pod in shop with kc.dev/stage=report"),
        (4, "workloads", "delete", "Deployment shop/shop-api"),
        (4, "workloads", "wait", "Deployment shop/shop-api"),
        (4, "services", "delete", "Ingress shop/shop-api"),
        (4, "services", "delete", "Service shop/shop-api"),
        (4, "budgets", "delete", "PodDisruptionBudget shop/shop-api"),
    ]
    assert (2, "data", "delete", "PersistentVolumeClaim shop/data-shop-db-0") in got
    assert (1, "config", "delete", "Secret shop/shop-db-creds") in got  # generated: data, kept by default
    assert got[-1] == (0, "namespace", "delete", "Namespace shop")


def test_workloads_are_foreground_and_waited_for() -> None:
    program = commands.build(arguments.parser().parse_args(["compile", SHOP]))
    steps = teardown.plan(program).steps
    delete = next(s for s in steps if s.what == "Deployment shop/shop-api" and s.action == "delete")
    assert delete.argv[-2:] == ("--cascade=foreground", "--wait=false")
    wait = next(s for s in steps if s.what == "Deployment shop/shop-api" and s.action == "wait")
    assert wait.argv[:4] == ("kubectl", "wait", "--for=delete", "deployments.apps")
    assert wait.argv[-1] == f"--timeout={model.TIMEOUT}"


def test_every_delete_checks_the_ownership_labels() -> None:
    program = commands.build(arguments.parser().parse_args(["compile", SHOP]))
    for step in teardown.plan(program).steps:
        selector = step.argv[step.argv.index("-l") + 1]
        assert selector.startswith("kc.dev/instance=shop")
        if step.name is not None:
            assert step.argv[step.argv.index("--field-selector") + 1] == f"metadata.name={step.name}"
        else:
            assert "-n" in step.argv and ",kc.dev/stage=" in selector


def test_namespace_only_when_created(tmp_path: Path) -> None:
    program = compile_text(
        """\
        kc: 1
        pipeline: demo
        workspace: {create: false, namespace: shared}
        stages:
          web: service nginx:1.27.3
        """,
        tmp_path,
    )
    plan = teardown.plan(program)
    assert all(s.kind != "Namespace" for s in plan.steps)
    assert not plan.namespace_created and all(s.namespace == "shared" for s in plan.steps)


def test_namespace_without_claims_is_not_data(tmp_path: Path) -> None:
    program = compile_text("kc: 1\npipeline: demo\nstages:\n  web: service nginx:1.27.3\n", tmp_path)
    plan = teardown.plan(program)
    last = plan.steps[-1]
    assert last.kind == "Namespace" and not last.data and plan.runs(last)
    assert last.guard[:2] == ("kubectl", "get") and last.guard[-2:] == ("-o", "name")


def test_data_claim_of_the_workspace_is_data(tmp_path: Path) -> None:
    program = compile_text(
        "kc: 1\npipeline: demo\nworkspace: {data: {size: 5Gi}}\nstages:\n  web: service nginx:1.27.3\n", tmp_path
    )
    plan = teardown.plan(program)
    claim = next(s for s in plan.steps if s.kind == "PersistentVolumeClaim")
    assert (claim.bundle, claim.phase, claim.data, plan.runs(claim)) == (0, "data", True, False)
    assert plan.steps[-1].data  # the namespace holds the claim, so it is kept with it
    assert not any(plan.runs(s) for s in plan.steps if s.data)
    assert all(teardown.deleting_data(plan).runs(s) for s in plan.steps)


def test_policy_data_delete(tmp_path: Path) -> None:
    program = compile_text(
        """\
        kc: 1
        pipeline: demo
        policy: {data: delete}
        stages:
          db: {pattern: stateful, image: postgres:16.4, port: 5432, storage: 1Gi, replicas: 3}
        """,
        tmp_path,
    )
    plan = teardown.plan(program)
    assert plan.delete_data and plan.data_policy == "delete"
    names = [s.name for s in plan.runnable if s.kind == "PersistentVolumeClaim"]
    assert names == ["data-demo-db-0", "data-demo-db-1", "data-demo-db-2", None]


def obj(manifest: dict[str, Any], stage: str = "x", step: str = "x") -> ir.Object:
    return ir.Object(manifest, stage, step, diagnostics.Pos("test"))


def meta(name: str, namespace: str | None = "demo", stage: str = "x") -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "labels": {**OWN, "kc.dev/stage": stage}}
    if namespace:
        out["namespace"] = namespace
    return out


def plan_of(bundles: list[tuple[int, list[ir.Object]]]) -> teardown.TeardownPlan:
    header = contract.Header("demo", "demo", "demo", namespace_created=True, revision="r", data_policy="retain")
    return build.build(header, delete_data=False, bundles=bundles)


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": meta("widgets.example.com", None),
    "spec": {"group": "example.com", "scope": "Namespaced", "names": {"kind": "Widget", "plural": "widgets"}},
}


def test_custom_resources_before_their_definitions() -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": meta("w", None)}
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": meta("demo-read", None)}
    plan = plan_of([(1, [obj(CRD), obj(role)]), (2, [obj(widget)])])
    assert summary(plan) == [
        (2, "resources", "delete", "Widget demo/w"),  # a namespaced CRD: the CR gets the namespace
        (1, "access", "delete", "ClusterRole demo-read"),
        (1, "definitions", "delete", "CustomResourceDefinition widgets.example.com"),
    ]
    widget_step, role_step, crd_step = plan.steps
    assert widget_step.resource == "widgets.example.com"
    assert "cluster-scoped" in role_step.why and "-n" not in role_step.argv
    assert crd_step.guard == ("kubectl", "get", "widgets.example.com", "--all-namespaces", "-o", "name")
    # In one bundle, too.
    plan = plan_of([(1, [obj(CRD), obj(widget)])])
    assert [s.kind for s in plan.steps] == ["Widget", "CustomResourceDefinition"]


def test_sweeps_wait_for_the_stage_earliest_bundle() -> None:
    # One stage, a StatefulSet in bundle 1 and a Job in bundle 2 (as a pattern with two steps
    # makes): the sweep of the stage's Pods must not run before the StatefulSet is gone.
    template = {"metadata": {"labels": {**OWN, "kc.dev/stage": "db"}}, "spec": {}}
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": meta("demo-db", stage="db"),
        "spec": {
            "replicas": 2,
            "template": template,
            "volumeClaimTemplates": [{"metadata": {"name": "d", **template["metadata"]}}],
        },
    }
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta("demo-db-init-1", stage="db"),
        "spec": {"template": template},
    }
    plan = plan_of([(1, [obj(sts, "db", "db")]), (2, [obj(job, "db", "db-init")])])
    assert summary(plan) == [
        (2, "workloads", "delete", "Job demo/demo-db-init-1"),
        (2, "workloads", "wait", "Job demo/demo-db-init-1"),
        (2, "workloads", "delete", "every Job in demo with kc.dev/stage=db"),
        (1, "workloads", "delete", "StatefulSet demo/demo-db"),
        (1, "workloads", "wait", "StatefulSet demo/demo-db"),
        (1, "workloads", "delete", "every Pod in demo with kc.dev/stage=db"),
        (1, "data", "delete", "PersistentVolumeClaim demo/d-demo-db-0"),
        (1, "data", "delete", "PersistentVolumeClaim demo/d-demo-db-1"),
        (1, "data", "delete", "every PersistentVolumeClaim in demo with kc.dev/stage=db"),
    ]


def test_no_sweep_without_the_ownership_labels_on_the_template() -> None:
    template = {"metadata": {"labels": {"app": "mine"}}, "spec": {}}
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta("demo-j-1"), "spec": {"template": template}}
    plan = plan_of([(1, [obj(job)])])
    assert [s.name for s in plan.steps if s.kind == "Pod"] == []


def compile_to(tmp_path: Path, *flags: str) -> Path:
    out = tmp_path / "out"
    assert cli.main(["compile", SHOP, "-o", str(out), *flags]) == 0
    return out


def test_load_reads_the_plan_back(tmp_path: Path) -> None:
    out = compile_to(tmp_path)
    program = commands.build(arguments.parser().parse_args(["compile", SHOP]))
    assert teardown.load(str(out)) == teardown.plan(program)
    assert teardown.load(str(out), delete_data=True) == teardown.plan(program, True)
    # An output directory without kc/teardown.yaml (an older kc): rebuilt from kc/plan.json.
    (out / "kc" / "teardown.yaml").unlink()
    (out / "kc" / "teardown.sh").unlink()
    assert teardown.load(str(out)) == teardown.plan(program)


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["steps"][0]["argv"].__setitem__(2, "namespaces"),
        lambda d: d["steps"][0]["selector"].pop("kc.dev/instance"),
        lambda d: d.__setitem__("format", 2),
        lambda d: d["steps"][3].pop("why"),
    ],
)
def test_load_refuses_an_edited_plan(tmp_path: Path, edit: Any) -> None:
    out = compile_to(tmp_path)
    path = out / "kc" / "teardown.yaml"
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(diagnostics.CompileError) as caught:
        teardown.load(str(out))
    assert [d.code for d in caught.value.diagnostics] == ["KC603"]


def test_load_refuses_a_foreign_directory(tmp_path: Path) -> None:
    with pytest.raises(diagnostics.CompileError) as caught:
        teardown.load(str(tmp_path))
    assert [d.code for d in caught.value.diagnostics] == ["KC603"]


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_teardown_without_dry_run_needs_confirmation(capsys: pytest.CaptureFixture[str]) -> None:
    # Running the plan is tests/test_cluster.py's; without a terminal or --yes it never starts.
    code, out, err = run(["teardown", SHOP], capsys)
    assert code == 2 and out == "" and "pass --yes" in err


def test_dry_run_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["teardown", "--dry-run", SHOP], capsys)
    assert (code, err) == (0, "")
    assert out.startswith("teardown of shop: instance shop, namespace shop")
    assert "   1. delete CronJob shop/shop-report, foreground\n" in out
    assert "  17. keep PersistentVolumeClaim shop/data-shop-db-0\n" in out
    assert "waits: does not wait here; step 2 waits" in out
    code, out, _ = run(["teardown", "--dry-run", "--delete-data", SHOP], capsys)
    assert "  17. delete PersistentVolumeClaim shop/data-shop-db-0\n" in out and "keep" not in out


def test_dry_run_json_and_profiles(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["teardown", "--dry-run", SHOP, "-o", "json", "--profile", "prod"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["namespace"] == "shop-prod" and data["steps"][0]["number"] == 1
    program = commands.build(arguments.parser().parse_args(["compile", SHOP, "--profile", "prod"]))
    assert data == model.as_dict(teardown.plan(program))


def test_dry_run_of_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = compile_to(tmp_path, "--instance", "shop-b")
    code, from_dir, _ = run(["teardown", "--dry-run", str(out)], capsys)
    assert code == 0
    code, from_spec, _ = run(["teardown", "--dry-run", SHOP, "--instance", "shop-b"], capsys)
    assert from_dir == from_spec
    code, _, err = run(["teardown", "--dry-run", str(out), "--instance", "x"], capsys)
    assert code == 2 and "not to DIR" in err
    code, _, err = run(["teardown", "--dry-run", str(tmp_path / "out" / "kc")], capsys)
    assert code == 2 and "[KC603]" in err


def test_compile_teardown_prints_the_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["compile", SHOP, "--teardown"], capsys)
    assert (code, err) == (0, "")
    program = commands.build(arguments.parser().parse_args(["compile", SHOP]))
    assert out == dict(kubernetes.files(program))[contract.TEARDOWN]
    code, _, err = run(["compile", SHOP, "--teardown", "-o", str(tmp_path / "out")], capsys)
    assert code == 2 and "--teardown" in err and not (tmp_path / "out").exists()


def test_compile_writes_the_teardown(tmp_path: Path) -> None:
    out = compile_to(tmp_path)
    assert (out / "kc" / "teardown.yaml").is_file() and (out / "kc" / "teardown.sh").is_file()
    assert (out / "kc" / "teardown.sh").read_text().startswith("#!/usr/bin/env bash\n")
