"""Each pass on its own concern, through small specs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, codes, compile_text, errors_of
from kc.compiler import arguments, commands, ir, object_names, pods
from kc.compiler.passes import profiles as profiles_pass
from kc.compiler.patterns import registry


def objects(program: ir.Program, kind: str | None = None) -> list[dict[str, Any]]:
    return [o.manifest for b in program.bundles for o in b.objects if kind in (None, o.kind)]


def one(program: ir.Program, kind: str) -> dict[str, Any]:
    (found,) = objects(program, kind)
    return found


def container_of(manifest: dict[str, Any]) -> dict[str, Any]:
    return next(pods.containers(next(pods.specs(manifest))))


BASE = """\
kc: 1
pipeline: shop
defaults: {registry: ghcr.io/acme, env: {LOG_LEVEL: info, REGION: eu}}
stages:
"""


def test_defaults_explicit_beats_default(tmp_path: Path) -> None:
    program = compile_text(
        BASE
        + """\
  api: {pattern: service, image: "shop/api:1.0.0", env: {LOG_LEVEL: debug}}
  web: {pattern: service, image: "docker.io/library/nginx:1.27.3"}
""",
        tmp_path,
    )
    api, web = objects(program, "Deployment")
    assert container_of(api)["env"] == [
        {"name": "LOG_LEVEL", "value": "debug"},
        {"name": "REGION", "value": "eu"},
    ]
    assert container_of(api)["image"] == "ghcr.io/acme/shop/api:1.0.0"
    assert container_of(web)["image"] == "docker.io/library/nginx:1.27.3"


def test_defaults_skip_patterns_without_containers(tmp_path: Path) -> None:
    program = compile_text(BASE + "  data: {pattern: volume, size: 5Gi}\n", tmp_path)
    assert one(program, "PersistentVolumeClaim")["spec"]["resources"]["requests"]["storage"] == "5Gi"


def test_shorthand(tmp_path: Path) -> None:
    program = compile_text("kc: 1\npipeline: p\nstages:\n  web: service nginx:1.27.3\n", tmp_path)
    assert container_of(one(program, "Deployment"))["image"] == "nginx:1.27.3"
    assert one(program, "Service")["spec"]["ports"][0]["port"] == 80  # what kc knows of nginx


def test_a_known_image_gets_its_port_and_writable_paths_and_low_ports_a_sysctl(tmp_path: Path) -> None:
    program = compile_text("kc: 1\npipeline: p\nstages:\n  web: service nginx:1.27.3\n", tmp_path)
    pod = one(program, "Deployment")["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m["name"] for m in container_of(one(program, "Deployment"))["volumeMounts"]}
    assert mounts == {"/var/cache/nginx": "writable-0", "/var/run": "writable-1", "/tmp": "tmp"}
    assert {"name": "writable-1", "emptyDir": {"sizeLimit": "256Mi"}} in pod["volumes"]
    assert pod["securityContext"]["sysctls"] == [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "80"}]
    assert container_of(one(program, "Deployment"))["readinessProbe"]["tcpSocket"] == {"port": "http"}
    assert program.warnings == ()


def test_a_stage_says_otherwise_and_keeps_its_writable_paths(tmp_path: Path) -> None:
    stage = "{pattern: service, image: 'nginx:1', port: 8080, writable: [/srv, /var/run]}"
    spec = f"kc: 1\npipeline: p\nstages:\n  web: {stage}\n"
    program = compile_text(spec, tmp_path)
    paths = [m["mountPath"] for m in container_of(one(program, "Deployment"))["volumeMounts"]]
    assert paths == ["/var/cache/nginx", "/var/run", "/srv", "/tmp"]
    assert one(program, "Service")["spec"]["ports"][0]["port"] == 8080
    assert "sysctls" not in one(program, "Deployment")["spec"]["template"]["spec"]["securityContext"]
    other_registry = compile_text(spec.replace("'nginx:1'", "'ghcr.io/acme/nginx:1'"), tmp_path)
    paths = [m["mountPath"] for m in container_of(one(other_registry, "Deployment"))["volumeMounts"]]
    assert paths == ["/srv", "/var/run", "/tmp"]  # not docker.io's nginx: kc knows nothing of it


def test_an_unknown_image_on_the_default_port_is_a_warning(tmp_path: Path) -> None:
    program = compile_text("kc: 1\npipeline: p\nstages:\n  api: service acme/api:1.0\n", tmp_path)
    (warning,) = program.warnings
    assert (warning.code, warning.pos.line, warning.severity) == ("KC504", 4, "warning")
    assert "port 8080, the service pattern's default" in warning.message
    explicit = compile_text(
        "kc: 1\npipeline: p\nstages:\n  api: {pattern: service, image: 'acme/api:1.0', port: 8080}\n", tmp_path
    )
    assert explicit.warnings == ()


def test_shorthand_pattern_alone_takes_its_default_image(tmp_path: Path) -> None:
    program = compile_text("kc: 1\npipeline: p\nstages:\n  cache: redis\n  scratch: volume\n", tmp_path)
    assert container_of(one(program, "Deployment"))["image"] == "docker.io/library/redis:7.4.1"
    assert one(program, "PersistentVolumeClaim")["spec"]["resources"]["requests"]["storage"] == "1Gi"


def test_shorthand_pattern_alone_names_what_is_missing(tmp_path: Path) -> None:
    (found,) = errors_of("kc: 1\npipeline: p\nstages:\n  web: service\n", tmp_path)
    assert (found.code, found.pos.line, found.pos.col) == ("KC104", 4, 3)
    assert found.message == "missing field 'image' in stage 'web'"


def test_security_defaults_on_every_pod(tmp_path: Path) -> None:
    program = compile_text(
        BASE
        + """\
  api: {pattern: service, image: "shop/api:1.0.0"}
  once: {pattern: job, image: "shop/once:1.0.0"}
  nightly: {pattern: cron, image: "shop/nightly:1.0.0", schedule: "@daily"}
  db: {pattern: stateful, image: "shop/db:1.0.0", port: 5432, storage: 1Gi}
