#!/usr/bin/env python3
"""Stand-in container images, built from Debian's packages, and a registry on loopback to pull them from.

The local cluster cannot reach Docker Hub or any other image registry, but it can reach Debian's
package mirror. Each folder under ``images/`` describes one image: ``image.json`` (the references
it answers to, the Debian packages, the OCI image configuration), ``files/`` (laid over the root
filesystem: the entrypoint, configuration), and ``setup.sh`` (run in the new root as root). The
root filesystem comes from ``debootstrap --variant=minbase`` (or, for ``"base": "none"``, from the
packages alone), is stripped of documentation and locales, and is packed as one deterministic
layer into an OCI image layout. Layouts are cached under ``~/.cache/kc-cluster/images/`` by a hash
of the image's folder and of this file, so a second build costs nothing.

``serve(root)`` starts Debian's ``docker-registry`` on 127.0.0.1 and pushes every image under its
reference without the registry host (``docker.io/library/nginx:1.27.3`` as ``library/nginx:1.27.3``),
which is the path containerd asks a mirror for. ``stop(root)`` stops it. docs/cluster.md,
"Stand-in images", says what each image does and how it differs from the upstream one.

    python3 tests/cluster/images.py build          build (or find in the cache) every image
    python3 tests/cluster/images.py serve DIR      build, start the registry, push; prints its address
    python3 tests/cluster/images.py stop DIR       stop the registry that serve started in DIR

Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support import alive

HERE = Path(__file__).resolve().parent
IMAGES_DIR = HERE / "images"
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"

# The registry hosts the examples, the docs and the patterns' defaults name. A node points each at
# the loopback registry, so that a pull never leaves the machine (and fails at once when the image
# is not one of IMAGES).
MIRRORED_HOSTS: tuple[str, ...] = ("docker.io", "ghcr.io", "registry.example.com", "registry.k8s.io", "quay.io")

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar"
REF_ANNOTATION = "org.opencontainers.image.ref.name"
EPOCH = 0  # every file's mtime in a layer: the same input gives the same bytes

# Host commands, and the Debian package that brings each.
TOOLS = {"debootstrap": "debootstrap", "skopeo": "skopeo", "docker-registry": "docker-registry"}

# Removed from every root filesystem: nothing in a container reads them. The copyright files stay.
STRIPPED = (
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "usr/share/i18n",
    "usr/share/lintian",
    "usr/share/linda",
    "var/lib/apt/lists",
    "var/cache/apt",
    "var/cache/ldconfig/aux-cache",  # records inode numbers and times: differs on every build
    "etc/resolv.conf",  # the build host's; the runtime mounts the pod's
    "etc/hostname",
)
EMPTIED = ("dev", "proc", "sys", "tmp")  # kept as directories; the runtime mounts them


def say(message: str) -> None:
    print(f"images: {message}", file=sys.stderr, flush=True)


class ImageError(Exception):
    """Something that stops a build or the registry; said in one line."""


@dataclass(frozen=True)
class Image:
    """One folder of images/: what to build and which references it answers to."""

    name: str
    folder: Path
    refs: tuple[str, ...]
    packages: tuple[str, ...]
    base: str  # "minbase": debootstrap's smallest system; "none": the packages' files alone
    config: dict[str, Any]


def load(folder: Path) -> Image:
    spec = json.loads((folder / "image.json").read_text())
    return Image(
        name=folder.name,
        folder=folder,
        refs=tuple(spec["refs"]),
        packages=tuple(spec["packages"]),
        base=spec.get("base", "minbase"),
        config=spec["config"],
    )


def all_images() -> list[Image]:
    return [load(folder) for folder in sorted(IMAGES_DIR.iterdir()) if (folder / "image.json").is_file()]


IMAGES: tuple[str, ...] = tuple(ref for image in all_images() for ref in image.refs)


# --- caching --------------------------------------------------------------------------------------------


def cache_root() -> Path:
    """Where built images live: beside the cluster's binaries (tests/cluster/localcluster.py)."""
    base = os.environ.get("KC_CLUSTER_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kc-cluster"
    )
    return Path(base) / "images"


