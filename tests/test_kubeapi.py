"""The fake API server in tests/kubeapi, exercised through the real `kubernetes` client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubeapi import FakeCluster
from kubernetes import client, config
from kubernetes.client.rest import ApiException

NS = "shop"


@pytest.fixture
def cluster() -> Iterator[FakeCluster]:
    with FakeCluster() as fake:
        api = client.CoreV1Api(fake.api_client())
        api.create_namespace({"metadata": {"name": NS}})
        yield fake
        assert fake.errors == []


@pytest.fixture
def core(cluster: FakeCluster) -> client.CoreV1Api:
    return client.CoreV1Api(cluster.api_client())


@pytest.fixture
def apps(cluster: FakeCluster) -> client.AppsV1Api:
    return client.AppsV1Api(cluster.api_client())


@pytest.fixture
def batch(cluster: FakeCluster) -> client.BatchV1Api:
    return client.BatchV1Api(cluster.api_client())


def status_of(err: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(err.value.body)
    return body


def pod_template(app: str, restart: str | None = None, image: str = "nginx:1.25") -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": app, "image": image, "ports": [{"containerPort": 8080}]}]}
    if restart:
        spec["restartPolicy"] = restart
    return {"metadata": {"labels": {"app": app}}, "spec": spec}


def deployment(name: str, replicas: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": pod_template(name)},
    }


def statefulset(name: str, replicas: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": pod_template(name),
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data", "labels": {"tier": "storage"}},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                }
            ],
        },
    }


def job(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"template": pod_template(name, restart="Never")},
    }


def test_discovery_through_dynamic_client(cluster: FakeCluster) -> None:
    from kubernetes.dynamic.exceptions import ResourceNotFoundError

    dyn = cluster.dynamic_client()
    assert dyn.version["kubernetes"]["gitVersion"].startswith("v1.")
    expected = [
        ("v1", "Namespace", False),
        ("v1", "PersistentVolumeClaim", True),
        ("apps/v1", "StatefulSet", True),
        ("batch/v1", "CronJob", True),
        ("policy/v1", "PodDisruptionBudget", True),
        ("autoscaling/v2", "HorizontalPodAutoscaler", True),
        ("networking.k8s.io/v1", "NetworkPolicy", True),
        ("rbac.authorization.k8s.io/v1", "RoleBinding", True),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition", False),
    ]
    for api_version, kind, namespaced in expected:
        resource = dyn.resources.get(api_version=api_version, kind=kind)
        assert resource.namespaced is namespaced, kind
    assert dyn.resources.get(api_version="apps/v1", kind="Deployment").name == "deployments"
    with pytest.raises(ResourceNotFoundError):
        dyn.resources.get(api_version="apps/v1", kind="Gadget")
    names = [ns.metadata.name for ns in dyn.get(dyn.resources.get(kind="Namespace")).items]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system", NS]
    discovered = {path for method, path, _ in cluster.requests if method == "GET"}
    assert {"/version", "/apis", "/api/v1", "/apis/apps/v1"} <= discovered


def test_kubeconfig_and_token(cluster: FakeCluster, tmp_path: Path) -> None:
    path = cluster.kubeconfig(tmp_path / "kubeconfig")
    api = client.CoreV1Api(config.new_client_from_config(config_file=str(path), context="fake"))
    assert api.read_namespace(NS).metadata.labels == {"kubernetes.io/metadata.name": NS}
    bad = client.Configuration(host=cluster.url, api_key={"authorization": "Bearer wrong"})
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(client.ApiClient(bad)).list_namespace()
    assert err.value.status == 401


def test_create_get_and_list_with_selectors(
    cluster: FakeCluster, core: client.CoreV1Api, apps: client.AppsV1Api
) -> None:
    labels = {"a": {"app": "web", "tier": "front"}, "b": {"app": "web", "tier": "back"}, "c": {"app": "db"}}
    for name, tags in labels.items():
        core.create_namespaced_config_map(NS, {"metadata": {"name": name, "labels": tags}, "data": {"k": name}})
    assert core.read_namespaced_config_map("b", NS).data == {"k": "b"}

    def names(selector: str = "", fields: str = "") -> list[str]:
        found = core.list_namespaced_config_map(NS, label_selector=selector or None, field_selector=fields or None)
        return [cm.metadata.name for cm in found.items]

    assert names("app=web") == ["a", "b"]
    assert names("app!=web") == ["c"]
    assert names("tier in (front,back)") == ["a", "b"]
    assert names("tier notin (front)") == ["b", "c"]
    assert names("tier") == ["a", "b"]
    assert names("!tier") == ["c"]
    assert names("app=web,tier in (back, side)") == ["b"]
    assert names(fields="metadata.name=c") == ["c"]
    assert names("app=web", fields="metadata.name!=a") == ["b"]
    with pytest.raises(ApiException) as err:
        names(fields="data.k=a")
    assert err.value.status == 400

    core.create_namespace({"metadata": {"name": "other"}})
    apps.create_namespaced_deployment(NS, deployment("api"))
    elsewhere = {**deployment("api"), "metadata": {"name": "api", "labels": {"app": "api"}}}
    apps.create_namespaced_deployment("other", elsewhere)
    everywhere = apps.list_deployment_for_all_namespaces(label_selector="app=api")
    assert [(d.metadata.namespace, d.metadata.name) for d in everywhere.items] == [("other", "api"), (NS, "api")]
    lists = [r for r in cluster.requests if r.path == "/apis/apps/v1/deployments"]
    assert lists == [("GET", "/apis/apps/v1/deployments", {"labelSelector": "app=api"})]


def test_plain_call_api_and_list_shape(cluster: FakeCluster, apps: client.AppsV1Api) -> None:
    apps.create_namespaced_deployment(NS, deployment("api"))
    api_client = apps.api_client
    request = api_client.param_serialize(
        "GET",
        f"/apis/apps/v1/namespaces/{NS}/deployments",
        query_params=[("limit", 1)],
        header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"],
    )
    response = api_client.call_api(*request)
    response.read()
    body = json.loads(response.data)
    assert response.status == 200
    assert body["kind"] == "DeploymentList" and body["apiVersion"] == "apps/v1"
    assert [i["metadata"]["name"] for i in body["items"]] == ["api"]
    assert "kind" not in body["items"][0]  # like a real server, list items carry no kind


def test_errors_are_status_objects(core: client.CoreV1Api, apps: client.AppsV1Api) -> None:
    apps.create_namespaced_deployment(NS, deployment("api"))
    with pytest.raises(ApiException) as err:
        apps.create_namespaced_deployment(NS, deployment("api"))
    assert err.value.status == 409
    assert status_of(err) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'deployments.apps "api" already exists',
        "reason": "AlreadyExists",
        "code": 409,
        "details": {"name": "api", "group": "apps", "kind": "deployments"},
    }
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("missing", NS)
    assert (status_of(err)["reason"], status_of(err)["code"]) == ("NotFound", 404)
    assert status_of(err)["message"] == 'configmaps "missing" not found'
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("nowhere", {"metadata": {"name": "x"}})
    assert status_of(err)["message"] == 'namespaces "nowhere" not found'
    with pytest.raises(ApiException) as err:
        apps.create_namespaced_deployment(
            NS,
            {**deployment("bad"), "spec": {**deployment("bad")["spec"], "selector": {"matchLabels": {"app": "other"}}}},
        )
    assert (err.value.status, status_of(err)["reason"]) == (422, "Invalid")
    with pytest.raises(ApiException) as err:
        client.BatchV1Api(apps.api_client).create_namespaced_job(
            NS, {"metadata": {"name": "j"}, "spec": {"template": pod_template("j")}}
        )
    assert "spec.template.spec.restartPolicy" in status_of(err)["message"]


def test_server_side_apply_and_dry_run(cluster: FakeCluster) -> None:
    dyn = cluster.dynamic_client()
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    created = dyn.server_side_apply(deployments, body=deployment("api"), field_manager="kc")
    assert created.spec.replicas == 2
    version = dyn.get(deployments, name="api", namespace=NS).metadata.resourceVersion
    managers = [(m.manager, m.operation) for m in created.metadata.managedFields]
    assert managers == [("kc", "Apply")]
    fields = created.to_dict()["metadata"]["managedFields"][0]["fieldsV1"]
    assert fields["f:spec"]["f:replicas"] == {}

    again = dyn.server_side_apply(deployments, body=deployment("api"), field_manager="kc")
    assert again.metadata.resourceVersion == version  # a no-op apply writes nothing

    scaled = deployment("api", replicas=5)
    preview = dyn.server_side_apply(deployments, body=scaled, field_manager="kc", dry_run="All")
    assert preview.spec.replicas == 5
    stored = dyn.get(deployments, name="api", namespace=NS)
    assert (stored.spec.replicas, stored.metadata.resourceVersion) == (2, version)

    # another manager owning replicas makes kc's change a conflict, unless forced
    dyn.patch(
        deployments,
        name="api",
        namespace=NS,
        body={"spec": {"replicas": 3}},
        content_type="application/merge-patch+json",
        field_manager="hpa",
    )
    with pytest.raises(ApiException) as err:
        dyn.server_side_apply(deployments, body=scaled, field_manager="kc")
    assert err.value.status == 409 and ".spec.replicas" in json.loads(err.value.body)["message"]
    forced = dyn.server_side_apply(deployments, body=scaled, field_manager="kc", force_conflicts=True)
    assert forced.spec.replicas == 5
    assert cluster.get("Deployment", NS, "api")["status"]["readyReplicas"] == 5

    # fields kc stops applying are removed, and defaults come back
    del scaled["metadata"]["labels"]
    del scaled["spec"]["replicas"]
    pruned = dyn.server_side_apply(deployments, body=scaled, field_manager="kc")
    assert pruned.metadata.labels is None and pruned.spec.replicas == 1
    with pytest.raises(ApiException) as err:
        dyn.server_side_apply(deployments, body=scaled)
    assert err.value.status == 400


def test_dry_run_writes_nothing(cluster: FakeCluster, core: client.CoreV1Api) -> None:
    cm = {"metadata": {"name": "cfg"}, "data": {"a": "1"}}
    preview = core.create_namespaced_config_map(NS, cm, dry_run="All")
    assert preview.data == {"a": "1"}
    assert cluster.get("ConfigMap", NS, "cfg") is None
    core.create_namespaced_config_map(NS, cm)
    core.patch_namespaced_config_map("cfg", NS, {"data": {"a": "2"}}, dry_run="All")
    core.replace_namespaced_config_map("cfg", NS, {**cm, "data": {"a": "3"}}, dry_run="All")
    core.delete_namespaced_config_map("cfg", NS, dry_run="All")
    assert core.read_namespaced_config_map("cfg", NS).data == {"a": "1"}


def test_writes_bump_versions_and_status_is_server_owned(apps: client.AppsV1Api) -> None:
    first = apps.create_namespaced_deployment(NS, deployment("api"))
    assert first.metadata.generation == 1 and first.metadata.uid
    patched = apps.patch_namespaced_deployment("api", NS, {"metadata": {"labels": {"x": "y"}}})
    assert patched.metadata.generation == 1
    assert int(patched.metadata.resource_version) > int(first.metadata.resource_version)
    body = apps.read_namespaced_deployment("api", NS).to_dict()
    body["spec"]["replicas"] = 4
    body["status"] = {"replicas": 99, "readyReplicas": 99}
    replaced = apps.replace_namespaced_deployment("api", NS, body)
    assert replaced.metadata.generation == 2
    assert replaced.status.replicas == 2  # the status is the controller's, not the writer's
    settled = apps.read_namespaced_deployment("api", NS)
    assert (settled.status.ready_replicas, settled.status.observed_generation) == (4, 2)
    with pytest.raises(ApiException) as err:  # stale resourceVersion
        apps.replace_namespaced_deployment("api", NS, body)
    assert err.value.status == 409


def test_defaults(
    cluster: FakeCluster, core: client.CoreV1Api, apps: client.AppsV1Api, batch: client.BatchV1Api
) -> None:
    minimal = deployment("api")
    del minimal["spec"]["replicas"]
    apps.create_namespaced_deployment(NS, minimal)
    dep = cluster.get("Deployment", NS, "api")
    assert dep is not None
    assert dep["spec"]["replicas"] == 1
    assert dep["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert (dep["spec"]["revisionHistoryLimit"], dep["spec"]["progressDeadlineSeconds"]) == (10, 600)
    pod = dep["spec"]["template"]["spec"]
    assert {
        k: pod[k]
        for k in ("restartPolicy", "dnsPolicy", "schedulerName", "terminationGracePeriodSeconds", "securityContext")
    } == {
        "restartPolicy": "Always",
        "dnsPolicy": "ClusterFirst",
        "schedulerName": "default-scheduler",
        "terminationGracePeriodSeconds": 30,
        "securityContext": {},
    }
    container = pod["containers"][0]
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["terminationMessagePolicy"] == "File"
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]

    latest = core.create_namespaced_pod(
        NS, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    )
    assert latest.spec.containers[0].image_pull_policy == "Always"

    svc = core.create_namespaced_service(
        NS, {"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
    ).spec
    assert (svc.type, svc.session_affinity, svc.ip_family_policy) == ("ClusterIP", "None", "SingleStack")
    assert svc.cluster_ip.startswith("10.96.") and svc.cluster_ips == [svc.cluster_ip]
    assert (svc.ports[0].protocol, svc.ports[0].target_port) == ("TCP", 80)
    assert (svc.ip_families, svc.internal_traffic_policy) == (["IPv4"], "Cluster")
    headless = core.create_namespaced_service(
        NS, {"metadata": {"name": "db"}, "spec": {"clusterIP": "None", "selector": {"app": "db"}}}
    ).spec
    assert headless.cluster_ip == "None"

    sts = apps.create_namespaced_stateful_set(NS, statefulset("db")).spec
    assert (sts.pod_management_policy, sts.revision_history_limit) == ("OrderedReady", 10)
    assert (sts.update_strategy.type, sts.update_strategy.rolling_update.partition) == ("RollingUpdate", 0)
    retention = sts.persistent_volume_claim_retention_policy
    assert (retention.when_deleted, retention.when_scaled) == ("Retain", "Retain")
    assert sts.volume_claim_templates[0].spec.volume_mode == "Filesystem"

    created = batch.create_namespaced_job(NS, job("migrate"))
    uid, spec = created.metadata.uid, created.spec
    assert (spec.backoff_limit, spec.completions, spec.parallelism) == (6, 1, 1)
    assert (spec.completion_mode, spec.suspend) == ("NonIndexed", False)
    assert spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": uid}
    assert spec.template.metadata.labels == {
        "app": "migrate",
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "migrate",
        "controller-uid": uid,
        "job-name": "migrate",
    }
    manual = job("manual")
    manual["spec"].update(manualSelector=True, selector={"matchLabels": {"app": "manual"}})
    assert batch.create_namespaced_job(NS, manual).spec.template.metadata.labels == {"app": "manual"}

    cron = batch.create_namespaced_cron_job(
        NS,
        {
            "metadata": {"name": "nightly"},
            "spec": {
                "schedule": "0 3 * * *",
                "jobTemplate": {"spec": {"template": pod_template("nightly", restart="OnFailure")}},
            },
        },
    ).spec
    assert (cron.concurrency_policy, cron.suspend) == ("Allow", False)
    assert (cron.successful_jobs_history_limit, cron.failed_jobs_history_limit) == (3, 1)

    pvc = core.create_namespaced_persistent_volume_claim(
        NS,
        {
            "metadata": {"name": "c"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1500Mi"}}},
        },
    )
    assert pvc.spec.volume_mode == "Filesystem"
    assert pvc.spec.resources.requests == {"storage": "1500Mi"}  # quantities left as given


def test_deployment_becomes_available_unless_its_controller_is_off(
    cluster: FakeCluster, core: client.CoreV1Api, apps: client.AppsV1Api
) -> None:
    apps.create_namespaced_deployment(NS, deployment("api", replicas=3))
    status = apps.read_namespaced_deployment("api", NS).status
    assert (
        status.replicas,
        status.ready_replicas,
        status.updated_replicas,
        status.available_replicas,
        status.observed_generation,
    ) == (3, 3, 3, 3, 1)
    conditions = {c.type: (c.status, c.reason) for c in status.conditions}
    assert conditions == {
        "Available": ("True", "MinimumReplicasAvailable"),
        "Progressing": ("True", "NewReplicaSetAvailable"),
    }
    pods = core.list_namespaced_pod(NS, label_selector="app=api").items
    assert len(pods) == 3 and {p.status.phase for p in pods} == {"Running"}

    cluster.controllers.deployments = False
    apps.create_namespaced_deployment(NS, deployment("slow"))
    for _ in range(3):  # polling does not help while the controller is off
        assert apps.read_namespaced_deployment("slow", NS).status.ready_replicas is None
    cluster.controllers.deployments = True
    assert apps.read_namespaced_deployment("slow", NS).status.ready_replicas == 2


def test_statefulset_pods_and_claims_outlive_it(
    cluster: FakeCluster, core: client.CoreV1Api, apps: client.AppsV1Api
) -> None:
    apps.create_namespaced_stateful_set(NS, statefulset("db", replicas=2))
    status = apps.read_namespaced_stateful_set("db", NS).status
    assert (
        status.ready_replicas,
        status.current_replicas,
        status.updated_replicas,
        status.available_replicas,
        status.observed_generation,
    ) == (2, 2, 2, 2, 1)
    pods = core.list_namespaced_pod(NS, label_selector="app=db").items
    assert [(p.metadata.name, p.status.phase) for p in pods] == [("db-0", "Running"), ("db-1", "Running")]
    assert pods[0].spec.volumes[-1].persistent_volume_claim.claim_name == "data-db-0"
    claims = core.list_namespaced_persistent_volume_claim(NS, label_selector="tier=storage").items
    assert [(c.metadata.name, c.metadata.labels) for c in claims] == [
        ("data-db-0", {"tier": "storage", "app": "db"}),
        ("data-db-1", {"tier": "storage", "app": "db"}),
    ]

    apps.delete_namespaced_stateful_set("db", NS, propagation_policy="Foreground")
    assert core.list_namespaced_pod(NS, label_selector="app=db").items == []
    left = core.list_namespaced_persistent_volume_claim(NS, label_selector="app=db").items
    assert [c.metadata.name for c in left] == ["data-db-0", "data-db-1"]


def test_job_completes_and_foreground_deletion_takes_its_pod(
    cluster: FakeCluster, core: client.CoreV1Api, batch: client.BatchV1Api
) -> None:
    batch.create_namespaced_job(NS, job("migrate"))
    status = batch.read_namespaced_job("migrate", NS).status
    assert status.succeeded == 1 and status.completion_time is not None
    assert [(c.type, c.status) for c in status.conditions][-1] == ("Complete", "True")
    pods = core.list_namespaced_pod(NS, label_selector="job-name=migrate").items
    assert [p.status.phase for p in pods] == ["Succeeded"]
    assert pods[0].metadata.owner_references[0].kind == "Job"

    batch.delete_namespaced_job("migrate", NS, body=client.V1DeleteOptions(propagation_policy="Foreground"))
    assert core.list_namespaced_pod(NS, label_selector="job-name=migrate").items == []

    # without a policy batch/v1 orphans the pods, as a real server does
    batch.create_namespaced_job(NS, job("seed"))
    batch.delete_namespaced_job("seed", NS)
    orphans = core.list_namespaced_pod(NS, label_selector="job-name=seed").items
    assert len(orphans) == 1 and orphans[0].metadata.owner_references is None


def test_cronjob_run_leaves_a_job(cluster: FakeCluster, core: client.CoreV1Api, batch: client.BatchV1Api) -> None:
    batch.create_namespaced_cron_job(
        NS,
        {
            "metadata": {"name": "nightly"},
            "spec": {
                "schedule": "0 3 * * *",
                "jobTemplate": {
                    "metadata": {"labels": {"app": "nightly", "pipeline": "shop"}},
                    "spec": {"template": pod_template("nightly", restart="OnFailure")},
                },
            },
        },
    )
    created = cluster.run_cronjob(NS, "nightly")
    jobs = batch.list_namespaced_job(NS, label_selector="pipeline=shop").items
    assert [j.metadata.name for j in jobs] == [created["metadata"]["name"]]
    assert jobs[0].metadata.name.startswith("nightly-")
    owner = jobs[0].metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.controller) == ("CronJob", "nightly", True)
    assert jobs[0].status.succeeded == 1
    cron = batch.read_namespaced_cron_job("nightly", NS).status
    assert cron.last_schedule_time is not None and cron.last_successful_time is not None

    batch.delete_namespaced_cron_job("nightly", NS, propagation_policy="Background")
    assert batch.list_namespaced_job(NS).items == []
    assert core.list_namespaced_pod(NS, label_selector="app=nightly").items == []


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "shortNames": ["gd"]},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object"}},
            }
        ],
    },
}


def test_crd_becomes_established_and_serves_its_resources(cluster: FakeCluster) -> None:
    ext = client.ApiextensionsV1Api(cluster.api_client())
    custom = client.CustomObjectsApi(cluster.api_client())
    dyn = cluster.dynamic_client()  # discovers before the CRD exists
    ext.create_custom_resource_definition(CRD)
    crd = ext.read_custom_resource_definition("gadgets.example.com")
    conditions = {c.type: c.status for c in crd.status.conditions}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert crd.status.accepted_names.kind == "Gadget"

    gadgets = dyn.resources.get(api_version="example.com/v1", kind="Gadget")
    assert gadgets.namespaced and gadgets.short_names == ["gd"]
    body = {
        "apiVersion": "example.com/v1",
        "kind": "Gadget",
        "metadata": {"name": "g1", "labels": {"size": "big"}},
        "spec": {"colour": "red"},
        "status": {"ok": True},
    }
    made = custom.create_namespaced_custom_object("example.com", "v1", NS, "gadgets", body)
    assert made["spec"] == {"colour": "red"} and "ok" not in made.get("status", {})
    listed = dyn.get(gadgets, namespace=NS, label_selector="size=big")
    assert [(g.kind, g.metadata.name) for g in listed.items] == [("Gadget", "g1")]

    ext.delete_custom_resource_definition("gadgets.example.com")
    with pytest.raises(ApiException) as err:
        custom.get_namespaced_custom_object("example.com", "v1", NS, "gadgets", "g1")
    assert err.value.status == 404


def test_crd_stays_unserved_while_its_controller_is_off(cluster: FakeCluster) -> None:
    cluster.controllers.crds = False
    ext = client.ApiextensionsV1Api(cluster.api_client())
    ext.create_custom_resource_definition(CRD)
    assert ext.read_custom_resource_definition("gadgets.example.com").status.conditions is None
    custom = client.CustomObjectsApi(cluster.api_client())
    with pytest.raises(ApiException) as err:
        custom.list_namespaced_custom_object("example.com", "v1", NS, "gadgets")
    assert err.value.status == 404


def test_forbid_gives_403(cluster: FakeCluster, apps: client.AppsV1Api) -> None:
    cluster.forbid("create", "deployments")
    with pytest.raises(ApiException) as err:
        apps.create_namespaced_deployment(NS, deployment("api"))
    assert status_of(err) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'deployments.apps is forbidden: User "fake-user" cannot create resource '
        f'"deployments" in API group "apps" in the namespace "{NS}"',
        "reason": "Forbidden",
        "code": 403,
        "details": {"group": "apps", "kind": "deployments"},
    }
    assert apps.list_namespaced_deployment(NS).items == []  # other verbs still allowed
    cluster.allow("create", "deployments")
    assert apps.create_namespaced_deployment(NS, deployment("api")).metadata.name == "api"


def test_delete_collection_by_label(core: client.CoreV1Api) -> None:
    for name, app in (("a", "web"), ("b", "web"), ("c", "db")):
        core.create_namespaced_config_map(NS, {"metadata": {"name": name, "labels": {"app": app}}})
    core.delete_collection_namespaced_config_map(NS, label_selector="app=web")
    assert [cm.metadata.name for cm in core.list_namespaced_config_map(NS).items] == ["c"]


def test_namespace_deletion_cascades(cluster: FakeCluster, core: client.CoreV1Api, apps: client.AppsV1Api) -> None:
    apps.create_namespaced_deployment(NS, deployment("api"))
    apps.create_namespaced_stateful_set(NS, statefulset("db"))
    core.create_namespaced_secret(NS, {"metadata": {"name": "s"}, "stringData": {"k": "v"}})
    kinds = sorted(o["kind"] for o in cluster.objects(namespace=NS))
    assert kinds == [
        "Deployment",
        "PersistentVolumeClaim",
        "PersistentVolumeClaim",
        "Pod",
        "Pod",
        "Pod",
        "Pod",
        "ReplicaSet",
        "Secret",
        "StatefulSet",
    ]
    core.delete_namespace(NS)
    with pytest.raises(ApiException) as err:
        core.read_namespace(NS)
    assert err.value.status == 404
    assert cluster.objects(namespace=NS) == []
    assert cluster.objects("PersistentVolumeClaim") == []


def test_namespace_stays_terminating_while_its_controller_is_off(cluster: FakeCluster, core: client.CoreV1Api) -> None:
    cluster.controllers.namespaces = False
    core.create_namespaced_config_map(NS, {"metadata": {"name": "cfg"}})
    core.delete_namespace(NS)
    assert core.read_namespace(NS).status.phase == "Terminating"
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(NS, {"metadata": {"name": "late"}})
    assert (err.value.status, status_of(err)["reason"]) == (403, "Forbidden")
    cluster.controllers.namespaces = True
    assert [ns.metadata.name for ns in core.list_namespace().items if ns.metadata.name == NS] == []
    assert cluster.objects("ConfigMap") == []


def test_foreground_deletion_waits_for_the_garbage_collector(
    cluster: FakeCluster, core: client.CoreV1Api, apps: client.AppsV1Api
) -> None:
    cluster.controllers.garbage_collector = False
    apps.create_namespaced_deployment(NS, deployment("api"))
    apps.delete_namespaced_deployment("api", NS, propagation_policy="Foreground")
    lingering = apps.read_namespaced_deployment("api", NS).metadata
    assert lingering.deletion_timestamp is not None and lingering.finalizers == ["foregroundDeletion"]
    assert len(core.list_namespaced_pod(NS, label_selector="app=api").items) == 2
    cluster.controllers.garbage_collector = True
    assert core.list_namespaced_pod(NS, label_selector="app=api").items == []
    assert apps.list_namespaced_deployment(NS).items == []
    assert apps.list_namespaced_replica_set(NS).items == []