""",
        tmp_path,
    )
    workloads = [m for m in objects(program) if any(True for _ in pods.specs(m))]
    assert len(workloads) == 4
    for manifest in workloads:
        spec = next(pods.specs(manifest))
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        assert {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}} in spec["volumes"]
        for c in pods.containers(spec):
            ctx = c["securityContext"]
            assert ctx["readOnlyRootFilesystem"] and not ctx["allowPrivilegeEscalation"]
            assert ctx["capabilities"] == {"drop": ["ALL"]}
            assert c["resources"]["requests"] and c["resources"]["limits"]
            assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]


def test_patch_relaxes_a_security_default(tmp_path: Path) -> None:
    program = compile_text(
        BASE
        + """\
  api:
    pattern: service
    image: "shop/api:1.0.0"
    patch:
      Deployment:
        spec: {template: {spec: {containers: [{name: api, securityContext: {readOnlyRootFilesystem: false}}]}}}
""",
        tmp_path,
    )
    ctx = container_of(one(program, "Deployment"))["securityContext"]
    assert ctx["readOnlyRootFilesystem"] is False and ctx["capabilities"] == {"drop": ["ALL"]}


def test_long_names_are_shortened_deterministically(tmp_path: Path) -> None:
    stage = "a-rather-long-stage-name-for-the-reporting-pipeline"
    program = compile_text(f"kc: 1\npipeline: analytics-platform\nstages:\n  {stage}: worker acme/w:1.0.0\n", tmp_path)
    name = one(program, "Deployment")["metadata"]["name"]
    assert len(name) <= object_names.MAX_NAME and name == object_names.shorten(f"analytics-platform-{stage}")
    assert name.rsplit("-", 1)[1] == object_names.digest(f"analytics-platform-{stage}", 5)


def test_labels_and_selectors(tmp_path: Path) -> None:
    program = compile_text(
        BASE + '  db: {pattern: stateful, image: "shop/db:1.0.0", port: 5432, storage: 1Gi}\n', tmp_path
    )
    sts = one(program, "StatefulSet")
    # Selectors and ownership use kc's own labels, which tools such as Argo CD leave alone.
    assert sts["spec"]["selector"]["matchLabels"] == {"kc.dev/instance": "shop", "kc.dev/stage": "db"}
    claim_labels = sts["spec"]["volumeClaimTemplates"][0]["metadata"]["labels"]
    assert claim_labels["kc.dev/instance"] == "shop" and claim_labels["kc.dev/stage"] == "db"
    for manifest in objects(program):
        labels = manifest["metadata"]["labels"]
        assert labels["kc.dev/instance"] == "shop" and labels["kc.dev/pipeline"] == "shop"
        # ...and everyone else still finds the recommended ones.
        assert labels["app.kubernetes.io/managed-by"] == "kc" and labels["app.kubernetes.io/instance"] == "shop"


def test_references_resolve_and_order(tmp_path: Path) -> None:
    program = compile_text(
        BASE
        + """\
  api: {pattern: service, image: "shop/api:1.0.0", env: {DB: "${db.url}", RAW: "$${HOME}", NS: "${pipeline.namespace}"}}
  db: {pattern: stateful, image: "shop/db:1.0.0", port: 5432}
