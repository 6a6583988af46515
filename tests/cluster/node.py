"""A real node for the local cluster: kubelet, containerd and runc, a CNI bridge, all under DIR/node.

``up`` calls :func:`start` once the API server answers and :func:`stop` (through ``down``) takes
everything away again: the kubelet, the containers (through runc), the shims, containerd, the
mounts under DIR, the bridge, the cgroups and the CNI state. docs/cluster.md says why each setting
is what it is.

The node is named ``kc-node``, labelled ``kc.dev/node=real`` and tainted ``kc.dev/node=real:NoSchedule``:
pods go there only when they tolerate the taint, as every pod of a namespace annotated with
:data:`NAMESPACE_ANNOTATIONS` does. The fake nodes stay the default.

Standard library only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import busybox
import netpol
import services
from support import Api, ClusterError, alive, free_port, issue, save_state, say, start, wait_for

HERE = Path(__file__).resolve().parent
NAME = "kc-node"
LABEL = ("kc.dev/node", "real")
TAINT = {"key": "kc.dev/node", "value": "real", "effect": "NoSchedule"}
CLOUD_TAINT = "node.cloudprovider.kubernetes.io/uninitialized"
SUBNET_ANNOTATION = "kc.dev/pod-subnet"

# Every pod of a namespace with these annotations runs on the real node (the API server's
# PodNodeSelector and PodTolerationRestriction admission plugins add the selector and toleration).
NAMESPACE_ANNOTATIONS = {
    "scheduler.alpha.kubernetes.io/node-selector": f"{LABEL[0]}={LABEL[1]}",
    "scheduler.alpha.kubernetes.io/defaultTolerations": json.dumps(
        [{"key": TAINT["key"], "operator": "Equal", "value": TAINT["value"], "effect": TAINT["effect"]}]
    ),
}

# command -> the Debian package that brings it
PACKAGES = {
    "containerd": "containerd",
    "ctr": "containerd",
    "runc": "runc",
    "/usr/lib/cni/bridge": "containernetworking-plugins",
    "busybox": "busybox-static",
    "iptables": "iptables",  # kube-proxy (services.py)
}
CNI_BIN = Path("/usr/lib/cni")
CGROUP_FS = Path("/sys/fs/cgroup")
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")


# --- can this machine run it? -------------------------------------------------------------------------


def _missing_commands() -> list[str]:
    return [name for name in PACKAGES if not (Path(name).exists() if name.startswith("/") else shutil.which(name))]


def install_packages() -> None:
    """apt-get what is missing (as .ci/run does for its tools): CI starts from a fresh machine."""
    missing = sorted({PACKAGES[name] for name in _missing_commands()})
    if not missing or not shutil.which("apt-get"):
        return
    say(f"installing {', '.join(missing)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
        subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True)


def unavailable() -> str | None:
    """Why this machine cannot run the real node, or None when it can (after installing packages)."""
    if not hasattr(os, "geteuid") or os.uname().sysname != "Linux":
        return "a real node needs Linux"
    if os.geteuid() != 0:
        return "a real node needs root (the kubelet and containerd mount, and make cgroups and network namespaces)"
    if not cgroup_v1_controllers() and not (CGROUP_FS / "cgroup.controllers").exists():
        return f"no cgroup hierarchy is mounted at {CGROUP_FS}"
    install_packages()
    missing = _missing_commands()
    if missing:
        packages = sorted({PACKAGES[name] for name in missing})
        return f"{', '.join(missing)} missing, and apt-get could not install {', '.join(packages)}"
    return None


def cgroup_v1_controllers() -> list[Path]:
    """The cgroup v1 hierarchies (and the v2 one a hybrid machine mounts beside them)."""
    if not CGROUP_FS.is_dir() or (CGROUP_FS / "cgroup.controllers").exists():
        return []
    return sorted(path for path in CGROUP_FS.iterdir() if path.is_dir() and not path.is_symlink())


# --- names and places -----------------------------------------------------------------------------------


def identity(root: Path) -> dict[str, Any]:
    """What keeps two clusters' nodes on one machine apart: bridge, subnet, cgroup, socket, ports."""
    tag = hashlib.sha256(str(root).encode()).hexdigest()[:6]
    home = root / "node"
    return {
        "tag": tag,
        "bridge": f"kc{tag}",
        "network": f"kc-{tag}",
        "subnet": f"10.88.{int(tag, 16) % 250 + 1}.0/24",
        "dns": f"10.88.{int(tag, 16) % 250 + 1}.1",  # the bridge's address: the pods' gateway and DNS
        "cgroup": f"/kc-{tag}",
        "home": str(home),
        "socket": str(home / "containerd" / "containerd.sock"),
        "runc_root": str(home / "containerd" / "runc"),
        "port": free_port(),
    }


