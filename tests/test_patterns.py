"""The built-in patterns of the pattern library: the objects each produces, the fields that
matter, their steps and gates, and their errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import codes, compile_text, errors_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kc.compiler import ir, pods
from kc.compiler.patterns import filters


def objects(program: ir.Program, kind: str | None = None) -> list[dict[str, Any]]:
    return [o.manifest for b in program.bundles for o in b.objects if kind in (None, o.kind)]


def one(program: ir.Program, kind: str) -> dict[str, Any]:
    (found,) = objects(program, kind)
    return found


def main_container(manifest: dict[str, Any]) -> dict[str, Any]:
    return next(pods.containers(next(pods.specs(manifest))))


def steps(program: ir.Program) -> list[tuple[str, str, list[str]]]:
    """Each step after the workspace: its id, gate and kinds in the order its templates wrote them."""
    return [(s.id, s.gate.kind, [o.kind for o in s.objects]) for b in program.bundles[1:] for s in b.steps]


def spec(stages: str, top: str = "") -> str:
    return f"kc: 1\npipeline: crdb\n{top}stages:\n{stages}"


# --- cockroachdb -------------------------------------------------------------------------------


def test_cockroachdb_steps_gates_and_objects(tmp_path: Path) -> None:
    program = compile_text(spec("  db: {pattern: cockroachdb}\n"), tmp_path)
    assert steps(program) == [
        ("db", "pods-running", ["Service", "Service", "PodDisruptionBudget", "StatefulSet"]),
        ("db-init", "job-complete", ["Job"]),
    ]
    assert [b.filename for b in program.bundles] == ["00-workspace.yaml", "01-db.yaml", "02-db-init.yaml"]
    public, headless = objects(program, "Service")
    assert public["metadata"]["name"] == "crdb-db-public" and public["spec"]["type"] == "ClusterIP"
    assert headless["metadata"]["name"] == "crdb-db"
    assert headless["spec"]["clusterIP"] == "None" and headless["spec"]["publishNotReadyAddresses"] is True
    for service in (public, headless):
        assert [(p["name"], p["port"]) for p in service["spec"]["ports"]] == [("grpc", 26257), ("http", 8080)]
    assert one(program, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1


def test_cockroachdb_statefulset(tmp_path: Path) -> None:
    program = compile_text(spec("  db: {pattern: cockroachdb, storage: 50Gi, storage-class: fast}\n"), tmp_path)
    sts = one(program, "StatefulSet")
    assert sts["spec"]["podManagementPolicy"] == "Parallel" and sts["spec"]["serviceName"] == "crdb-db"
    affinity = sts["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    (term,) = affinity["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "datadir"
    assert claim["spec"]["resources"]["requests"]["storage"] == "50Gi" and claim["spec"]["storageClassName"] == "fast"
    c = main_container(sts)
    assert {"name": "datadir", "mountPath": "/cockroach/cockroach-data"} in c["volumeMounts"]
    assert c["readinessProbe"]["httpGet"] == {"path": "/health?ready=1", "port": "http", "scheme": "HTTP"}
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    assert [p["name"] for p in c["ports"]] == ["grpc", "http"]
    assert c["command"] == ["/cockroach/cockroach"] and c["args"][:3] == ["start", "--logtostderr", "--insecure"]
    assert "--advertise-addr=$(POD_NAME).crdb-db.crdb.svc" in c["args"]
    assert {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in c["env"]


def test_cockroachdb_join_list_follows_replicas(tmp_path: Path) -> None:
    program = compile_text(spec("  db: {pattern: cockroachdb, replicas: 5}\n"), tmp_path)
    sts = one(program, "StatefulSet")
    assert sts["spec"]["replicas"] == 5
    (join,) = [a for a in main_container(sts)["args"] if a.startswith("--join=")]
    assert join == "--join=" + ",".join(f"crdb-db-{i}.crdb-db.crdb.svc" for i in range(5))


def test_cockroachdb_memory_follows_the_limit(tmp_path: Path) -> None:
    program = compile_text(
        spec("  db: {pattern: cockroachdb, resources: {cpu: 2, memory: 8Gi}, cache: 30}\n"), tmp_path
    )
    args = main_container(one(program, "StatefulSet"))["args"]
    assert "--cache=2457MiB" in args and "--max-sql-memory=2048MiB" in args
    default = compile_text(spec("  db: {pattern: cockroachdb}\n"), tmp_path)  # size large: 2Gi limit
    assert "--cache=512MiB" in main_container(one(default, "StatefulSet"))["args"]


def test_cockroachdb_init_job(tmp_path: Path) -> None:
    program = compile_text(spec("  db: {pattern: cockroachdb}\n"), tmp_path)
    job = one(program, "Job")
    assert job["metadata"]["name"].startswith("crdb-db-init-")
    script = main_container(job)["command"][-1]
    assert "init --insecure --host=crdb-db-0.crdb-db.crdb.svc:26257" in script
    assert "already been initialized" in script and "exit 0" in script
    # The job's pod is in the same stage, so it must not be one of the Services' endpoints.
    pod_labels = job["spec"]["template"]["metadata"]["labels"]
    for service in objects(program, "Service"):
        assert not service["spec"]["selector"].items() <= pod_labels.items()
    sts = one(program, "StatefulSet")
    assert sts["spec"]["selector"]["matchLabels"].items() <= sts["spec"]["template"]["metadata"]["labels"].items()


def test_cockroachdb_references(tmp_path: Path) -> None:
    text = spec(
        '  db: {pattern: cockroachdb}\n  app: {pattern: job, image: "a/b:1.0.0", env: {DB: "${db.host}:${db.port}"}}\n'
    )
    program = compile_text(text, tmp_path)
    app = next(j for j in objects(program, "Job") if j["metadata"]["name"].startswith("crdb-app-"))
    assert main_container(app)["env"] == [{"name": "DB", "value": "crdb-db-public.crdb.svc:26257"}]
    assert [b.name for b in program.bundles] == ["workspace", "db", "db-init", "app"]


def test_cockroachdb_insecure_warns_secure_does_not(tmp_path: Path) -> None:
    insecure = compile_text(spec("  db: {pattern: cockroachdb}\n"), tmp_path)
    assert [(w.code, w.severity, w.pos.line) for w in insecure.warnings] == [("KC408", "warning", 4)]
    secure = compile_text(spec("  db: {pattern: cockroachdb, certs: crdb-certs}\n"), tmp_path)
    assert secure.warnings == ()
    sts = one(secure, "StatefulSet")
    c = main_container(sts)
    assert "--certs-dir=/cockroach/cockroach-certs" in c["args"] and "--insecure" not in c["args"]
    assert c["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    volume = next(v for v in next(pods.specs(sts))["volumes"] if v["name"] == "certs")
    assert volume["secret"]["secretName"] == "crdb-certs" and volume["secret"]["defaultMode"] == 0o400
    assert [i["key"] for i in volume["secret"]["items"]] == ["ca.crt", "node.crt", "node.key"]
    job = one(secure, "Job")
    assert "--certs-dir=/cockroach/cockroach-certs" in main_container(job)["command"][-1]
    (job_volume,) = [v for v in next(pods.specs(job))["volumes"] if v["name"] == "certs"]
    assert [i["key"] for i in job_volume["secret"]["items"]] == ["ca.crt", "client.root.crt", "client.root.key"]


def test_cockroachdb_writes_only_to_its_volumes(tmp_path: Path) -> None:
    program = compile_text(spec("  db: {pattern: cockroachdb}\n"), tmp_path)
    c = main_container(one(program, "StatefulSet"))
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert {m["mountPath"] for m in c["volumeMounts"]} == {"/cockroach/cockroach-data", "/tmp"}


def test_cockroachdb_takes_no_port_and_respects_policy(tmp_path: Path) -> None:
    assert codes(errors_of(spec("  db: {pattern: cockroachdb, health: /x}\n"), tmp_path)) == ["KC101"]
    found = errors_of(spec("  db: {pattern: cockroachdb, replicas: 7}\n", "policy: {max-replicas: 5}\n"), tmp_path)
    assert codes(found) == ["KC401"] and found[0].pos.line == 5


def test_defaults_skip_fields_a_pattern_omits(tmp_path: Path) -> None:
    program = compile_text(spec("  db: {pattern: cockroachdb}\n", "defaults: {health: /healthz}\n"), tmp_path)
    assert main_container(one(program, "StatefulSet"))["readinessProbe"]["httpGet"]["path"] == "/health?ready=1"


# --- postgres and redis ------------------------------------------------------------------------


def test_postgres(tmp_path: Path) -> None:
    text = spec("  db: {pattern: postgres, password-secret: pg-creds, user: shop, storage: 5Gi}\n")
    program = compile_text(text, tmp_path)
    assert steps(program) == [("db", "ready", ["StatefulSet", "Service"])]
    sts = one(program, "StatefulSet")
    assert sts["spec"]["replicas"] == 1
    c = main_container(sts)
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres/password" and env["POSTGRES_DB"] == "shop"
    assert "POSTGRES_PASSWORD" not in env
    assert env["PGDATA"].startswith("/var/lib/postgresql/data/")
    assert c["readinessProbe"]["exec"]["command"][0] == "pg_isready"
    volumes = {v["name"]: v for v in next(pods.specs(sts))["volumes"]}
    assert volumes["password"]["secret"]["secretName"] == "pg-creds"
    assert "emptyDir" in volumes["run"]
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert one(program, "Service")["spec"]["ports"][0]["port"] == 5432


def test_redis_cache_and_persistent(tmp_path: Path) -> None:
    cache = compile_text(spec("  cache: {pattern: redis}\n"), tmp_path)
    assert steps(cache) == [("cache", "ready", ["Deployment", "Service"])]
    args = main_container(one(cache, "Deployment"))["args"]
    assert args[args.index("--maxmemory") + 1] == "192mb"  # 75% of the small size's 256Mi limit
    assert args[args.index("--maxmemory-policy") + 1] == "allkeys-lru"
    durable = compile_text(
        spec("  cache: {pattern: redis, mode: persistent, storage: 2Gi, password-secret: r}\n"), tmp_path
    )
    assert steps(durable) == [("cache", "ready", ["StatefulSet", "Service"])]
    sts = one(durable, "StatefulSet")
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "2Gi"
    c = main_container(sts)
    assert c["args"][c["args"].index("--appendonly") + 1] == "yes"
    assert c["command"][:2] == ["/bin/sh", "-c"] and "requirepass" in c["command"][2]
    assert "r" not in [e.get("value") for e in c.get("env", [])]


# --- task --------------------------------------------------------------------------------------

TASKS = """\
kc: 1
pipeline: lines
workspace: {data: {size: 5Gi}}
stages:
  count:
    pattern: task
    image: acme/count:1.0.0
    inputs: {unique: dedupe.lines}
  dedupe:
    pattern: task
    image: acme/dedupe:1.0.0
    inputs: {raw: ingest.records, extra: ingest.extra}
    outputs: [lines]
  ingest:
    pattern: task
    image: acme/ingest:1.0.0
    outputs: [records, extra]
