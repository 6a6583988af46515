"""security: every pod secure by default, following the Pod Security Standards' "restricted"
profile (https://kubernetes.io/docs/concepts/security/pod-security-standards/).

Values are filled in only where absent, so a stage can relax one with ``patch``; the policy pass
then decides whether the relaxation is allowed.
"""

from __future__ import annotations

from typing import Any

from kc.compiler import ir, pods, source
from kc.compiler.patterns import container
from kc.schemas import record
from kc.schemas import types as t

# A high UID/GID keeps a container's user from colliding with a user on the host.
UID = 10001

POD = {
    "runAsNonRoot": True,
    "runAsUser": UID,
    "runAsGroup": UID,
    "fsGroup": UID,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER = {
    "allowPrivilegeEscalation": False,
    "privileged": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
TMP = "tmp"
UNPRIVILEGED_PORTS = "net.ipv4.ip_unprivileged_port_start"


def _fill(target: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    out = dict(target)
    for key, value in defaults.items():
        if key not in out:
            out[key] = source.copied(value)  # each object's own
        elif isinstance(value, dict) and isinstance(out[key], dict):
            out[key] = _fill(out[key], value)
    return out


def _with_pull_policy(c: dict[str, Any]) -> dict[str, Any]:
    """``imagePullPolicy: Always`` unless the stage chose one: the kubelet then checks the
    registry's credentials on every start, so a private image cached on a shared node is not
    run by a pod that may not pull it, and a re-pushed tag cannot leave nodes running different
    images (https://kubernetes.io/docs/concepts/containers/images/#image-pull-policy). With a
    cached image the check costs one manifest request."""
    if "imagePullPolicy" in c:
        return dict(c)
    out: dict[str, Any] = {}
    for key, value in c.items():
        out[key] = value
        if key == "image":
            out["imagePullPolicy"] = "Always"
    return out


def _secure_container(c: dict[str, Any]) -> dict[str, Any]:
    out = _with_pull_policy(c)
    out["securityContext"] = _fill(c.get("securityContext") or {}, CONTAINER)
    if "resources" not in out or not out["resources"].get("limits"):
        out["resources"] = _fill(out.get("resources") or {}, container.resources({}))
    out["resources"] = _with_ephemeral_storage(out["resources"])
    # A read-only root filesystem still needs a writable /tmp for most programs.
    mounts = list(out.get("volumeMounts") or [])
    if not any(m.get("mountPath") == "/tmp" for m in mounts):
        mounts.append({"name": TMP, "mountPath": "/tmp"})
    out["volumeMounts"] = mounts
    return out


def _with_ephemeral_storage(resources: dict[str, Any]) -> dict[str, Any]:
    """The default size's ephemeral storage for a container that says nothing of it (one from
    ``manifests``, or patched): a request or a limit of its own is left as it is, since a default
    beside it could contradict it (a limit below the request)."""
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    if t.EPHEMERAL in requests or t.EPHEMERAL in limits:
        return resources
    request, limit = (size[t.EPHEMERAL] for size in t.SIZES["small"])
    return {**resources, "requests": {**requests, t.EPHEMERAL: request}, "limits": {**limits, t.EPHEMERAL: limit}}


def _low_ports(spec: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """A non-root program cannot bind a port below 1024, unless the pod's network namespace says
    ports from the lowest one it serves up are unprivileged: a safe sysctl, which the restricted
    profile allows, instead of the NET_BIND_SERVICE capability, which the program would also
    have to be built to use."""
    ports = [p.get("containerPort", 1024) for c in pods.containers(spec) for p in c.get("ports") or []]
    low = min([p for p in ports if isinstance(p, int) and p < 1024], default=None)
    sysctls = list(context.get("sysctls") or [])
    if low is None or any(s.get("name") == UNPRIVILEGED_PORTS for s in sysctls):
        return context
    return {**context, "sysctls": [*sysctls, {"name": UNPRIVILEGED_PORTS, "value": str(low)}]}


def _secure_pod(spec: dict[str, Any]) -> dict[str, Any]:
    out = dict(spec)
    out["securityContext"] = _low_ports(spec, _fill(spec.get("securityContext") or {}, POD))
    out.setdefault("automountServiceAccountToken", False)
    for key in ("initContainers", "containers"):
        if key in out:
            out[key] = [_secure_container(c) for c in out[key]]
    volumes = list(out.get("volumes") or [])
    uses_tmp = any(m.get("name") == TMP for c in pods.containers(out) for m in c.get("volumeMounts", []))
    if uses_tmp and not any(v.get("name") == TMP for v in volumes):
        volumes.append({"name": TMP, "emptyDir": {"sizeLimit": container.WRITABLE_SIZE}})
    if volumes:
        out["volumes"] = volumes
    return out


def security(program: ir.Draft) -> ir.Draft:
    steps = tuple(
        record.replace(
            step,
            objects=tuple(record.replace(o, manifest=pods.map_specs(o.manifest, _secure_pod)) for o in step.objects),
        )
        for step in program.steps
    )
    return record.replace(program, steps=steps)