""",
        tmp_path,
    )
    env = {e["name"]: e.get("value") for e in container_of(one(program, "Deployment"))["env"]}
    assert env["DB"] == "http://shop-db.shop.svc:5432" and env["RAW"] == "${HOME}" and env["NS"] == "shop"
    # Two long-running stages: the reference wires a name and a network permission, no order.
    assert [b.name for b in program.bundles] == ["workspace", "api+db"]
    policy = next(m for m in objects(program, "NetworkPolicy") if m["metadata"]["name"] == "shop-db-ingress")
    callers = [p["podSelector"]["matchLabels"]["kc.dev/stage"] for p in policy["spec"]["ingress"][0]["from"]]
    assert callers == ["db", "api"]


def test_services_that_call_each_other_are_no_cycle(tmp_path: Path) -> None:
    program = compile_text(
        BASE
        + """  a: {pattern: service, image: "a:1", port: 8080, env: {B: "${b.url}"}}
  b: {pattern: service, image: "b:1", port: 8080, env: {A: "${a.url}"}}
  seed: {pattern: job, image: "s:1", env: {A: "${a.url}"}}
  files: {pattern: volume, size: 1Gi}
  web: {pattern: service, image: "w:1", port: 8080, mounts: {files: /srv}}
""",
        tmp_path,
    )
    # A job is ordered after what it calls; a service after the claim it mounts.
    assert [b.name for b in program.bundles] == ["workspace", "a+b+files", "seed+web"]
    seed = next(s for s in program.stages if s.name == "seed")
    assert [(d.target, d.kind) for d in seed.deps] == [("a", "reference")]
    cycle = errors_of(
        BASE + '  a: {pattern: service, image: "a:1", after: b}\n  b: {pattern: service, image: "b:1", after: a}\n',
        tmp_path,
    )
    assert codes(cycle) == ["KC204"]


def test_open_network_has_no_policies(tmp_path: Path) -> None:
    text = (
        BASE.replace("stages:", "workspace: {network: open}\nstages:") + '  api: {pattern: service, image: "a:1.0.0"}\n'
    )
    assert objects(compile_text(text, tmp_path), "NetworkPolicy") == []


def test_unescaped_dollar_brace_is_an_error(tmp_path: Path) -> None:
    found = errors_of(BASE + '  api: {pattern: job, image: "a:1.0.0", args: ["echo ${HOME}"]}\n', tmp_path)
    assert codes(found) == ["KC301"]


def test_bundles_keep_declaration_order_and_kind_order(tmp_path: Path) -> None:
    program = compile_text(
        BASE
        + """\
  b: {pattern: service, image: "b:1.0.0", replicas: 2, expose: {host: b.example.com}}
  a: {pattern: worker, image: "a:1.0.0"}
  c: {pattern: job, image: "c:1.0.0", after: [a, b]}
