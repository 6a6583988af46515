"""Single passes run on an intermediate form built by hand: no spec file, no pattern folder, no
front end. Each pass is a pure function, so what it is given is all it sees."""

from __future__ import annotations

import builtins
import glob
import os
from typing import Any

import pytest
from conftest import ROOT
from kc.compiler import diagnostics, frontend, ir, object_names, passes, source
from kc.compiler.diagnostics import Pos
from kc.compiler.passes import dependencies, network, ordering, references, seal
from kc.compiler.patterns import registry
from kc.schemas import check, record
from kc.schemas import spec as spec_schema

SPEC = "kc: 1\npipeline: shop\nstages:\n  db: {pattern: postgres}\n  api: {pattern: service, image: a:1}\n"


def draft(text: str = SPEC, **fields: Any) -> ir.Draft:
    doc = source.load_bytes("pipeline.spec", text.encode())
    spec = check.validate(spec_schema.Spec, doc.data)
    raw = dict(doc.data["stages"])
    # The patterns' manifests, which dependencies reads for inputs and outputs; loaded here,
    # as the front end would.
    folders = registry.builtins()
    library = registry.Library(folders, {n: registry.load(folders[n]) for n in ("postgres", "service", "job")})
    return record.replace(ir.Draft(doc, ir.Options(), spec, spec.policy, library, raw), **fields)


def obj(kind: str, name: str, stage: str, **spec: Any) -> ir.Object:
    manifest = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": "shop"}, "spec": spec}
    return ir.Object(manifest, stage, stage, Pos("pipeline.spec", 1, 1))


def stage(name: str, pattern: str, facts: dict[str, str] | None = None) -> ir.Stage:
    return ir.Stage(name, pattern, {"pattern": pattern}, Pos("pipeline.spec", 1, 1), facts=facts or {})


def step(id: str, *objects: ir.Object, deps: tuple[ir.Dep, ...] = ()) -> ir.Step:
    return ir.Step(id, id if id != "workspace" else "", ir.Gate("none"), objects, deps)


def test_dependencies_makes_a_reference_an_edge_and_refuses_an_unknown_stage() -> None:
    text = SPEC.replace("{pattern: service, image: a:1}", "{pattern: job, image: a:1, env: {DB: '${db.host}'}}")
    given = draft(
        text,
        stages=(stage("db", "postgres", {"host": "shop-db.shop.svc"}), stage("api", "job")),
        steps=(step("workspace"), step("db"), step("api")),
    )
    out = dependencies.dependencies(given)
    (dep,) = out.stages[1].deps
    assert (dep.target, dep.kind, dep.why) == ("db", "reference", "reference ${db.host}")
    assert out.steps[2].deps == (dep,) and out.steps[1].deps == ()
    assert (out.stages[0].reads, out.stages[1].reads) == ((), (("db", "host"),))  # for the network pass
    assert given.stages[1].deps == ()  # what the pass was given stays as it was

    broken = draft(text.replace("${db.host}", "${dbx.host}"), stages=given.stages, steps=given.steps)
    with pytest.raises(diagnostics.CompileError) as caught:
        dependencies.dependencies(broken)
    assert [(d.code, d.hint) for d in caught.value.diagnostics] == [("KC301", "did you mean 'db'?")]


def test_references_resolves_facts_and_the_pipeline_and_refuses_what_it_cannot() -> None:
    given = draft(
        stages=(stage("db", "postgres", {"host": "shop-db.shop.svc", "port": "5432"}),),
        steps=(step("db", obj("ConfigMap", "c", "db", url="${db.host}:${db.port}/${pipeline.namespace} $${x}")),),
    )
    (out,) = references.references(given).objects
    assert out.manifest["spec"]["url"] == "shop-db.shop.svc:5432/shop ${x}"
    missing = record.replace(given, steps=(step("db", obj("ConfigMap", "c", "db", url="${db.url}")),))
    with pytest.raises(diagnostics.CompileError) as caught:
        references.references(missing)
    assert caught.value.diagnostics[0].message == "${db.url} in stage 'db' cannot be resolved"


def test_seal_names_a_job_by_its_content_and_leaves_other_kinds() -> None:
    job = obj("Job", "shop-migrate", "migrate", template={"x": 1})
    given = draft(steps=(step("migrate", job, obj("ConfigMap", "shop-migrate", "migrate")),))
    sealed, config = seal.seal(given).objects
    assert sealed.name.startswith("shop-migrate-") and sealed.name != job.name
    assert config.name == "shop-migrate"
    changed = obj("Job", "shop-migrate", "migrate", template={"x": 2})
    assert seal.seal(draft(steps=(step("migrate", changed),))).objects[0].name != sealed.name
    assert seal.seal(draft(steps=(step("migrate", job),))).objects[0].name == sealed.name


def _reading(name: str, *producers: str) -> ir.Stage:
    pos = Pos("pipeline.spec", 1, 1)
    return record.replace(stage(name, "job"), deps=tuple(ir.Dep(p, pos, f"input from {p}", "input") for p in producers))