# --- configuration --------------------------------------------------------------------------------------


def make_pki(pki: Path) -> None:
    """The kubelet's certificate: a client as the node (the Node authorizer knows it by this
    subject) and the server the API server reaches for logs and exec, on 127.0.0.1."""
    names = f"DNS:{NAME},IP:127.0.0.1"
    usage = f"extendedKeyUsage=clientAuth,serverAuth\nsubjectAltName={names}"
    issue(pki, "node", f"/O=system:nodes/CN=system:node:{NAME}", usage)


CONTAINERD_CONFIG = """\
# Written by tests/cluster/up: containerd for the local cluster's real node.
version = 2
root = "{home}/containerd/root"
state = "{home}/containerd/state"

[grpc]
  address = "{socket}"

[ttrpc]
  address = "{socket}.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "{home}/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  enable_unprivileged_ports = true
  enable_unprivileged_icmp = true
  # The machine's root may lack CAP_SYS_RESOURCE: no oom_score_adj below containerd's own (0)
  restrict_oom_score_adj = true

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{runc_root}"

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin}"
    conf_dir = "{home}/cni/net.d"
    max_conf_num = 1

  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{home}/containerd/certs.d"
"""


def containerd_config(node: dict[str, Any]) -> str:
    return CONTAINERD_CONFIG.format(**node, pause=busybox.PAUSE, cni_bin=CNI_BIN)


def registry_config_path(root: Path) -> Path:
    """Where containerd looks for ``HOST/hosts.toml``: one directory per registry host."""
    return root / "node" / "containerd" / "certs.d"


def mirror_registries(config_path: Path, registry: str, hosts: Iterable[str]) -> list[Path]:
    """Make containerd pull and resolve each of ``hosts`` (``docker.io``, ``ghcr.io``, …) from the
    plain-HTTP registry at ``registry`` (``127.0.0.1:PORT``) instead; the files written."""
    written = []
    for host in hosts:
        path = config_path / host / "hosts.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f'# Written by tests/cluster/up: {host} comes from the local registry.\nserver = "http://{registry}"\n\n'
            f'[host."http://{registry}"]\n  capabilities = ["pull", "resolve"]\n'
        )
        written.append(path)
    return written


SPARE_FROM = 240


def spare_addresses(node: dict[str, Any]) -> list[str]:
    """The last addresses of the node's subnet, which no pod gets: tests give them to network
    namespaces of their own that stand for places outside the cluster (tests/test_network_policy.py)."""
    prefix = node["subnet"].rsplit(".", 1)[0]
    return [f"{prefix}.{last}" for last in range(SPARE_FROM, 255)]


def cni_config(node: dict[str, Any]) -> dict[str, Any]:
    """A bridge on the host with one address of the node's subnet (the kubelet's probes reach pods
    through it) and no default route in the pods: they reach each other and nothing else. Pods get
    addresses up to .239; the rest are spare (:func:`spare_addresses`)."""
    last = node["subnet"].rsplit(".", 1)[0] + f".{SPARE_FROM - 1}"
    ipam = {
        "type": "host-local",
        "ranges": [[{"subnet": node["subnet"], "rangeEnd": last}]],
        "routes": services.pod_routes(node),  # the service range, where kube-proxy handles it
        "dataDir": f"{node['home']}/cni/ipam",
    }
    bridge = {"type": "bridge", "bridge": node["bridge"], "isGateway": True, "ipMasq": False, "ipam": ipam}
    return {"cniVersion": "1.0.0", "name": node["network"], "plugins": [bridge, {"type": "loopback"}]}