"""


def test_task_mounts_and_order(tmp_path: Path) -> None:
    program = compile_text(TASKS, tmp_path)
    assert [b.name for b in program.bundles] == ["workspace", "ingest", "dedupe", "count"]
    jobs = {j["metadata"]["name"].rsplit("-", 1)[0]: j for j in objects(program, "Job")}
    mounts = [m for m in main_container(jobs["lines-dedupe"])["volumeMounts"] if m["name"] == "data"]
    assert mounts == [
        {"name": "data", "mountPath": "/data/out/lines", "subPath": "dedupe/lines"},
        {"name": "data", "mountPath": "/data/in/extra", "subPath": "ingest/extra", "readOnly": True},
        {"name": "data", "mountPath": "/data/in/raw", "subPath": "ingest/records", "readOnly": True},
    ]
    volume = next(v for v in next(pods.specs(jobs["lines-dedupe"]))["volumes"] if v["name"] == "data")
    assert volume == {"name": "data", "persistentVolumeClaim": {"claimName": "lines-data"}}
    assert one(program, "PersistentVolumeClaim")["metadata"]["name"] == "lines-data"
    dedupe = next(s for s in program.stages if s.name == "dedupe")
    assert [(d.target, d.why, d.pos.line) for d in dedupe.deps] == [
        ("ingest", "input raw from ingest.records", 12),
        ("ingest", "input extra from ingest.extra", 12),
    ]


def test_task_without_wires_needs_no_claim(tmp_path: Path) -> None:
    program = compile_text("kc: 1\npipeline: p\nstages:\n  once: {pattern: task, image: a/b:1.0.0}\n", tmp_path)
    volumes = next(pods.specs(one(program, "Job")))["volumes"]
    assert [v["name"] for v in volumes] == ["tmp"]


@pytest.mark.parametrize(
    "inputs,code,hint",
    [
        ("{raw: ingest.record}", "KC302", "did you mean 'records'?"),
        ("{raw: ingst.records}", "KC301", "did you mean 'ingest'?"),
        ("{raw: later.out}", "KC301", ""),
        ("{raw: plain.out}", "KC302", "'plain' declares no outputs"),
        ("{raw: reader.out}", "KC203", ""),
    ],
)
def test_task_wire_errors(tmp_path: Path, inputs: str, code: str, hint: str) -> None:
    text = f"""\