def image_key(image: Image) -> str:
    """A hash of everything that decides the image's content: its folder and this build code."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(SUITE.encode())
    for path in sorted(p for p in image.folder.rglob("*") if p.is_file()):
        digest.update(f"\0{path.relative_to(image.folder).as_posix()}\0{os.access(path, os.X_OK)}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Serialises builds and pushes between processes sharing the cache (two test sessions, say)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


# --- host tools -----------------------------------------------------------------------------------------


def ensure_tools() -> None:
    """Installs debootstrap, skopeo and docker-registry with apt-get when they are missing (as .ci/run
    does for shellcheck): CI starts on a fresh machine."""
    missing = sorted({package for command, package in TOOLS.items() if shutil.which(command) is None})
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ImageError(f"the stand-in images need {', '.join(missing)} (Debian packages); install them as root")
    say(f"installing {', '.join(missing)} with apt-get")
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
        done = subprocess.run(
            command, capture_output=True, text=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        )
        if done.returncode != 0:
            raise ImageError(f"{' '.join(command)} failed: {done.stderr.strip()[-500:]}")


def debian_mirror() -> str:
    """The machine's own Debian mirror for SUITE (from apt's sources), so builds use what apt uses."""
    if os.environ.get("KC_DEBIAN_MIRROR"):
        return os.environ["KC_DEBIAN_MIRROR"]
    sources = Path("/etc/apt/sources.list.d")
    texts = [p.read_text() for p in sorted(sources.glob("*.sources"))] if sources.is_dir() else []
    for text in texts:  # deb822: one stanza per blank-line-separated block
        for stanza in text.split("\n\n"):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.M))
            if "deb" in fields.get("Types", "").split() and SUITE in fields.get("Suites", "").split():
                return str(fields["URIs"].split()[0])
    for name in [Path("/etc/apt/sources.list"), *sorted(sources.glob("*.list"))]:
        if name.is_file():
            found = re.search(rf"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+{SUITE}\s", name.read_text(), re.M)
            if found:
                return found.group(1)
    return DEFAULT_MIRROR


# --- building a root filesystem -------------------------------------------------------------------------


def run_logged(command: list[str], log: Path, what: str, cwd: Path | None = None) -> None:
    with open(log, "ab") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd)
    if done.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        raise ImageError(f"{what} failed ({done.returncode}); last lines of {log}:\n  " + "\n  ".join(tail))


def debootstrap(image: Image, rootfs: Path, debs: Path, log: Path) -> None:
    """Debian's smallest system plus the image's packages. Packages are configured in a chroot with
    no init system, so no service starts on the build host."""
    # Each build downloads into a directory of its own, filled with hard links to the .debs that
    # earlier builds fetched (two debootstraps sharing one directory could read each other's
    # half-written files); what it fetched is linked back for the next build.
    own = log.parent / "debs"
    copy_links(debs, own)
    command = ["debootstrap", "--variant=minbase", f"--cache-dir={own}"]
    command += [f"--include={','.join(image.packages)}", SUITE, str(rootfs), debian_mirror()]
    run_logged(command, log, f"debootstrap for {image.name}")
    copy_links(own, debs)


def copy_links(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for deb in source.glob("*.deb") if source.is_dir() else ():
        with contextlib.suppress(FileExistsError):
            os.link(deb, target / deb.name)


def unpack_packages(image: Image, rootfs: Path, debs: Path, log: Path) -> None:
    """The packages' files and nothing else (for a static busybox: no libc, no shell, no dpkg)."""
    own = log.parent / "debs"
    own.mkdir()
    download = ["apt-get", "download", *image.packages]  # into the current directory
    try:
        run_logged(download, log, "apt-get download", cwd=own)
    except ImageError:  # a fresh machine's package lists may be missing or stale
        run_logged(["apt-get", "update", "-qq"], log, "apt-get update")
        run_logged(download, log, "apt-get download", cwd=own)
    rootfs.mkdir(parents=True)
    for deb in sorted(own.glob("*.deb")):
        run_logged(["dpkg-deb", "--extract", str(deb), str(rootfs)], log, f"dpkg-deb --extract {deb.name}")


