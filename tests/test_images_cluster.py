"""The stand-in images (tests/cluster/images.py): built, served by the loopback registry, pulled by
containerd through a docker.io mirror, and run by runc, both as their upstream images document and
as kc runs a container (UID 10001, read-only root, writable /tmp, no capabilities), with the
writable paths docs/cluster.md lists for each."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "cluster"))
import images  # noqa: E402

pytestmark = pytest.mark.cluster

# containerd's CRI gives a container these when the pod asks for nothing (as Docker does).
DEFAULT_CAPS = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
]
KC_UID = 10001


@dataclass
class Runtime:
    """A containerd of the test's own, and the registry it pulls from through the docker.io mirror."""

    root: Path
    socket: Path
    registry: str
    names: list[str] = field(default_factory=list)
    mounts: list[Path] = field(default_factory=list)

    def ctr(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["ctr", "--address", str(self.socket), "--namespace", "kctest", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"ctr {' '.join(args)} failed: {done.stderr}")
        return done


def _ensure_containerd() -> None:
    if shutil.which("containerd") and shutil.which("ctr") and shutil.which("runc"):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "containerd", "runc"], capture_output=True, env=env)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    if sys.platform != "linux" or os.geteuid() != 0:
        message = "the stand-in images need root on Linux (debootstrap, chroot, containerd)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    root = tmp_path_factory.mktemp("images")
    try:
        registry = images.serve(root)
    except images.ImageError as error:
        pytest.fail(str(error))
    _ensure_containerd()
    certs = root / "certs.d"
    images.write_hosts(certs, registry)
    config = root / "containerd.toml"
    config.write_text(
        'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n'
        f'  config_path = "{certs}"\n'  # what a node would say; ctr below reads the same directory
    )
    sock = root / "containerd.sock"
    log = open(root / "containerd.log", "ab")  # noqa: SIM115 - the child keeps it open
    daemon = subprocess.Popen(
        [
            *("containerd", "--config", str(config), "--address", str(sock)),
            *("--root", str(root / "c-root"), "--state", str(root / "c-state")),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    found = Runtime(root, sock, registry)
    try:
        deadline = time.monotonic() + 30
        while found.ctr("version", check=False).returncode != 0:
            assert daemon.poll() is None and time.monotonic() < deadline, (root / "containerd.log").read_text()
            time.sleep(0.2)
        yield found
    finally:
        for name in found.names:
            found.ctr("task", "kill", "-s", "SIGKILL", name, check=False)
            found.ctr("task", "delete", "-f", name, check=False)
            found.ctr("container", "delete", name, check=False)
        for mount in found.mounts:
            found.ctr("images", "unmount", "--rm", str(mount), check=False)
        daemon.terminate()
        daemon.wait(timeout=30)
        images.stop(root)


def test_the_registry_serves_each_image_under_its_path_without_the_host(runtime: Runtime) -> None:
    done = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", f"docker://{runtime.registry}/library/nginx:1.27.3"],
        capture_output=True,
        text=True,
        check=True,
    )
    inspected = json.loads(done.stdout)
    assert inspected["Architecture"] == "amd64" and inspected["Os"] == "linux"
    with urllib.request.urlopen(f"http://{runtime.registry}/v2/_catalog") as response:
        catalog = json.loads(response.read())["repositories"]
    assert sorted(catalog) == sorted(images.repository(ref).split(":")[0] for ref in images.IMAGES)


def test_a_second_build_is_the_cache(runtime: Runtime) -> None:
    started = time.monotonic()
    layouts = images.build_all()
    assert time.monotonic() - started < 10
    assert set(layouts) == set(images.IMAGES)


# --- running them -------------------------------------------------------------------------------------


def _pull(runtime: Runtime, ref: str) -> None:
    # Through the mirror, as the kubelet's pull would go: the reference keeps its docker.io name.
    runtime.ctr("images", "pull", "--hosts-dir", str(runtime.root / "certs.d"), ref, timeout=300)


def _image_config(runtime: Runtime, ref: str) -> dict[str, Any]:
    layout = images.build(next(i for i in images.all_images() if ref in i.refs))
    index = json.loads((layout / "index.json").read_text())
    blobs = layout / "blobs" / "sha256"
    manifest = json.loads((blobs / index["manifests"][0]["digest"].split(":")[1]).read_text())
    config: dict[str, Any] = json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_text())["config"]
    return config


@dataclass
class Run:
    """One container: how it is run. ``kc`` means as kc's pods run: UID and GID 10001 (and fsGroup
    10001), read-only root, an emptyDir on /tmp, no capabilities, no privilege escalation."""

    ref: str
    kc: bool
    args: list[str] | None = None  # the container's command line; None: the image's entrypoint and cmd
    env: dict[str, str] = field(default_factory=dict)
    writable: tuple[str, ...] = ()  # emptyDirs or claims, besides kc's /tmp
    sysctls: dict[str, str] = field(default_factory=dict)  # the pod's securityContext.sysctls