kc: 1
pipeline: lines
workspace: {{data: {{size: 5Gi}}}}
stages:
  ingest: {{pattern: task, image: a/i:1.0.0, outputs: [records]}}
  plain: {{pattern: task, image: a/p:1.0.0}}
  later: {{pattern: task, image: a/l:1.0.0, outputs: [out], enabled: false}}
  reader:
    pattern: task
    image: a/r:1.0.0
    outputs: [out]
    inputs: {inputs}
"""
    (found,) = errors_of(text, tmp_path)
    assert (found.code, found.pos.line, found.hint) == (code, 12, hint)


def test_task_without_data_claim(tmp_path: Path) -> None:
    text = "kc: 1\npipeline: p\nstages:\n  a: {pattern: task, image: a/b:1.0.0, outputs: [x]}\n"
    (found,) = errors_of(text, tmp_path)
    assert (found.code, found.pos.line) == ("KC303", 4) and "workspace" in found.hint
    ref = "kc: 1\npipeline: p\nstages:\n  a: {pattern: job, image: a/b:1.0.0, args: ['${pipeline.data}']}\n"
    (found,) = errors_of(ref, tmp_path)
    assert (found.code, found.pos.line, found.pos.col) == ("KC303", 4, 47)


def test_pipeline_data_reference(tmp_path: Path) -> None:
    text = "kc: 1\npipeline: p\nworkspace: {data: {}}\nstages:\n  a: {pattern: job, image: a/b:1.0.0, args: [x]}\n"
    program = compile_text(text.replace("[x]", "['${pipeline.data}']"), tmp_path)
    assert main_container(one(program, "Job"))["args"] == ["p-data"]


# --- manifests ---------------------------------------------------------------------------------

CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  scope: Cluster
  names: {kind: Gadget, plural: gadgets}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
"""
RESOURCES = """\
apiVersion: example.com/v1
kind: Widget
metadata: {name: blue}
---
apiVersion: example.com/v1
kind: Gadget
metadata: {name: big}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: widget-reader}
rules: [{apiGroups: [example.com], resources: [widgets], verbs: [get]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: shim}
spec:
  replicas: 3
  selector: {matchLabels: {app.kubernetes.io/name: shim}}
  template:
    metadata: {labels: {app.kubernetes.io/name: shim}}
    spec: {containers: [{name: shim, image: "acme/shim:1.0.0", args: ["echo ${HOME}"]}]}
"""
MANIFESTS = "kc: 1\npipeline: ext\nstages:\n  ext:\n    pattern: manifests\n    files: [crds.yaml, more/*.yaml]\n"