def customise(image: Image, rootfs: Path, log: Path) -> None:
    """Lays files/ over the root and runs setup.sh inside it, as root."""
    files = image.folder / "files"
    if files.is_dir():
        shutil.copytree(files, rootfs, symlinks=True, dirs_exist_ok=True)
    setup = image.folder / "setup.sh"
    if setup.is_file():
        shutil.copy(setup, rootfs / ".kc-setup.sh")
        shell = ["/bin/busybox", "sh"] if image.base == "none" else ["/bin/sh"]
        run_logged(["chroot", str(rootfs), *shell, "/.kc-setup.sh"], log, f"{image.name}/setup.sh")
        (rootfs / ".kc-setup.sh").unlink()


def strip(rootfs: Path) -> None:
    doc = rootfs / "usr/share/doc"
    if doc.is_dir():  # keep each package's copyright, nothing else
        for path in sorted(doc.rglob("*"), reverse=True):
            if path.is_symlink() or path.is_file():
                if path.name != "copyright":
                    path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    for name in STRIPPED:
        remove(rootfs / name)
    for name in EMPTIED:
        for child in (rootfs / name).glob("*") if (rootfs / name).is_dir() else ():
            remove(child)
    for path in rootfs.glob("var/log/**/*"):  # the build's logs; directories and links (nginx's) stay
        if path.is_file() and not path.is_symlink():
            path.unlink()
    for path in rootfs.glob("var/cache/debconf/*-old"):
        path.unlink()
    for path in rootfs.glob("var/lib/dpkg/*-old"):
        path.unlink()


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


# --- packing: an OCI image layout -----------------------------------------------------------------------


def walk(root: Path) -> Iterator[Path]:
    """Every path under root, sorted by name, a directory before its content; symlinks not followed."""
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        path = Path(entry.path)
        yield path
        if entry.is_dir(follow_symlinks=False):
            yield from walk(path)


def write_layer(rootfs: Path, out: Path) -> None:
    """One tar layer of rootfs: sorted entries, fixed mtimes, numeric owners as they are, hard links
    kept (tarfile notices a second name of an inode), no device nodes, sockets or FIFOs."""
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in walk(rootfs):
            info = tar.gettarinfo(str(path), arcname=path.relative_to(rootfs).as_posix())
            if info is None or info.ischr() or info.isblk() or info.isfifo():
                continue
            info.mtime = EPOCH
            info.uname = info.gname = ""
            if info.isreg():
                with open(path, "rb") as content:
                    tar.addfile(info, content)
            else:
                tar.addfile(info)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def put_blob(layout: Path, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def write_layout(image: Image, rootfs: Path, layout: Path) -> None:
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    layer_tar = layout / "layer.tar"
    write_layer(rootfs, layer_tar)
    layer_digest = sha256_file(layer_tar)
    layer = {"mediaType": MEDIA_LAYER, "digest": f"sha256:{layer_digest}", "size": layer_tar.stat().st_size}
    layer_tar.rename(blobs / layer_digest)
    built_from = f"debootstrap --variant=minbase {SUITE}" if image.base == "minbase" else "the packages' files"
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": image.config,
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]},
        "history": [
            {"created": "1970-01-01T00:00:00Z", "created_by": f"kc stand-in: {built_from} + {' '.join(image.packages)}"}
        ],
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, **put_blob(layout, canonical(config))},
        "layers": [layer],
    }
    manifest_blob = {"mediaType": MEDIA_MANIFEST, **put_blob(layout, canonical(manifest))}
    platform = {"architecture": "amd64", "os": "linux"}
    index = {
        "schemaVersion": 2,
        "mediaType": MEDIA_INDEX,
        "manifests": [
            {**manifest_blob, "platform": platform, "annotations": {REF_ANNOTATION: ref}} for ref in image.refs
        ],
    }
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    (layout / "index.json").write_bytes(canonical(index))