""",
        tmp_path,
    )
    assert [(b.index, b.name) for b in program.bundles] == [(0, "workspace"), (1, "b+a"), (2, "c")]
    kinds = [o.kind for o in program.bundles[1].objects]
    assert kinds == ["Service", "Deployment", "Deployment", "PodDisruptionBudget", "Ingress"]
    assert program.bundles[2].steps[0].gate.kind == "job-complete"


def test_sequential_flow(tmp_path: Path) -> None:
    text = BASE.replace("stages:", "flow: sequential\nstages:")
    program = compile_text(text + "  a: worker a:1.0.0\n  b: worker b:1.0.0\n  c: worker c:1.0.0\n", tmp_path)
    assert [b.name for b in program.bundles] == ["workspace", "a", "b", "c"]


def test_job_name_follows_content(tmp_path: Path) -> None:
    first = one(compile_text(BASE + '  m: {pattern: job, image: "m:1.0.0"}\n', tmp_path), "Job")
    second = one(compile_text(BASE + '  m: {pattern: job, image: "m:1.0.1"}\n', tmp_path), "Job")
    again = one(compile_text(BASE + '  m: {pattern: job, image: "m:1.0.0"}\n', tmp_path), "Job")
    assert first["metadata"]["name"] != second["metadata"]["name"]
    assert first["metadata"]["name"] == again["metadata"]["name"]
    assert first["metadata"]["name"].startswith("shop-m-")


def test_config_name_follows_content_and_users_follow(tmp_path: Path) -> None:
    def compiled(value: str) -> ir.Program:
        return compile_text(
            BASE
            + f"""\
  cfg: {{pattern: config, data: {{mode: {value}}}}}
  api: {{pattern: service, image: "a:1.0.0", mounts: {{cfg: /etc/app}}, env: {{MODE: {{config: cfg/mode}}}}}}
""",
            tmp_path,
        )

    one_, two = compiled("fast"), compiled("slow")
    name = one(one_, "ConfigMap")["metadata"]["name"]
    assert name != one(two, "ConfigMap")["metadata"]["name"]
    spec = next(pods.specs(one(one_, "Deployment")))
    assert {"name": "mount-cfg", "configMap": {"name": name}} in spec["volumes"]
    assert container_of(one(one_, "Deployment"))["env"][-1]["valueFrom"]["configMapKeyRef"]["name"] == name
    assert [b.name for b in one_.bundles] == ["workspace", "cfg", "api"]


def test_disabled_stage_is_dropped(tmp_path: Path) -> None:
    program = compile_text(
        BASE
        + """\
  a: {pattern: worker, image: "a:1.0.0", enabled: false}
  b: {pattern: worker, image: "b:1.0.0", after: a}