def write_manifests(tmp_path: Path, crds: str = CRD, resources: str = RESOURCES) -> None:
    (tmp_path / "crds.yaml").write_text(crds)
    (tmp_path / "more").mkdir(exist_ok=True)
    (tmp_path / "more" / "resources.yaml").write_text(resources)


def test_manifests_crds_first(tmp_path: Path) -> None:
    write_manifests(tmp_path)
    program = compile_text(MANIFESTS, tmp_path)
    assert steps(program) == [
        ("ext", "established", ["CustomResourceDefinition", "CustomResourceDefinition"]),
        ("ext-resources", "none", ["Widget", "Gadget", "ClusterRole", "Deployment"]),
    ]
    assert program.bundles[1].steps[0].gate.objects == (
        ("CustomResourceDefinition", "widgets.example.com"),
        ("CustomResourceDefinition", "gadgets.example.com"),
    )
    namespaces = {o["metadata"]["name"]: o["metadata"].get("namespace") for o in objects(program)}
    assert namespaces["blue"] == "ext" and namespaces["shim"] == "ext"
    assert namespaces["big"] is None and namespaces["widget-reader"] is None  # cluster-scoped
    for manifest in objects(program):
        assert manifest["metadata"]["labels"]["kc.dev/stage"] in ("ext", "workspace")


