"""The main container and pod volumes of a container pattern, built from the common stage fields
so that every pattern spells image, env, ports, resources and probes the same way."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kc.compiler import results
from kc.compiler.patterns import fanout
from kc.schemas import types as t
from kc.schemas import units
from kc.schemas.record import Record

# Each writable path is scratch space, bounded like /tmp (the security pass's).
WRITABLE_SIZE = "256Mi"


def image_ref(image: str, registry: str | None) -> str:
    """Prefix ``registry`` to an image given without one (Docker's rule: a first path component
    with a dot or a colon, or ``localhost``, names a registry)."""
    first, _, rest = image.partition("/")
    has_registry = bool(rest) and ("." in first or ":" in first or first == "localhost")
    if not registry or has_registry:
        return image
    return f"{registry.rstrip('/')}/{image}"


def env_list(env: dict[str, Any], patterns_of: dict[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name, value in env.items():
        if isinstance(value, dict) and "secret" in value:
            secret, key = value["secret"].split("/", 1)
            # A stage's name means the Secret it generates; any other name, a Secret in the cluster.
            ref = f"${{{secret}.secret}}" if secret in patterns_of else secret
            out.append({"name": name, "valueFrom": {"secretKeyRef": {"name": ref, "key": key}}})
        elif isinstance(value, dict) and "config" in value:
            config, key = value["config"].split("/", 1)
            # A kc config stage's ConfigMap name carries a content hash: refer to it by reference.
            ref = f"${{{config}.name}}" if patterns_of.get(config) == "config" else config
            out.append({"name": name, "valueFrom": {"configMapKeyRef": {"name": ref, "key": key}}})
        else:
            out.append({"name": name, "value": value})
    return out


def ports(params: dict[str, Any]) -> list[tuple[str, int]]:
    named = list((params.get("ports") or {}).items())
    if params.get("port") is not None and not any(name == "http" for name, _ in named):
        named.insert(0, ("http", params["port"]))
    return named


def resources(params: dict[str, Any]) -> dict[str, Any]:
    """Requests and limits of cpu, memory and ephemeral storage: the ``resources`` given, or the
    size's. Unless ``resources`` gives it, the ephemeral-storage limit also holds every
    ``writable`` path at its full size, so the pod's disk limit is not reached before theirs."""
    given = params.get("resources")
    # With resources, the ephemeral storage they leave out is the default size's.
    requests, limits = (dict(d) for d in t.SIZES["small" if given else params.get("size") or "small"])
    if given:
        exact = {"cpu": given["cpu"], "memory": given["memory"]}
        disk = given.get("ephemeral_storage")  # template parameters read in snake_case
        if disk is not None:
            exact[t.EPHEMERAL] = disk
            return {"requests": dict(exact), "limits": dict(exact)}
        requests, limits = {**exact, t.EPHEMERAL: requests[t.EPHEMERAL]}, {**exact, t.EPHEMERAL: limits[t.EPHEMERAL]}
    writable = len(params.get("writable") or [])
    if writable:
        limits[t.EPHEMERAL] = _mebibytes(_bytes(limits[t.EPHEMERAL]) + writable * _bytes(WRITABLE_SIZE))
    return {"requests": requests, "limits": limits}


def _bytes(amount: str) -> Decimal:
    return units.quantity(amount) or Decimal(0)


def _mebibytes(amount: Decimal) -> str:
    mebibytes = int(amount) // 2**20
    return f"{mebibytes // 1024}Gi" if mebibytes % 1024 == 0 else f"{mebibytes}Mi"


def probes(params: dict[str, Any]) -> dict[str, Any]:
    """Readiness asks what ``health`` says (an HTTP path on the first port, or a command), else
    whether the first port accepts connections. Liveness asks less, and less eagerly: whether the
    first port accepts connections, over a minute of failures. A server too busy to answer its
    health check then leaves the Service's endpoints without being restarted, which would only
    add a cold start to the load (docs/security.md, Probes)."""
    health, named = params.get("health"), ports(params)
    ready: dict[str, Any]
    if isinstance(health, dict):
        ready = {"exec": {"command": list(health["command"])}}
    elif not named:
        return {}  # nothing kc could ask; docs/security.md says what such a stage gets
    elif health:
        ready = {"httpGet": {"path": health, "port": named[0][0]}}
    else:
        ready = {"tcpSocket": {"port": named[0][0]}}
    # Without a port, the command is all there is to ask.
    live = {"tcpSocket": {"port": named[0][0]}} if named else ready
    return {
        "readinessProbe": {**ready, "periodSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {**live, "initialDelaySeconds": 10, "periodSeconds": 10, "failureThreshold": 6},
    }


def spread(selector: dict[str, str]) -> dict[str, Any]:
    """A pod affinity that prefers to put the stage's pods on different nodes
    (``kubernetes.io/hostname``), so that one node going down takes one replica with it. Only
    preferred: a cluster with fewer nodes than replicas still runs them all."""
    term = {"labelSelector": {"matchLabels": dict(selector)}, "topologyKey": "kubernetes.io/hostname"}
    return {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": term}]
        }
    }