# --- building, cached -----------------------------------------------------------------------------------


def layout_dir(image: Image) -> Path:
    return cache_root() / f"{image.name}-{image_key(image)}"


def build(image: Image) -> Path:
    """The image's OCI layout directory, built first unless the cache has this version."""
    target = layout_dir(image)
    if (target / "index.json").is_file():
        return target
    ensure_tools()
    if os.geteuid() != 0:
        raise ImageError("building the stand-in images needs root (debootstrap, chroot)")
    with locked(cache_root() / f".{image.name}.lock"):
        if (target / "index.json").is_file():  # another process built it meanwhile
            return target
        started = time.monotonic()
        scratch = Path(tempfile.mkdtemp(prefix=f".{image.name}-", dir=cache_root()))
        try:
            rootfs, log = scratch / "rootfs", scratch / "build.log"
            if image.base == "none":
                unpack_packages(image, rootfs, cache_root() / "debs", log)
            else:
                debootstrap(image, rootfs, cache_root() / "debs", log)
            customise(image, rootfs, log)
            strip(rootfs)
            write_layout(image, rootfs, scratch / "layout")
            for old in cache_root().glob(f"{image.name}-*"):  # earlier versions of this image
                remove(old)
            (scratch / "layout").rename(target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        say(f"built {image.name} ({', '.join(image.refs)}) in {time.monotonic() - started:.0f}s: {target}")
    return target


def build_all(parallel: int = 2) -> dict[str, Path]:
    """Every image's layout, by reference. debootstrap mostly waits on dpkg and the network, so two
    builds at once use a two-core machine well."""
    ensure_tools()
    images = all_images()
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        layouts = list(pool.map(build, images))
    return {ref: layout for image, layout in zip(images, layouts, strict=True) for ref in image.refs}


def oci_archive(layout: Path, out: Path) -> Path:
    """The layout as one tar file, which ``ctr images import`` reads (named by the refs' annotation)."""
    with tarfile.open(out, "w") as tar:
        for path in walk(layout):
            tar.add(path, arcname=path.relative_to(layout).as_posix(), recursive=False)
    return out


# --- the registry ---------------------------------------------------------------------------------------


def repository(ref: str) -> str:
    """A reference without its registry host: the path containerd asks a mirror for.
    docker.io/library/nginx:1.27.3 -> library/nginx:1.27.3; ghcr.io/acme/api:1 -> acme/api:1."""
    first, _, rest = ref.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return rest
    return ref if "/" in ref else f"library/{ref}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def registry_dir(root: Path) -> Path:
    return root.resolve() / "registry"


def storage_dir(layouts: dict[str, Path]) -> Path:
    """The registry's storage, cached: keyed by the images it holds, so a warm serve pushes nothing."""
    digest = hashlib.sha256("\n".join(f"{ref} {path.name}" for ref, path in sorted(layouts.items())).encode())
    return cache_root() / f"registry-{digest.hexdigest()[:16]}"


def start_registry(root: Path, storage: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """docker-registry on 127.0.0.1:<free port>, storing in ``storage``; its PID in ROOT/registry/pid.
    It runs in a session of its own, so its PID is its process group's (os.killpg stops it)."""
    ensure_tools()
    where = registry_dir(root)
    where.mkdir(parents=True, exist_ok=True)
    address = f"127.0.0.1:{free_port()}"
    config = where / "config.yml"
    config.write_text(  # JSON is YAML
        json.dumps(
            {
                "version": 0.1,
                "log": {"level": "warn", "accesslog": {"disabled": True}},
                "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True}},
                "http": {"addr": address},
            },
            indent=2,
        )
    )
    log = open(where / "registry.log", "ab")  # noqa: SIM115 - the child keeps it open
    process = subprocess.Popen(
        ["docker-registry", "serve", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log.close()
    (where / "pid").write_text(f"{process.pid}\n")
    deadline = time.monotonic() + 30
    while not answers(address):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(root)
            raise ImageError(f"docker-registry did not start; see {where / 'registry.log'}")
        time.sleep(0.1)
    return address, process


def answers(address: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{address}/v2/", timeout=2) as response:
            return int(response.status) == 200
    except (OSError, urllib.error.URLError):
        return False


def push(layout: Path, ref: str, address: str) -> None:
    """One image into the registry, layers as they are (uncompressed, same digests as the layout)."""
    command = [
        "skopeo",
        "--insecure-policy",  # copying our own images; no signature policy applies
        "copy",
        "--quiet",
        "--preserve-digests",
        "--dest-tls-verify=false",
        f"oci:{layout}:{ref}",
        f"docker://{address}/{repository(ref)}",
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise ImageError(f"pushing {ref} failed: {done.stderr.strip()}")


def serve(root: Path) -> str:
    """Builds what is missing, starts the registry with every image in it, returns "127.0.0.1:PORT".
    ``stop(root)`` (or os.killpg on ``pid(root)``) stops it."""
    layouts = build_all()
    storage = storage_dir(layouts)
    storage.mkdir(parents=True, exist_ok=True)
    address, _process = start_registry(root, storage)
    with locked(cache_root() / ".registry.lock"):
        if not (storage / "complete").is_file():
            for old in cache_root().glob("registry-*"):  # storage of earlier versions of the images
                if old != storage:
                    remove(old)
            started = time.monotonic()
            for ref, layout in layouts.items():
                push(layout, ref, address)
            (storage / "complete").write_text("\n".join(sorted(layouts)) + "\n")
            say(f"pushed {len(layouts)} images in {time.monotonic() - started:.1f}s")
    return address


def pid(root: Path) -> int | None:
    """The registry's PID that serve recorded in ``root``, if any."""
    try:
        return int((registry_dir(root) / "pid").read_text())
    except (OSError, ValueError):
        return None


def stop(root: Path) -> bool:
    """Stops the registry that serve started in ``root``; whether one was running."""
    process_id = pid(root)
    (registry_dir(root) / "pid").unlink(missing_ok=True)
    if process_id is None or not alive(process_id):
        return False
    os.killpg(process_id, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while alive(process_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(process_id):
        os.killpg(process_id, signal.SIGKILL)
    return True


def hosts_toml(address: str, host: str) -> str:
    """containerd's certs.d/HOST/hosts.toml sending HOST's pulls to the loopback registry (plain HTTP)."""
    server = "https://registry-1.docker.io" if host == "docker.io" else f"https://{host}"
    return f'server = "{server}"\n\n[host."http://{address}"]\n  capabilities = ["pull", "resolve"]\n'


def write_hosts(certs_d: Path, address: str) -> None:
    """hosts.toml for every host of MIRRORED_HOSTS under ``certs_d`` (containerd's config_path)."""
    for host in MIRRORED_HOSTS:
        (certs_d / host).mkdir(parents=True, exist_ok=True)
        (certs_d / host / "hosts.toml").write_text(hosts_toml(address, host))


# --- command line ---------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    usage = "usage: tests/cluster/images.py build | serve DIR | stop DIR"
    if not argv or argv[0] not in ("build", "serve", "stop") or len(argv) != (1 if argv[0] == "build" else 2):
        print(usage, file=sys.stderr)
        return 2
    try:
        started = time.monotonic()
        if argv[0] == "build":
            for ref, layout in build_all().items():
                print(f"{ref}\t{layout}")
            say(f"done in {time.monotonic() - started:.1f}s")
        elif argv[0] == "serve":
            print(serve(Path(argv[1])))
            say(f"registry up in {time.monotonic() - started:.1f}s (pid {pid(Path(argv[1]))})")
        else:
            say("stopped the registry" if stop(Path(argv[1])) else "no registry was running")
    except ImageError as error:
        say(f"error: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