def _spec(runtime: Runtime, run: Run, volumes: Path) -> dict[str, Any]:
    config = _image_config(runtime, run.ref)
    args = run.args or [*config.get("Entrypoint", []), *config.get("Cmd", [])]
    env = dict(item.split("=", 1) for item in config.get("Env", []))
    env.update(run.env)
    if run.kc:
        uid = gid = KC_UID
        caps: list[str] = []
    else:
        owner, _, group = (config.get("User") or "0").partition(":")
        uid, gid = int(owner), int(group or owner)
        caps = DEFAULT_CAPS
    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755"]},
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777"],
        },
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    ]
    for path in (("/tmp",) if run.kc else ()) + run.writable:
        # An emptyDir as the kubelet makes one for a pod with fsGroup: group-owned, group-writable.
        source = volumes / path.strip("/").replace("/", "_")
        source.mkdir(parents=True, exist_ok=True)
        os.chown(source, 0, gid)
        source.chmod(0o2777 if run.kc else 0o777)
        mounts.append({"destination": path, "type": "bind", "source": str(source), "options": ["rbind", "rw"]})
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": uid, "gid": gid, "additionalGids": [gid]},
            "args": args,
            "env": [f"{key}={value}" for key, value in env.items()],
            "cwd": config.get("WorkingDir") or "/",
            "capabilities": {key: caps for key in ("bounding", "effective", "permitted")},
            "noNewPrivileges": run.kc,
        },
        "root": {"path": "rootfs", "readonly": run.kc},
        "hostname": "standin",
        "mounts": mounts,
        "linux": {
            "namespaces": [{"type": kind} for kind in ("pid", "ipc", "uts", "mount", "network")],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/sys/firmware"],
            "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"],
            "sysctl": run.sysctls,
        },
    }


def _prepare(runtime: Runtime, run: Run, name: str) -> Path:
    """The pulled image's root filesystem as a snapshot of its own, and the container's spec naming
    it (ctr run with a spec file takes no image; the spec says everything, as the kubelet's would)."""
    _pull(runtime, run.ref)
    rootfs = runtime.root / "rootfs" / name
    rootfs.mkdir(parents=True)
    runtime.ctr("images", "mount", "--rw", run.ref, str(rootfs))
    runtime.mounts.append(rootfs)
    spec = runtime.root / f"{name}.json"
    document = _spec(runtime, run, runtime.root / "volumes" / name)
    document["root"]["path"] = str(rootfs)
    spec.write_text(json.dumps(document))
    runtime.names.append(name)
    return spec


def _start(runtime: Runtime, run: Run, name: str) -> int:
    """Starts the container detached; its PID on the host (to enter its network namespace)."""
    spec = _prepare(runtime, run, name)
    log = runtime.root / f"{name}.log"
    runtime.ctr("run", "--detach", "--config", str(spec), "--log-uri", f"file://{log}", name)
    tasks = runtime.ctr("task", "list").stdout.splitlines()
    return int(next(line.split()[1] for line in tasks if line.split()[0] == name))


def _logs(runtime: Runtime, name: str) -> str:
    path = runtime.root / f"{name}.log"
    return path.read_text(errors="replace") if path.exists() else ""


