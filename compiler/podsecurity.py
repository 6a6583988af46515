"""The Pod Security Standards, rule by rule, as policy keys: what a pod spec does that the
"restricted" profile forbids, and the level a namespace can enforce under a policy.
https://kubernetes.io/docs/concepts/security/pod-security-standards/

Each rule belongs to the policy key that relaxes it; the policy pass turns a violation into an
error unless the spec's policy sets that key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

Level = Literal["restricted", "baseline", "privileged"]
# Which key relaxes which rules, and the most a namespace can then enforce. Keys that relax a
# baseline rule leave nothing to enforce; the others still allow baseline.
KEYS: dict[str, Level] = {
    "allow_privileged": "privileged",  # privileged, escalation, capabilities, host namespaces and ports, /proc, sysctls
    "allow_host_paths": "privileged",
    "allow_unconfined": "privileged",  # seccomp, AppArmor and SELinux options
    "allow_root": "baseline",
    "allow_volume_types": "baseline",
}
RESTRICTED_VOLUMES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})

Violation = tuple[str, str, str]  # (policy key, the field to point at, what is wrong)


def level(relaxed: set[str]) -> Level:
    """The strictest level a namespace can enforce when these policy keys are relaxed."""
    found = {KEYS[key] for key in relaxed if key in KEYS}
    return "privileged" if "privileged" in found else "baseline" if found else "restricted"


def _containers(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        yield from (c for c in spec.get(field) or [] if isinstance(c, dict))


def _options(context: dict[str, Any], who: str) -> Iterator[Violation]:
    """seccomp, AppArmor and SELinux options of a pod's or a container's securityContext."""
    seccomp = (context.get("seccompProfile") or {}).get("type")
    if seccomp == "Unconfined":
        yield "allow_unconfined", "seccompProfile", f"{who} runs without a seccomp profile (Unconfined)"
    apparmor = (context.get("appArmorProfile") or {}).get("type")
    if apparmor == "Unconfined":
        yield "allow_unconfined", "appArmorProfile", f"{who} runs without an AppArmor profile (Unconfined)"
    selinux = context.get("seLinuxOptions") or {}
    if selinux.get("type", "") not in SELINUX_TYPES or selinux.get("user") or selinux.get("role"):
        yield "allow_unconfined", "seLinuxOptions", f"{who} sets SELinux options beyond the container types"


def violations(spec: dict[str, Any]) -> Iterator[Violation]:
    """Every rule of the restricted profile that the pod spec breaks."""
    pod = spec.get("securityContext") or {}
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            yield "allow_privileged", key, f"the pod sets {key}"
    for sysctl in pod.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            yield "allow_privileged", "sysctls", f"the pod sets the unsafe sysctl {sysctl.get('name')}"
    yield from _options(pod, "the pod")
    if pod.get("seccompProfile") is None and any(
        (c.get("securityContext") or {}).get("seccompProfile") is None for c in _containers(spec)
    ):
        yield "allow_unconfined", "seccompProfile", "a container has no seccomp profile (kc's default: RuntimeDefault)"
    for volume in spec.get("volumes") or []:
        kind = next((k for k in volume if k != "name"), "")
        if kind == "hostPath":
            yield "allow_host_paths", "hostPath", f"volume '{volume.get('name')}' is a host path"
        elif kind not in RESTRICTED_VOLUMES:
            yield "allow_volume_types", kind, f"volume '{volume.get('name')}' is a {kind} volume"
    for c in _containers(spec):
        yield from _container(c, pod)


def _container(c: dict[str, Any], pod: dict[str, Any]) -> Iterator[Violation]:
    who = f"container '{c.get('name')}'"
    ctx = c.get("securityContext") or {}
    if ctx.get("privileged"):
        yield "allow_privileged", "privileged", f"{who} is privileged"
    if ctx.get("allowPrivilegeEscalation") is not False:
        yield "allow_privileged", "allowPrivilegeEscalation", f"{who} may gain privileges (allowPrivilegeEscalation)"
    capabilities = ctx.get("capabilities") or {}
    added = [cap for cap in capabilities.get("add") or [] if cap != "NET_BIND_SERVICE"]
    if added:
        yield "allow_privileged", "add", f"{who} adds capabilities: {', '.join(map(str, added))}"
    if "ALL" not in (capabilities.get("drop") or []):
        yield "allow_privileged", "drop", f"{who} does not drop all capabilities"
    if ctx.get("procMount", "Default") != "Default":
        yield "allow_privileged", "procMount", f"{who} unmasks /proc"
    if any(port.get("hostPort") for port in c.get("ports") or []):
        yield "allow_privileged", "hostPort", f"{who} binds a port of the node (hostPort)"
    yield from _options(ctx, who)
    non_root = ctx.get("runAsNonRoot", pod.get("runAsNonRoot"))
    if non_root is not True:
        yield "allow_root", "runAsNonRoot", f"{who} may run as root (runAsNonRoot is not true)"
    if ctx.get("runAsUser", pod.get("runAsUser")) == 0:
        yield "allow_root", "runAsUser", f"{who} runs as root (runAsUser: 0)"