def test_seal_chains_a_readers_name_through_a_stage_without_jobs() -> None:
    """c reads b, which runs no Job and reads a: a's edit reaches c's name through b."""

    def sealed(a_content: int) -> dict[str, str]:
        given = draft(
            stages=(_reading("a"), _reading("b", "a"), _reading("c", "b")),
            steps=(
                step("a", obj("Job", "shop-a", "a", template={"x": a_content})),
                step("b", obj("ConfigMap", "shop-b", "b")),
                step("c", obj("Job", "shop-c", "c", template={"x": 1})),
            ),
        )
        return {o.stage: o.name for o in seal.seal(given).objects}

    first, edited = sealed(1), sealed(2)
    assert first["a"] != edited["a"] and first["c"] != edited["c"] and first["b"] == edited["b"] == "shop-b"
    assert sealed(1) == first


def test_seal_leaves_a_cycle_of_data_edges_to_ordering() -> None:
    given = draft(
        stages=(_reading("a", "b"), _reading("b", "a")),
        steps=(step("a", obj("Job", "shop-a", "a")), step("b", obj("Job", "shop-b", "b"))),
    )
    assert all(o.name.startswith(f"shop-{o.stage}-") for o in seal.seal(given).objects)


def test_network_lets_the_callers_of_a_service_reach_it_unless_open() -> None:
    text = SPEC.replace("image: a:1}", "image: a:1, env: {DB: '${db.url}'}}")
    api = record.replace(stage("api", "service"), reads=(("db", "url"),))  # as dependencies finds it
    pod = {"template": {"spec": {"containers": [{"name": "c", "ports": [{"name": "pg", "containerPort": 5432}]}]}}}
    fields = {
        "stages": (stage("db", "postgres", {"host": "h", "port": "5", "url": "http://h:5"}), api),
        "steps": (
            step("workspace"),
            step(
                "db",
                obj("Service", "shop-db", "db", ports=[{"port": 5, "targetPort": "pg"}]),
                obj("StatefulSet", "shop-db", "db", **pod),
            ),
            step("api", obj("Deployment", "shop-api", "api", template={"spec": {"containers": [{"name": "c"}]}})),
        ),
    }
    opened = network.network(draft(text + "workspace: {network: open}\n", **fields))
    assert not [o for o in opened.objects if o.kind == "NetworkPolicy"]
    isolated = draft(text, **fields)
    policies = {o.name: o for o in network.network(isolated).objects if o.kind == "NetworkPolicy"}
    assert all(p.step == "workspace" for p in policies.values())
    ingress = policies[object_names.object_name("shop", "db", "ingress")].manifest["spec"]["ingress"]
    assert [p["podSelector"]["matchLabels"]["kc.dev/stage"] for p in ingress[0]["from"]] == ["db", "api"]
    (rule,) = policies[object_names.object_name("shop", "api", "egress")].manifest["spec"]["egress"]
    # The Service's named target port, as the pods number it: what a policy sees after the Service.
    assert rule["ports"] == [{"port": 5432, "protocol": "TCP"}]
    assert rule["to"][0]["podSelector"]["matchLabels"]["kc.dev/stage"] == "db"


def test_ordering_lays_steps_into_bundles_by_their_dependencies() -> None:
    pos = Pos("pipeline.spec", 1, 1)
    given = draft(
        stages=(stage("db", "postgres"), stage("api", "service")),
        steps=(
            step("workspace"),
            step("api", obj("Service", "api", "api"), deps=(ir.Dep("db", pos, "after", "after"),)),
            step("db", obj("Service", "db", "db")),
        ),
    )
    program = ordering.ordering(given)
    assert [(b.index, b.name, [s.id for s in b.steps]) for b in program.bundles] == [
        (0, "workspace", ["workspace"]),
        (1, "db", ["db"]),
        (2, "api", ["api"]),
    ]
    assert program.steps == tuple(s for b in program.bundles for s in b.steps)
    cycle = record.replace(given, steps=(*given.steps[:2], step("db", deps=(ir.Dep("api", pos, "after", "after"),))))
    with pytest.raises(diagnostics.CompileError):
        ordering.ordering(cycle)


@pytest.mark.parametrize("spec", sorted(str(p) for p in (ROOT / "examples").glob("*/pipeline.spec")))
def test_the_passes_read_nothing_from_disk(spec: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the front end's reads answered from a first compile, a second compile gives the same
    plan while opening, listing or globbing anything fails."""
    recorded: dict[str, Any] = {}

    def once(name: str, real: Any) -> Any:
        return lambda *args: recorded[name] if name in recorded else recorded.setdefault(name, real(*args))

    monkeypatch.setattr(frontend, "read", once("read", frontend.read))
    monkeypatch.setattr(frontend, "files", once("files", frontend.files))
    doc = source.load_file(spec)
    first = passes.run(doc)

    def no_io(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a pass read from disk: {args}")

    for module, name in ((builtins, "open"), (os, "listdir"), (os, "scandir"), (glob, "glob"), (registry, "load")):
        monkeypatch.setattr(module, name, no_io)
    assert passes.run(doc) == first