def test_manifests_pass_through_security_and_policy(tmp_path: Path) -> None:
    write_manifests(tmp_path)
    deployment = one(compile_text(MANIFESTS, tmp_path), "Deployment")
    c = main_container(deployment)
    assert c["args"] == ["echo ${HOME}"]  # raw files are not templates
    assert c["securityContext"]["readOnlyRootFilesystem"] is True and c["resources"]["limits"]
    # kc's labels go on the pods too, but never break the match with the workload's own selector.
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pod_labels["app.kubernetes.io/name"] == "shim" and pod_labels["kc.dev/stage"] == "ext"
    found = errors_of(MANIFESTS + "policy: {max-replicas: 2}\n", tmp_path)
    assert codes(found) == ["KC401"]


def test_manifests_without_crds_is_one_step(tmp_path: Path) -> None:
    write_manifests(tmp_path, crds="# nothing here yet\n", resources=RESOURCES.split("---")[2])
    program = compile_text(MANIFESTS, tmp_path)
    assert steps(program) == [("ext", "none", ["ClusterRole"])]


@pytest.mark.parametrize(
    "resources,code,line",
    [
        ("kind: ConfigMap\napiVersion: v1\nmetadata: {name: ok}\n---\n- just\n- a list\n", "KC109", 5),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Not_Valid\n", "KC109", 4),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nmetadata: {name: b}\n",
            "KC109",
            5,
        ),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: other\n", "KC109", 5),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a\n", "KC004", 4),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: a\n", "KC005", 4),
    ],
)
def test_manifests_errors_point_into_the_file(tmp_path: Path, resources: str, code: str, line: int) -> None:
    write_manifests(tmp_path, resources=resources)
    found = errors_of(MANIFESTS, tmp_path)
    assert [(d.code, Path(d.pos.file).name, d.pos.line) for d in found] == [(code, "resources.yaml", line)]


def test_manifests_crd_needs_its_names(tmp_path: Path) -> None:
    write_manifests(tmp_path, crds=CRD.split("---")[0].replace("  scope: Namespaced\n", ""))
    (found,) = errors_of(MANIFESTS, tmp_path)
    assert (found.code, Path(found.pos.file).name, found.pos.line) == ("KC109", "crds.yaml", 2)
    assert "spec.scope" in found.message


def test_manifests_glob_errors_at_the_spec(tmp_path: Path) -> None:
    write_manifests(tmp_path)
    found = errors_of(MANIFESTS.replace("more/*.yaml", "missing/*.yaml"), tmp_path)
    assert [(d.code, d.pos.line) for d in found] == [("KC208", 6)]


# --- cron ------------------------------------------------------------------------------------


def cron(schedule: str, timezone: str = "UTC") -> str:
    return spec(f'  nightly: {{pattern: cron, image: "a/b:1.0.0", schedule: "{schedule}", timezone: {timezone}}}\n')


@pytest.mark.parametrize("macro", ["@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"])
def test_cron_takes_the_macros_kubernetes_takes(macro: str, tmp_path: Path) -> None:
    assert one(compile_text(cron(macro), tmp_path), "CronJob")["spec"]["schedule"] == macro


@pytest.mark.parametrize(
    "schedule,message",
    [
        # The API server's parser takes "@every", which Kubernetes does not document, and takes
        # macros exactly as written; it has no 7 for Sunday.
        ("@every 1h", "unknown schedule macro '@every 1h'"),
        ("@Daily", "unknown schedule macro '@Daily'"),
        ("@daily ", "unknown schedule macro '@daily '"),
        ("daily", "a cron schedule has 5 fields, not 1"),
        ("0 3 * * 7", "invalid day of week '7' (allowed 0-6)"),
    ],
)
def test_cron_schedule_errors_list_what_is_accepted(schedule: str, message: str, tmp_path: Path) -> None:
    (found,) = errors_of(cron(schedule), tmp_path)
    assert (found.code, found.pos.line) == ("KC107", 4) and found.message.endswith(message)
    assert "five fields" in found.hint
    assert found.hint.endswith("@hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually")


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"])
def test_cron_time_zone(zone: str, tmp_path: Path) -> None:
    assert one(compile_text(cron("0 3 * * *", zone), tmp_path), "CronJob")["spec"]["timeZone"] == zone