class Data(Record, kw_only=False):
    """What a container's stage publishes, how it fans out and whether it is a finally step, read
    from its parameters' types."""

    results: tuple[str, ...] = ()  # the values it writes to /kc/results
    items: tuple[str, ...] = ()  # one pod per item, when it fans out
    shards: bool = False  # the items are the pods' completion indexes
    when: str | None = None  # always or failed: a finally step


def _texts(out: dict[str, Any]) -> list[str]:
    env = [e["value"] for e in out.get("env") or [] if isinstance(e.get("value"), str)]
    return [*out.get("command", []), *out.get("args", []), *env]


def _reading_results(out: dict[str, Any]) -> dict[str, Any]:
    """Each ``${stage.results.name}`` in command, args and env read from the results ConfigMap
    through a variable of its own, defined before the env entries that may use it."""
    found = results.reads(_texts(out))
    if not found:
        return out
    for key in ("command", "args"):
        if key in out:
            out[key] = [results.substitute(a) for a in out[key]]
    env = [
        {**e, "value": results.substitute(e["value"])} if isinstance(e.get("value"), str) else e
        for e in out.get("env") or []
    ]
    out["env"] = results.reader_env("${pipeline.results}", found) + env
    return out


def container(
    stage: str, params: dict[str, Any], patterns_of: dict[str, str], with_probes: bool, data: Data
) -> dict[str, Any]:
    mounts = params.get("mounts") or {}
    out: dict[str, Any] = {
        "name": stage,
        "image": image_ref(params["image"], params.get("registry")),
    }
    if params.get("pull_policy"):  # template parameters read in snake_case
        out["imagePullPolicy"] = params["pull_policy"]
    if params.get("command") is not None:
        out["command"] = list(params["command"])
    if params.get("args") is not None:
        out["args"] = list(params["args"])
    if params.get("env"):
        out["env"] = env_list(params["env"], patterns_of)
    out = _reading_results(out)
    if data.items:
        out = fanout.container(out, list(data.items), data.shards)
    named = ports(params)
    if named:
        out["ports"] = [{"name": n, "containerPort": p, "protocol": "TCP"} for n, p in named]
    out["resources"] = resources(params)
    if with_probes:
        out.update(probes(params))
    volume_mounts = [
        {"name": f"mount-{s}", "mountPath": path, **({"readOnly": True} if patterns_of.get(s) == "config" else {})}
        for s, path in mounts.items()
    ]
    volume_mounts += [
        {"name": f"writable-{i}", "mountPath": path} for i, path in enumerate(params.get("writable") or [])
    ]
    if data.results:
        volume_mounts.append(results.mount())
    if volume_mounts:
        out["volumeMounts"] = volume_mounts
    return out


def volumes(params: dict[str, Any], patterns_of: dict[str, str], data: Data) -> list[dict[str, Any]]:
    """Pod volumes for ``mounts`` (the names resolve as references, which also orders the stages)
    and for ``writable`` paths."""
    out: list[dict[str, Any]] = []
    for stage in params.get("mounts") or {}:
        if patterns_of.get(stage) == "config":
            out.append({"name": f"mount-{stage}", "configMap": {"name": f"${{{stage}.name}}"}})
        else:
            out.append({"name": f"mount-{stage}", "persistentVolumeClaim": {"claimName": f"${{{stage}.name}}"}})
    for index, _ in enumerate(params.get("writable") or []):
        out.append({"name": f"writable-{index}", "emptyDir": {"sizeLimit": WRITABLE_SIZE}})
    if data.results:
        out.append(results.volume())
    return out


def init_containers(main: dict[str, Any], data: Data) -> list[dict[str, Any]]:
    """The sidecar that reports a stage's results, if it declares any."""
    if not data.results:
        return []
    return [results.sidecar(main["image"], list(data.results), main.get("imagePullPolicy"))]


def data_mounts(
    stage: str, outputs: list[str], inputs: list[tuple[str, str]], fans: dict[str, tuple[str, ...]]
) -> list[dict[str, Any]]:
    """The data claim's directories: each output read-write at /data/out/<output>, each input
    (name, ``producer.output``) read-only at /data/in/<name>; a fanned-out stage's output is one
    directory per item (compiler/patterns/fanout.py)."""
    out: list[dict[str, Any]] = []
    for output in outputs:
        if fans.get(stage):
            out.append(fanout.writer_mount(stage, output))
        else:
            out.append({"name": "data", "mountPath": f"/data/out/{output}", "subPath": f"{stage}/{output}"})
    for name, wire in sorted(inputs):
        producer, _, output = wire.partition(".")
        if fans.get(producer):
            out += fanout.reader_mounts(name, producer, output, list(fans[producer]))
        else:
            out.append(
                {"name": "data", "mountPath": f"/data/in/{name}", "subPath": f"{producer}/{output}", "readOnly": True}
            )
    return out