""",
        tmp_path,
    )
    assert [o["metadata"]["name"] for o in objects(program, "Deployment")] == ["shop-b"]


def test_ordering_annotations(tmp_path: Path) -> None:
    text = BASE + '  a: worker a:1.0.0\n  b: {pattern: worker, image: "b:1.0.0", after: a}\n'
    kapp = compile_text(text, tmp_path, ordering_annotations="kapp")
    b = next(m for m in objects(kapp, "Deployment") if m["metadata"]["name"] == "shop-b")
    assert b["metadata"]["annotations"]["kapp.k14s.io/change-rule"] == "upsert after upserting kc.dev/bundle-01"
    argo = compile_text(text, tmp_path, ordering_annotations="argocd")
    assert [m["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] for m in objects(argo, "Deployment")] == [
        "1",
        "2",
    ]


def test_source_map_annotation(tmp_path: Path) -> None:
    program = compile_text(BASE + '  api: {pattern: service, image: "a:1.0.0"}\n', tmp_path)
    assert one(program, "Deployment")["metadata"]["annotations"]["kc.dev/source"] == "pipeline.spec:5"


def test_autoscale_and_pdb(tmp_path: Path) -> None:
    program = compile_text(
        BASE + '  api: {pattern: service, image: "a:1.0.0", autoscale: {min: 2, max: 6}}\n', tmp_path
    )
    hpa = one(program, "HorizontalPodAutoscaler")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    assert "replicas" not in one(program, "Deployment")["spec"]
    assert one(program, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1


def test_spec_fragments_add_stages_first(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "common.spec").write_text(
        "stages:\n  cache: {pattern: stateful, image: 'redis:7.4.1', port: 6379}\n"
    )
    program = compile_text(
        "kc: 1\npipeline: shop\nimports: [lib/common.spec]\nstages:\n"
        "  api: {pattern: service, image: 'a:1.0.0', env: {C: '${cache.host}'}}\n",
        tmp_path,
    )
    assert [s.name for s in program.stages] == ["cache", "api"]
    assert one(program, "StatefulSet")["metadata"]["annotations"]["kc.dev/source"] == "lib/common.spec:2"


def test_spec_fragment_errors_point_into_the_fragment(tmp_path: Path) -> None:
    (tmp_path / "common.spec").write_text("stages:\n  api: {pattern: worker, image: 'a:1.0.0', replica: 2}\n")
    found = errors_of("kc: 1\npipeline: shop\nimports: [common.spec]\nstages:\n  api: worker b:1.0.0\n", tmp_path)
    assert sorted((d.code, d.pos.file.endswith("common.spec"), d.pos.line) for d in found) == [
        ("KC211", False, 5),
    ]
    (tmp_path / "common.spec").write_text("stages:\n  web: {pattern: worker, image: 'a:1.0.0', replica: 2}\n")
    found = errors_of("kc: 1\npipeline: shop\nimports: [common.spec]\nstages:\n  api: worker b:1.0.0\n", tmp_path)
    assert [(d.code, d.pos.file.endswith("common.spec"), d.pos.line) for d in found] == [("KC101", True, 2)]


def test_an_imported_folder_brings_its_spec_fragments(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "b-queue.spec").write_text("stages:\n  queue: {pattern: worker, image: 'q:1.0.0'}\n")
    (lib / "a-cache.spec").write_text("stages:\n  cache: {pattern: stateful, image: 'redis:7.4.1', port: 6379}\n")
    (lib / "notes.txt").write_text("not a fragment")
    (tmp_path / "more.spec").write_text("stages:\n  more: {pattern: worker, image: 'm:1.0.0'}\n")
    text = "kc: 1\npipeline: shop\nimports: [lib, .]\nstages:\n  api: {pattern: service, image: 'a:1.0.0'}\n"
    program = compile_text(text, tmp_path)  # ".": the spec's own folder, which holds the spec itself
    # Each folder's fragments in name order, in import order; the spec is no fragment of itself.
    assert [s.name for s in program.stages] == ["cache", "queue", "more", "api"]
    assert one(program, "StatefulSet")["metadata"]["annotations"]["kc.dev/source"] == "lib/a-cache.spec:2"


def test_an_imported_folder_with_neither_patterns_nor_fragments_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "cache.yaml").write_text("stages: {}\n")
    text = "kc: 1\npipeline: shop\nimports: [lib]\nstages:\n  api: {pattern: service, image: 'a:1.0.0'}\n"
    [found] = errors_of(text, tmp_path)
    assert (found.code, found.pos.line) == ("KC208", 3) and "neither patterns nor spec fragments" in found.message


def test_config_files_are_data(tmp_path: Path) -> None:
    root = tmp_path / "we[1]"  # glob characters in the spec's folder are part of its path
    (root / "sub").mkdir(parents=True)
    (root / "run.sh").write_text('echo "${HOME}"\n')
    program = compile_text("kc: 1\npipeline: shop\nstages:\n  cfg: {pattern: config, files: [run.sh]}\n", root)
    assert one(program, "ConfigMap")["data"] == {"run.sh": 'echo "${HOME}"\n'}
    (root / "sub" / "run.sh").write_text("again\n")
    found = errors_of("kc: 1\npipeline: shop\nstages:\n  cfg: {pattern: config, files: [run.sh, sub/run.sh]}\n", root)
    assert codes(found) == ["KC209"]


def test_compiling_leaves_the_loaded_document_alone(tmp_path: Path) -> None:
    from kc.compiler import passes, source

    path = tmp_path / "pipeline.spec"
    path.write_text(
        BASE + '  api: {pattern: service, image: "a:1.0.0"}\nprofiles: {big: {stages: {api: {replicas: 3}}}}\n'
    )
    doc = source.load_file(str(path))
    before = (repr(doc.data), dict(doc.values), dict(doc.keys))
    passes.run(doc, ir.Options(profiles=("big",), sets=(("api.replicas", "4"),)))
    assert (repr(doc.data), dict(doc.values), dict(doc.keys)) == before
    assert one(passes.run(doc), "Deployment")["spec"]["replicas"] == 1


# --- --set ----------------------------------------------------------------------------------------

SET_SPEC = """\
    kc: 1
    pipeline: shop
    stages:
      api: {pattern: service, image: "shop/api:1.0.0", port: 8080}
    """


def _manifest(program: ir.Program, kind: str) -> dict[str, Any]:
    return next(o.manifest for o in program.objects if o.kind == kind)


def test_set_values_are_what_a_user_means(tmp_path: Path) -> None:
    sets = (("api.env.FEATURE", "on"), ("api.env.RETRIES", "3"), ("api.replicas", "3"), ("api.labels.tier", "yes"))
    deployment = _manifest(compile_text(SET_SPEC, tmp_path, sets=sets), "Deployment")
    env = {e["name"]: e["value"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert (env["FEATURE"], env["RETRIES"]) == ("on", "3")  # env values are strings, whatever they look like
    assert deployment["spec"]["replicas"] == 3  # a number where a number belongs
    assert deployment["metadata"]["labels"]["tier"] == "yes"
    # YAML 1.1's on/off/yes/no are not booleans; true and false are.
    assert errors_of(SET_SPEC, tmp_path, sets=(("api.enabled", "off"),))[0].code == "KC102"
    disabled = compile_text(SET_SPEC, tmp_path, sets=(("api.enabled", "false"),))
    assert not [o for o in disabled.objects if o.stage == "api"]


def test_set_reaches_top_level_keys(tmp_path: Path) -> None:
    program = compile_text(SET_SPEC, tmp_path, sets=(("workspace.namespace", "elsewhere"), ("defaults.size", "large")))
    assert {o.namespace for o in program.objects if o.namespace} == {"elsewhere"}
    deployment = _manifest(program, "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] != "250m"
    # stages.NAME reaches a stage whose name is also a top-level key
    text = SET_SPEC.replace("      api:", "      policy:")
    program = compile_text(text, tmp_path, sets=(("stages.policy.replicas", "2"),))
    assert _manifest(program, "Deployment")["spec"]["replicas"] == 2
    found = errors_of(SET_SPEC, tmp_path, sets=(("policy.max-replicas", "1"), ("api.replicas", "2")))
    assert [d.code for d in found] == ["KC401"]


def test_set_errors_name_the_flag(tmp_path: Path) -> None:
    [found] = errors_of(SET_SPEC, tmp_path, sets=(("api.replicas", "lots"),))
    assert (found.code, found.pos.file) == ("KC102", "--set api.replicas=lots")
    [found] = errors_of(SET_SPEC, tmp_path, sets=(("workspace.namespce", "x"),))
    assert (found.code, found.pos.file) == ("KC101", "--set workspace.namespce=x")


def _sets(*items: str) -> tuple[tuple[str, str], ...]:
    """``--set`` arguments as the command line splits them."""
    return tuple(profiles_pass.split_set(item) for item in items)


def test_set_reaches_keys_with_dots_through_quotes(tmp_path: Path) -> None:
    sets = _sets(
        'api.annotations."example.com/owner"=alice',
        "api.labels.'app.example.com/tier'=web",
    )
    deployment = _manifest(compile_text(SET_SPEC, tmp_path, sets=sets), "Deployment")
    assert deployment["metadata"]["annotations"]["example.com/owner"] == "alice"
    assert deployment["metadata"]["labels"]["app.example.com/tier"] == "web"
    assert profiles_pass.set_path('a."b\\"c".d') == ("a", 'b"c', "d")
    assert profiles_pass.split_set('a."x=y"=z') == ('a."x=y"', "z")  # an = inside quotes is the key's
    [found] = errors_of(SET_SPEC, tmp_path, sets=_sets('api.annotations."example.com/owner=alice'))
    assert found.code == "KC206" and "quote" in found.message


def test_set_of_a_whole_mapping_merges_it_with_strings_for_values(tmp_path: Path) -> None:
    sets = _sets("api.annotations={example.com/owner: alice, example.com/since: 2024}", "api.env={RETRIES: 010}")
    deployment = _manifest(
        compile_text(SET_SPEC.replace("port: 8080", "port: 8080, annotations: {a: b}"), tmp_path, sets=sets),
        "Deployment",
    )
    annotations = deployment["metadata"]["annotations"]
    assert (annotations["a"], annotations["example.com/owner"], annotations["example.com/since"]) == (
        "b",
        "alice",
        "2024",
    )
    env = {e["name"]: e["value"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["RETRIES"] == "010"  # as written, not the number 8


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        ("nginx:1.27.3", "docker.io/library/nginx"),
        ("nginx", "docker.io/library/nginx"),
        ("docker.io/library/nginx:1.27.3", "docker.io/library/nginx"),
        ("bitnami/redis:7", "docker.io/bitnami/redis"),
        ("ghcr.io/acme/api@sha256:" + "0" * 64, "ghcr.io/acme/api"),
        ("localhost:5000/app:1", "localhost:5000/app"),
        ("registry.example.com:5000/a/b", "registry.example.com:5000/a/b"),
    ],
)
def test_image_repository(image: str, repository: str) -> None:
    assert registry.repository(image) == repository


def test_what_kc_knows_of_images_is_well_formed() -> None:
    with open(registry.IMAGES, encoding="utf-8") as f:
        table = yaml.safe_load(f)
    for repo, entry in table.items():
        assert registry.repository(repo) == repo and set(entry) <= {"port", "writable"}
        assert all(p.startswith("/") and p != "/tmp" for p in entry.get("writable", []))


def test_generated_secrets_are_declared_never_filled_and_read_by_stage_name(tmp_path: Path) -> None:
    spec = """\