def kubelet_config(node: dict[str, Any], pki: Path) -> dict[str, Any]:
    home = node["home"]
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False,  # these machines mount cgroup v1; the kubelet refuses it otherwise
        "cgroupDriver": "cgroupfs",  # containerd 1.6 cannot tell the kubelet (no RuntimeConfig call)
        "cgroupRoot": node["cgroup"],  # its own tree: two nodes on one machine do not meet
        "containerRuntimeEndpoint": f"unix://{node['socket']}",
        "address": "127.0.0.1",
        "port": node["port"],
        "readOnlyPort": 0,
        "healthzPort": 0,
        "tlsCertFile": str(pki / "node.crt"),
        "tlsPrivateKeyFile": str(pki / "node.key"),
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(pki / "ca.crt")},
        },
        "authorization": {"mode": "Webhook"},  # the API server's client certificate is system:masters
        "registerWithTaints": [TAINT],
        "failSwapOn": False,
        "resolvConf": "",  # no name servers of the host's in the pods: there is no route out
        "clusterDNS": [node["dns"]],  # services.py: CoreDNS, or dns.py
        "clusterDomain": "cluster.local",
        "podLogsDir": f"{home}/pod-logs",
        "serializeImagePulls": False,
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "localStorageCapacityIsolation": True,
    }