def _in_netns(pid: int, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", *command], capture_output=True, text=True)


def _until(check: Callable[[], bool], what: str, runtime: Runtime, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"{name}: timed out waiting for {what}; its output:\n{_logs(runtime, name)}")


def _exits(runtime: Runtime, run: Run, name: str) -> tuple[int, str]:
    """Runs the container to its end; its exit code and output."""
    spec = _prepare(runtime, run, name)
    done = runtime.ctr("run", "--rm", "--config", str(spec), name, check=False, timeout=120)
    return done.returncode, done.stdout + done.stderr


def _http_ok(pid: int, port: int) -> Callable[[], bool]:
    return lambda: "Welcome to nginx" in _in_netns(pid, "curl", "-sf", f"http://127.0.0.1:{port}/").stdout


def _psql_ok(pid: int, port: int, user: str, database: str, password: str) -> Callable[[], bool]:
    def check() -> bool:
        done = subprocess.run(
            [
                *("nsenter", f"--net=/proc/{pid}/ns/net", "psql", "-h", "127.0.0.1", "-p", str(port)),
                *("-U", user, "-d", database, "-tAc", "select current_user"),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PGPASSWORD": password},
        )
        return done.stdout.strip() == user

    return check


def _redis_ok(pid: int, port: int) -> Callable[[], bool]:
    def check() -> bool:
        def ping() -> bytes:
            # Inside the container's network namespace: a tiny client with python, through nsenter.
            code = (
                f"import socket;s=socket.create_connection(('127.0.0.1',{port}),2);"
                "s.sendall(b'PING\\r\\n');print(s.recv(64).decode())"
            )
            return _in_netns(pid, sys.executable, "-c", code).stdout.encode()

        return ping().startswith(b"+PONG")

    return check


NGINX, POSTGRES, REDIS = (
    "docker.io/library/nginx:1.27.3",
    "docker.io/library/postgres:16.4",
    "docker.io/library/redis:7.4.1",
)
BUSYBOX, PYTHON = "docker.io/library/busybox:1.36.1", "docker.io/library/python:3.12-slim"


def test_nginx_as_upstream_runs_it_serves_port_80(runtime: Runtime) -> None:
    pid = _start(runtime, Run(NGINX, kc=False), "nginx-upstream")
    _until(_http_ok(pid, 80), "nginx on port 80", runtime, "nginx-upstream")


def test_nginx_under_kc_needs_its_cache_and_pid_dirs_and_a_port_above_1023(runtime: Runtime) -> None:
    code, output = _exits(runtime, Run(NGINX, kc=True), "nginx-kc-bare")
    assert code != 0 and "Read-only file system" in output, output
    # With /var/cache/nginx and /var/run writable it gets as far as the port: 80 needs root or
    # NET_BIND_SERVICE, and kc drops every capability.
    code, output = _exits(runtime, Run(NGINX, kc=True, writable=("/var/cache/nginx", "/var/run")), "nginx-kc-80")
    assert code != 0 and "bind() to 0.0.0.0:80 failed (13: Permission denied)" in output, output


def test_nginx_under_kc_serves_port_80_with_its_dirs_and_unprivileged_ports(runtime: Runtime) -> None:
    # net.ipv4.ip_unprivileged_port_start is a "safe" sysctl: a pod may set it under Pod Security
    # restricted, and it lets a process without NET_BIND_SERVICE bind port 80 in the pod's network.
    run = Run(
        NGINX,
        kc=True,
        writable=("/var/cache/nginx", "/var/run"),
        sysctls={"net.ipv4.ip_unprivileged_port_start": "0"},
    )
    pid = _start(runtime, run, "nginx-kc")
    _until(_http_ok(pid, 80), "nginx on port 80", runtime, "nginx-kc")


def test_postgres_as_upstream_runs_it_accepts_the_password(runtime: Runtime) -> None:
    env = {"POSTGRES_PASSWORD": "s3cret", "POSTGRES_USER": "shop", "POSTGRES_DB": "shop"}
    run = Run(POSTGRES, kc=False, env=env, writable=("/var/lib/postgresql/data",))
    pid = _start(runtime, run, "postgres-upstream")
    _until(_psql_ok(pid, 5432, "shop", "shop", "s3cret"), "a connection as shop", runtime, "postgres-upstream")
    assert "PostgreSQL init process complete" in _logs(runtime, "postgres-upstream")


def test_postgres_under_kc_with_the_patterns_mounts_accepts_the_password(runtime: Runtime) -> None:
    env = {"POSTGRES_PASSWORD": "s3cret", "POSTGRES_USER": "app", "PGDATA": "/var/lib/postgresql/data/pgdata"}
    # The postgres pattern's mounts: the claim and an emptyDir for the socket directory.
    run = Run(POSTGRES, kc=True, env=env, writable=("/var/lib/postgresql/data", "/var/run/postgresql"))
    pid = _start(runtime, run, "postgres-kc")
    _until(_psql_ok(pid, 5432, "app", "app", "s3cret"), "a connection as app", runtime, "postgres-kc")


def test_postgres_under_kc_without_a_socket_dir_fails(runtime: Runtime) -> None:
    env = {"POSTGRES_PASSWORD": "s3cret", "PGDATA": "/var/lib/postgresql/data/pgdata"}
    run = Run(POSTGRES, kc=True, env=env, writable=("/var/lib/postgresql/data",))
    code, output = _exits(runtime, run, "postgres-kc-nosocket")
    assert code != 0 and '"/var/run/postgresql/.s.PGSQL.5432.lock": Read-only file system' in output, output


def test_redis_as_upstream_runs_it_answers_ping(runtime: Runtime) -> None:
    pid = _start(runtime, Run(REDIS, kc=False), "redis-upstream")
    _until(_redis_ok(pid, 6379), "PONG", runtime, "redis-upstream")


def test_redis_as_the_redis_pattern_runs_it_answers_ping(runtime: Runtime) -> None:
    args = ["redis-server", "--port", "6379", "--dir", "/data", "--maxmemory", "48mb"]
    args += ["--maxmemory-policy", "allkeys-lru", "--appendonly", "no", "--save", "", "--protected-mode", "no"]
    pid = _start(runtime, Run(REDIS, kc=True, args=args, writable=("/data",)), "redis-kc")
    _until(_redis_ok(pid, 6379), "PONG", runtime, "redis-kc")


def test_busybox_and_python_run_their_commands_as_kc_runs_them(runtime: Runtime) -> None:
    code, output = _exits(runtime, Run(BUSYBOX, kc=True, args=["sh", "-c", "id -u; touch /tmp/x"]), "busybox-kc")
    assert code == 0 and output.split() == ["10001"], output
    run = Run(PYTHON, kc=True, args=["python3", "-c", "import json, os; print(json.dumps(os.getuid()))"])
    code, output = _exits(runtime, run, "python-kc")
    assert code == 0 and output.strip() == "10001", output