kc: 1
pipeline: p
stages:
  db: postgres
  api-keys: {pattern: secret, keys: [token, signing], length: 40, alphabet: hex}
  seed:
    pattern: job
    image: "docker.io/library/postgres:16.4"
    env: {PGHOST: "${db.host}", PGPASSWORD: {secret: db/password}, TOKEN: {secret: api-keys/token}}
"""
    program = compile_text(spec, tmp_path)
    secrets = {m["metadata"]["name"]: m for m in objects(program, "Secret")}
    assert set(secrets) == {"p-db-password", "p-api-keys"}
    for secret in secrets.values():
        assert "data" not in secret and "stringData" not in secret
    assert json.loads(secrets["p-api-keys"]["metadata"]["annotations"]["kc.dev/generate"]) == {
        "keys": ["token", "signing"],
        "length": 40,
        "alphabet": "hex",
    }
    env = {e["name"]: e.get("valueFrom") for e in container_of(one(program, "Job"))["env"]}
    assert env["PGPASSWORD"] == {"secretKeyRef": {"name": "p-db-password", "key": "password"}}
    assert env["TOKEN"] == {"secretKeyRef": {"name": "p-api-keys", "key": "token"}}
    pod = one(program, "StatefulSet")["spec"]["template"]["spec"]
    assert next(v for v in pod["volumes"] if v["name"] == "password")["secret"]["secretName"] == "p-db-password"
    assert [b.name for b in program.bundles] == ["workspace", "db+api-keys", "seed"]
    external = compile_text(spec.replace("{secret: db/password}", "{secret: db-creds/password}"), tmp_path)
    env = {e["name"]: e.get("valueFrom") for e in container_of(one(external, "Job"))["env"]}
    assert env["PGPASSWORD"] == {"secretKeyRef": {"name": "db-creds", "key": "password"}}  # not a stage: as written


def test_the_quota_must_hold_the_workloads_at_their_peak(tmp_path: Path) -> None:
    base = "kc: 1\npipeline: p\nworkspace: {quota: {cpu: '4', memory: 8Gi, pods: QUOTA}}\nstages:\n"
    stages = (
        "  web: {pattern: service, image: 'a:1', port: 8080, autoscale: {max: 6}}\n"
        "  db: {pattern: stateful, image: 'b:1', replicas: 2}\n"
        "  nightly: {pattern: cron, image: 'c:1', schedule: '@daily'}\n"
        "  load: {pattern: job, image: 'd:1', parallelism: 3}\n"
    )
    # 6 autoscaled + 2 + 1 per cron run, and the largest one-off: the job's 3 (the rollout adds 2).
    assert compile_text(base.replace("QUOTA", "12") + stages, tmp_path).bundles
    found = errors_of(base.replace("QUOTA", "11") + stages, tmp_path)
    assert codes(found) == ["KC414"]
    assert "workspace.quota.pods is 11, but the workloads may need 12 at once: web: 6 pods" in found[0].message


def test_a_quota_error_names_the_largest_demands_not_every_stage(tmp_path: Path) -> None:
    # 20 workers and the largest rollout surge: 21 demands, of which 8 are named.
    workers = "".join(f"  w{i}: {{pattern: worker, image: 'a:1', replicas: {1 + i % 3}}}\n" for i in range(20))
    found = errors_of("kc: 1\npipeline: p\nworkspace: {quota: {pods: 5}}\nstages:\n" + workers, tmp_path)
    assert codes(found) == ["KC414"]
    message = found[0].message
    assert message.endswith(" and 13 more")
    named = message.split(" at once: ")[1].removesuffix(" and 13 more").split(", ")
    assert named == [
        "w2: 3 pods",
        "w5: 3 pods",
        "w8: 3 pods",
        "w11: 3 pods",
        "w14: 3 pods",
        "w17: 3 pods",
        "w1: 2 pods",
        "w4: 2 pods",
    ]


# --- instances and namespaces -------------------------------------------------------------------

SHOP_SPEC = ROOT / "examples" / "shop" / "pipeline.spec"


def _namespace_warnings(*flags: str) -> list[tuple[str, int]]:
    parsed = arguments.parser().parse_args(["compile", str(SHOP_SPEC), *flags])
    return [(d.code, d.pos.line) for d in commands.build(parsed).warnings if d.code == "KC214"]


def test_an_instance_in_a_namespace_another_instance_owns_is_warned_of() -> None:
    # The prod profile names shop-prod, which the shop instance takes with the same profile.
    line = next(i for i, text in enumerate(SHOP_SPEC.read_text().splitlines(), 1) if "namespace: shop-prod" in text)
    assert _namespace_warnings("--profile", "prod,debug", "--instance", "shop-canary") == [("KC214", line)]
    # The pipeline's own namespace, named on the command line.
    assert _namespace_warnings("--instance", "shop-canary", "--set", "workspace.namespace=shop") == [("KC214", 0)]


@pytest.mark.parametrize(
    "flags",
    [
        ("--profile", "prod,debug", "--instance", "shop-canary", "--set", "workspace.namespace=shop-canary"),
        ("--profile", "prod"),  # the pipeline's own instance
        ("--instance", "shop-canary"),  # a namespace that follows the instance
        ("--profile", "prod", "--instance", "shop-b", "--set", "workspace.create=false"),  # kc owns no namespace
    ],
)
def test_an_instance_in_its_own_namespace_is_not(flags: tuple[str, ...]) -> None:
    assert _namespace_warnings(*flags) == []