def write_files(node: dict[str, Any], pki: Path, kubeconfig: dict[str, Any]) -> None:
    home = Path(node["home"])
    for sub in ("containerd/certs.d", "cni/net.d", "cni/ipam", "kubelet", "pod-logs"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    (home / "containerd.toml").write_text(containerd_config(node))
    (home / "cni" / "net.d" / "10-kc.conflist").write_text(json.dumps(cni_config(node), indent=2) + "\n")
    (home / "kubelet.json").write_text(json.dumps(kubelet_config(node, pki), indent=2) + "\n")
    (home / "kubeconfig").write_text(json.dumps(kubeconfig, indent=2) + "\n")
    busybox.write_archive(home / "images.tar")


# --- starting -------------------------------------------------------------------------------------------


def start_node(root: Path, bin_dir: Path, api: Api, kubeconfig: dict[str, Any], state: dict[str, Any]) -> None:
    """Start containerd and the kubelet and wait until the node is Ready; a ClusterError says why not."""
    node = identity(root)
    outside = ["/var/lib/cni/results", "/var/lib/cni", "/run/containerd/s", "/run/containerd"]
    made = [path for path in outside if not Path(path).exists()]  # the CNI library and the shims use them
    state["node"] = {**node, "ip_forward": IP_FORWARD.read_text().strip(), "made": made}
    save_state(root, state)
    services.claim_proxy(root, bin_dir, node, state)  # before the CNI configuration
    write_files(node, root / "pki", kubeconfig)
    create_cgroups(node["cgroup"])
    state["node"]["registry"] = serve_images(root)
    save_state(root, state)
    make_bridge(node)
    services.start_dns(root, node, api, state)
    start("containerd", ["containerd", "--config", f"{node['home']}/containerd.toml"], root, state)
    wait_for("containerd", lambda: ctr(node, "version").returncode == 0, root, timeout=30)
    imported = ctr(node, "images", "import", f"{node['home']}/images.tar")
    if imported.returncode != 0:
        raise ClusterError(f"importing the pause image failed: {imported.stderr.strip()}")
    start("kubelet", kubelet_argv(root, bin_dir, node), root, state)
    wait_for(f"node {NAME} to register", lambda: api.call("GET", f"/api/v1/nodes/{NAME}")[0] == 200, root, 60)
    initialise(api)
    wait_for(f"node {NAME} to be Ready", lambda: node_ready(api), root, timeout=60)
    services.finish(root, bin_dir, node, api, state)  # kube-proxy
    enforced = netpol.start_engine(root, node, api, state)  # NetworkPolicy, beside kube-proxy
    # The pods' subnet, whose spare addresses tests give to places outside the cluster.
    annotations = {netpol.ANNOTATION: enforced, SUBNET_ANNOTATION: node["subnet"]}
    api.patch(f"/api/v1/nodes/{NAME}", {"metadata": {"annotations": annotations}})


def make_bridge(node: dict[str, Any]) -> None:
    """The CNI bridge with its gateway address, before the first pod, so that the cluster DNS
    (dns.py) can listen there; the bridge plugin takes the bridge as it finds it."""
    prefix = node["subnet"].rsplit("/", 1)[1]
    for command in (
        ["ip", "link", "add", "name", node["bridge"], "type", "bridge"],
        ["ip", "addr", "add", f"{node['dns']}/{prefix}", "dev", node["bridge"]],
        ["ip", "link", "set", node["bridge"], "up"],
    ):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise ClusterError(f"{' '.join(command)} failed: {done.stderr.strip()}")


def serve_images(root: Path) -> str | None:
    """Start the loopback registry of stand-in images (images.py, when it is here) and make
    containerd pull the hosts it stands in for from there; its address, or None."""
    try:
        import images
    except ImportError:
        return None
    try:
        registry = str(images.serve(root))
    except Exception as error:  # whatever went wrong, the node still runs busybox
        say(f"no stand-in images ({error}); the node has {busybox.IMAGE} only")
        return None
    mirror_registries(registry_config_path(root), registry, images.MIRRORED_HOSTS)
    return registry


def stop_images(root: Path) -> None:
    with contextlib.suppress(ImportError):
        import images

        images.stop(root)


def kubelet_argv(root: Path, bin_dir: Path, node: dict[str, Any]) -> list[str]:
    home = node["home"]
    return [
        str(bin_dir / "kubelet"),
        "--config",
        f"{home}/kubelet.json",
        "--kubeconfig",
        f"{home}/kubeconfig",
        "--root-dir",
        f"{home}/kubelet",
        "--cert-dir",
        f"{home}/kubelet/pki",
        "--hostname-override",
        NAME,
        "--node-labels",
        f"{LABEL[0]}={LABEL[1]}",
        # The kubelet refuses a loopback node IP; as with an external cloud provider, up sets the
        # node's addresses itself (initialise), and the kubelet keeps them.
        "--cloud-provider",
        "external",
        "--v",
        "1",
    ]


def ctr(node: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    command = ["ctr", "--address", node["socket"], "--namespace", "k8s.io", *args]
    return subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)


def initialise(api: Api) -> None:
    """What a cloud controller would do: give the node its address and lift the 'uninitialised' taint."""
    addresses = [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": NAME}]
    api.patch(f"/api/v1/nodes/{NAME}/status", {"status": {"addresses": addresses}}, "strategic-merge")
    for _ in range(40):  # the kubelet may add the taint a moment after it registered
        code, found = api.call("GET", f"/api/v1/nodes/{NAME}")
        taints = (found.get("spec") or {}).get("taints") or [] if code == 200 else []
        if any(t["key"] == CLOUD_TAINT for t in taints):
            kept = [t for t in taints if t["key"] != CLOUD_TAINT]
            api.patch(f"/api/v1/nodes/{NAME}", {"spec": {"taints": kept}})
            return
        time.sleep(0.25)


def node_ready(api: Api) -> bool:
    code, found = api.call("GET", f"/api/v1/nodes/{NAME}")
    if code != 200:
        return False
    conditions = (found.get("status") or {}).get("conditions") or []
    taints = (found.get("spec") or {}).get("taints") or []
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
    return ready and not any(t["key"] == CLOUD_TAINT for t in taints)


# --- stopping -------------------------------------------------------------------------------------------


def stop_node(root: Path, state: dict[str, Any]) -> None:
    """Take the node away: kubelet, containers, shims, containerd, mounts, bridge, cgroups, CNI state.
    Safe to run on a node that never started or is half gone."""
    node = state.get("node")
    if not node:
        return
    netpol.stop_engine(state)  # its rules first: a queue nobody reads drops every packet
    services.stop(root, state)  # kube-proxy and its rules
    pids = state.get("pids", {})
    _kill(pids.get("kubelet"))
    containers = runc(node, "list", "--quiet").stdout.split()
    for container in containers:
        runc(node, "kill", "--all", container, "KILL")
        runc(node, "delete", "--force", container)
    _kill(pids.get("containerd"))
    for pid in shims(node):
        _kill(pid, own_group=False)
    unmount_under(Path(node["home"]))
    _kill(pids.get("dns"))
    remove_network(node, containers)
    remove_cgroups(node["cgroup"])
    stop_images(root)
    with contextlib.suppress(OSError):
        if IP_FORWARD.read_text().strip() != node["ip_forward"]:
            IP_FORWARD.write_text(node["ip_forward"])  # the bridge plugin turns forwarding on
    shutil.rmtree(node["home"], ignore_errors=True)


def remove_network(node: dict[str, Any], containers: list[str]) -> None:
    """The bridge, and what the CNI library cached about each sandbox (pods' network namespaces
    are mounts under the state directory: unmounting them took the pods' interfaces away)."""
    subprocess.run(["ip", "link", "delete", node["bridge"]], capture_output=True)
    results = Path("/var/lib/cni/results")
    for container in containers:
        for cache in results.glob(f"*-{container}-*"):
            cache.unlink(missing_ok=True)
    for cache in results.glob(f"{node['network']}-*"):
        cache.unlink(missing_ok=True)
    for made in node.get("made", []):  # directories up created outside DIR, when empty
        with contextlib.suppress(OSError):
            os.rmdir(made)


def runc(node: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    command = ["runc", "--root", f"{node['runc_root']}/k8s.io", *args]
    return subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)


def _kill(pid: int | None, own_group: bool = True) -> None:
    """TERM, then KILL after 10 s; the whole process group when ``up`` started it in one of its own."""
    if not pid or not alive(pid):
        return
    send = os.killpg if own_group else os.kill
    with contextlib.suppress(ProcessLookupError):
        send(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        if alive(pid):
            send(pid, signal.SIGKILL)


def shims(node: dict[str, Any]) -> list[int]:
    """The containerd shims of this node's containerd (they outlive it by design)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                argv = (proc / "cmdline").read_bytes().split(b"\0")
                if argv[0].endswith(b"containerd-shim-runc-v2") and node["socket"].encode() in argv:
                    found.append(int(proc.name))
    return found


def unmount_under(home: Path) -> None:
    """Unmount what containerd and the kubelet mounted below ``home``, deepest first."""
    prefix = str(home) + "/"
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point.startswith(prefix) or point == str(home):
            points.append(point)
    for point in sorted(set(points), key=len, reverse=True):
        if subprocess.run(["umount", point], capture_output=True).returncode != 0:
            subprocess.run(["umount", "--lazy", point], capture_output=True)


def cgroup_hierarchies() -> list[Path]:
    return [CGROUP_FS] if (CGROUP_FS / "cgroup.controllers").exists() else cgroup_v1_controllers()


def create_cgroups(name: str) -> None:
    """The node's cgroup (``/kc-TAG``) in every hierarchy: the kubelet wants its cgroupRoot to exist.
    A new cpuset cgroup of v1 starts with no CPUs and no memory nodes; it gets its parent's."""
    for hierarchy in cgroup_hierarchies():
        top = hierarchy / name.lstrip("/")
        top.mkdir(exist_ok=True)
        for setting in ("cpuset.cpus", "cpuset.mems"):
            if (top / setting).exists() and not (top / setting).read_text().strip():
                (top / setting).write_text((hierarchy / setting).read_text())


def remove_cgroups(name: str) -> None:
    """Remove the node's cgroup tree (``/kc-TAG``) from every hierarchy, leaves first."""
    for hierarchy in cgroup_hierarchies():
        top = hierarchy / name.lstrip("/")
        if not top.is_dir():
            continue
        for directory, _, _ in sorted(os.walk(top), key=lambda entry: len(entry[0]), reverse=True):
            with contextlib.suppress(OSError):
                os.rmdir(directory)