@pytest.mark.parametrize(
    "zone,hint",
    [
        ("Europe/Berln", "did you mean 'Europe/Berlin'?"),
        ("europe/berlin", "did you mean 'Europe/Berlin'?"),
        ("Mars/Olympus_Mons", "an IANA name such as Europe/Berlin or UTC"),
    ],
)
def test_cron_unknown_time_zone(zone: str, hint: str, tmp_path: Path) -> None:
    (found,) = errors_of(cron("0 3 * * *", zone), tmp_path)
    assert (found.code, found.pos.line, found.hint) == ("KC107", 4, hint)
    assert found.message == f"'timezone' in stage 'nightly': unknown time zone '{zone}'"


# --- defaults every pattern gets ---------------------------------------------------------------


def test_image_pull_policy_always_unless_chosen(tmp_path: Path) -> None:
    text = "kc: 1\npipeline: p\nstages:\n  a: worker a/b:1.0.0\n"
    text += "  b: {pattern: worker, image: 'a/c:1.0.0', pull-policy: Never}\n"
    a, b = objects(compile_text(text, tmp_path), "Deployment")
    assert main_container(a)["imagePullPolicy"] == "Always"
    assert main_container(b)["imagePullPolicy"] == "Never"
    assert list(main_container(a))[:3] == ["name", "image", "imagePullPolicy"]


@pytest.mark.parametrize(
    "quantity,expected",
    [("512Mi", 512 * 2**20), ("2Gi", 2 * 2**30), ("1G", 10**9), ("1.5Gi", 3 * 2**29), ("500m", 0), ("100", 100)],
)
def test_bytes_filter(quantity: str, expected: int) -> None:
    assert filters.quantity_bytes(quantity) == expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.integers(min_value=0, max_value=30), max_size=3), min_size=1, max_size=8))
def test_task_wires_order_any_dag(tmp_path: Path, reads: list[list[int]]) -> None:
    """Task i reads outputs of earlier tasks (indices taken modulo i): whatever the graph, every
    producer runs in an earlier bundle and every input is mounted from the producer's directory."""
    lines = ["kc: 1", "pipeline: dag", "workspace: {data: {}}", "stages:"]
    wired: dict[str, dict[str, str]] = {}
    for i, picks in enumerate(reversed(reads)):  # declared last-first: order comes from the wires
        index = len(reads) - 1 - i
        inputs = {f"in{n}": f"t{p % index}.out" for n, p in enumerate(picks)} if index else {}
        wired[f"t{index}"] = inputs
        lines.append(f"  t{index}: {{pattern: task, image: a/t:1.0.0, outputs: [out], inputs: {inputs or '{}'}}}")
    program = compile_text("\n".join(lines) + "\n", tmp_path)
    bundle_of = {s.stage: b.index for b in program.bundles for s in b.steps}
    for reader, inputs in wired.items():
        job = next(o.manifest for o in program.objects if o.kind == "Job" and o.stage == reader)
        mounts = {m["mountPath"]: m for m in main_container(job)["volumeMounts"]}
        for name, wire in inputs.items():
            producer = wire.split(".")[0]
            assert bundle_of[producer] < bundle_of[reader]
            assert mounts[f"/data/in/{name}"] == {
                "name": "data",
                "mountPath": f"/data/in/{name}",
                "subPath": f"{producer}/out",
                "readOnly": True,
            }


def test_port_on_the_database_patterns(tmp_path: Path) -> None:
    text = """\
        kc: 1
        pipeline: shop
        stages:
          cache: {pattern: redis, port: 6380}
          db: {pattern: postgres, port: 5433, password-secret: pg}
          app: {pattern: job, image: "a:1.0.0", env: {R: "${cache.port}", P: "${db.port}"}}
        """
    program = compile_text(text, tmp_path)
    services = {s["metadata"]["name"]: s["spec"]["ports"][0]["port"] for s in objects(program, "Service")}
    assert services == {"shop-cache": 6380, "shop-db": 5433}
    redis = objects(program, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    assert redis["ports"] == [{"name": "redis", "containerPort": 6380, "protocol": "TCP"}]
    assert redis["args"][:2] == ["--port", "6380"]
    postgres = objects(program, "StatefulSet")[0]["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "PGPORT", "value": "5433"} in postgres["env"]
    assert "--port=5433" in postgres["readinessProbe"]["exec"]["command"]
    job = objects(program, "Job")[0]["spec"]["template"]["spec"]["containers"][0]
    assert {e["name"]: e["value"] for e in job["env"]} == {"R": "6380", "P": "5433"}


@pytest.mark.parametrize(
    "stage,field,hint",
    [
        ("{pattern: redis, command: [x]}", "command", "args"),
        ("{pattern: postgres, password-secret: pg, ports: {a: 1}}", "ports", "set it with port"),
        ("{pattern: cockroachdb, health: /x}", "health", "health endpoint"),
        ("{pattern: task, image: 'a:1.0.0', port: 80}", "port", "serves nothing"),
    ],
)
def test_common_fields_a_pattern_leaves_out_say_what_to_use(tmp_path: Path, stage: str, field: str, hint: str) -> None:
    [found] = errors_of(f"kc: 1\npipeline: shop\nstages:\n  s: {stage}\n", tmp_path)
    assert found.code == "KC101" and f"does not take '{field}'" in found.message and hint in found.hint


def test_health_as_a_command_probes_a_worker(tmp_path: Path) -> None:
    base = 'kc: 1\npipeline: shop\nstages:\n  w: {pattern: worker, image: "a:1.0.0"%s}\n'
    program = compile_text(base % ", health: {command: [cat, /tmp/healthy]}", tmp_path)
    container = objects(program, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    probe = {"command": ["cat", "/tmp/healthy"]}
    assert container["readinessProbe"]["exec"] == container["livenessProbe"]["exec"] == probe
    # Without health a worker has no port to ask: no probes, and require-health refuses it.
    bare = objects(compile_text(base % "", tmp_path), "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    assert "readinessProbe" not in bare and "livenessProbe" not in bare
    assert codes(errors_of("policy: {require-health: true}\n" + base % "", tmp_path)) == ["KC406"]
    # A path needs a port to be asked on.
    [found] = errors_of(base % ", health: /healthz", tmp_path)
    assert "health: {command: [...]}" in found.message


def test_health_as_a_command_on_a_service(tmp_path: Path) -> None:
    stage = '{pattern: service, image: "a:1.0.0", health: {command: [/bin/true]}}'
    text = f"kc: 1\npipeline: shop\nstages:\n  web: {stage}\n"
    probe = objects(compile_text(text, tmp_path), "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    assert probe["readinessProbe"]["exec"] == {"command": ["/bin/true"]} and "httpGet" not in probe["readinessProbe"]


# --- retries and their exit codes; pending-timeout -------------------------------------------------


def _job_spec(pattern: str, retries: str) -> str:
    extra = ", schedule: '@daily'" if pattern == "cron" else ""
    return spec(f"  work: {{pattern: {pattern}, image: 'a/b:1.0.0', retries: {retries}{extra}}}\n")


def _job(program: ir.Program) -> dict[str, Any]:
    found = objects(program, "Job") or [o["spec"]["jobTemplate"] for o in objects(program, "CronJob")]
    return dict(found[0]["spec"])


@pytest.mark.parametrize("pattern", ["job", "task", "cron"])
def test_retries_as_a_number_is_the_backoff_limit_and_nothing_more(pattern: str, tmp_path: Path) -> None:
    job = _job(compile_text(_job_spec(pattern, "5"), tmp_path))
    assert job["backoffLimit"] == 5 and "podFailurePolicy" not in job
    same = _job(compile_text(_job_spec(pattern, "{count: 5}"), tmp_path))
    assert same == job, "{count: 5} is 5"


@pytest.mark.parametrize("pattern", ["job", "task", "cron"])
def test_retries_on_exit_codes_fail_the_job_at_once_on_any_other(pattern: str, tmp_path: Path) -> None:
    job = _job(compile_text(_job_spec(pattern, "{count: 4, on-exit-codes: [42, 1, 2]}"), tmp_path))
    assert job["backoffLimit"] == 4
    assert job["template"]["spec"]["restartPolicy"] == "Never", "the API server takes a policy only with Never"
    assert job["podFailurePolicy"] == {
        "rules": [
            # First: a disruption's SIGKILL (137) would otherwise match the rule below.
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
            {"action": "FailJob", "onExitCodes": {"containerName": "work", "operator": "NotIn", "values": [1, 2, 42]}},
        ]
    }
    assert main_container({"kind": "Job", "spec": job})["name"] == "work"


def test_the_default_retries_of_each_pattern(tmp_path: Path) -> None:
    text = spec(
        "  a: job a/b:1.0.0\n  b: task a/b:1.0.0\n  c: {pattern: cron, image: 'a/b:1.0.0', schedule: '@daily'}\n"
    )
    program = compile_text(text, tmp_path)
    limits = [j["spec"]["backoffLimit"] for j in objects(program, "Job")]
    limits += [c["spec"]["jobTemplate"]["spec"]["backoffLimit"] for c in objects(program, "CronJob")]
    assert limits == [3, 3, 2]


@pytest.mark.parametrize(
    "retries,code,at,words",
    [
        ("true", "KC102", "true", "a number is due here, not true"),
        ("101", "KC103", "101", "'retries' in stage 'work' is out of range"),
        ("{count: 3, on-exit-codes: []}", "KC103", "[]", "'on-exit-codes' in stage 'work' is out of range"),
        ("{count: 3, on-exit-codes: [0]}", "KC103", "0]", "'on-exit-codes[0]' in stage 'work' is out of range"),
        ("{count: 3, on-exit-codes: [1, 256]}", "KC103", "256]", "'on-exit-codes[1]'"),
        ("{count: 3, on-exit-codes: [2, 2]}", "KC106", "[2, 2]", "exit code 2 is given twice"),
        ("{count: 3, on-exit-codes: [true]}", "KC102", "true]", "a number is due here, not true"),
        ("{count: 3, on-exit-codes: 1}", "KC102", "1}", "'on-exit-codes' in stage 'work'"),
        ("{count: 3, exit-codes: [1]}", "KC101", "exit-codes", "unknown field 'exit-codes'"),
        ("{on-exit-codes: [1]}", "KC104", "retries", "missing field 'count'"),
        ("{count: 101}", "KC103", "101}", "'count' in stage 'work' is out of range"),
    ],
)
def test_retries_errors_are_one_each_at_their_place(
    retries: str, code: str, at: str, words: str, tmp_path: Path
) -> None:
    text = _job_spec("job", retries)
    (found,) = errors_of(text, tmp_path)
    assert (found.code, found.pos.line) == (code, 4), found
    assert text.splitlines()[3][found.pos.col - 1 :].startswith(at), found.pos
    assert words in found.message, found.message


def test_pending_timeout_rides_on_each_gate(tmp_path: Path) -> None:
    text = spec(
        "  db: {pattern: cockroachdb, pending-timeout: 10m}\n"
        "  web: {pattern: service, image: 'a/b:1.0.0', pending-timeout: 90}\n"
        "  work: {pattern: job, image: 'a/b:1.0.0'}\n"
        "  other: {pattern: job, image: 'a/b:1.0.0', pending-timeout: 20s}\n",
        top="defaults: {pending-timeout: 2m}\n",
    )
    program = compile_text(text, tmp_path)
    gates = {s.id: s.gate.pending_timeout for b in program.bundles for s in b.steps}
    assert gates == {"workspace": None, "db": 600, "db-init": 600, "web": 90, "work": 120, "other": 20}
    plain = compile_text(spec("  work: {pattern: job, image: 'a/b:1.0.0'}\n"), tmp_path)
    assert [s.gate.pending_timeout for b in plain.bundles for s in b.steps] == [None, None], "kc's default"


@pytest.mark.parametrize(
    "value,code", [("0", "KC106"), ("0m", "KC106"), ("soon", "KC106"), ("-5", "KC106"), ("[1]", "KC102")]
)
def test_pending_timeout_errors(value: str, code: str, tmp_path: Path) -> None:
    (found,) = errors_of(spec(f"  work: {{pattern: job, image: 'a/b:1.0.0', pending-timeout: {value}}}\n"), tmp_path)
    assert (found.code, found.pos.line) == (code, 4), found
