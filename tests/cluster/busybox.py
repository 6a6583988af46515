"""Two tiny OCI images from Debian's busybox-static, for the real node: its pod sandbox ("pause")
image, and a busybox image that tests can run.

Both share one layer: ``/bin/busybox`` with a link for each of its applets, and a world-writable
``/tmp``. The archive is the same bytes for the same busybox (fixed times, owners and order), so
importing it again changes nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path

BUSYBOX = Path("/bin/busybox")
PAUSE = "kc.dev/pause:local"
IMAGE = "kc.dev/busybox:local"

# The sandbox's process: sleeps until it is told to stop (as PID 1 it needs its own trap for TERM).
PAUSE_COMMAND = ["/bin/sh", "-c", "trap 'exit 0' TERM INT; while true; do sleep 3600 & wait $!; done"]


def layer(busybox: Path = BUSYBOX) -> bytes:
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True).stdout.split()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, mode in (("bin", 0o755), ("tmp", 0o1777)):
            entry = tarfile.TarInfo(name)
            entry.type, entry.mode = tarfile.DIRTYPE, mode
            tar.addfile(entry)
        data = busybox.read_bytes()
        entry = tarfile.TarInfo("bin/busybox")
        entry.size, entry.mode = len(data), 0o755
        tar.addfile(entry, io.BytesIO(data))
        for applet in sorted(set(applets) - {"busybox"}):
            entry = tarfile.TarInfo(f"bin/{applet}")
            entry.type, entry.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(entry)
    return out.getvalue()


def _blob(blobs: dict[str, bytes], data: bytes, media_type: str) -> dict[str, object]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


def _json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _manifest(blobs: dict[str, bytes], tar: bytes, ref: str, config: dict[str, object]) -> dict[str, object]:
    image = {
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]},
        "history": [{"created_by": "kc tests/cluster/busybox.py"}],
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": _blob(blobs, _json(image), "application/vnd.oci.image.config.v1+json"),
        "layers": [_blob(blobs, tar, "application/vnd.oci.image.layer.v1.tar")],
    }
    described = _blob(blobs, _json(manifest), "application/vnd.oci.image.manifest.v1+json")
    described["annotations"] = {"io.containerd.image.name": ref, "org.opencontainers.image.ref.name": ref}
    return described


def write_archive(path: Path, busybox: Path = BUSYBOX) -> tuple[str, ...]:
    """Write both images as one OCI layout tarball (for ``ctr images import``); their names."""
    blobs: dict[str, bytes] = {}
    tar = layer(busybox)
    manifests = [
        _manifest(blobs, tar, PAUSE, {"User": "65535:65535", "Entrypoint": PAUSE_COMMAND}),
        _manifest(blobs, tar, IMAGE, {"Cmd": ["sh"], "Env": ["PATH=/bin"]}),
    ]
    files = {
        "oci-layout": _json({"imageLayoutVersion": "1.0.0"}),
        "index.json": _json({"schemaVersion": 2, "manifests": manifests}),
        **{f"blobs/sha256/{digest.split(':')[1]}": data for digest, data in sorted(blobs.items())},
    }
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in files.items():
            entry = tarfile.TarInfo(name)
            entry.size, entry.mode = len(data), 0o644
            archive.addfile(entry, io.BytesIO(data))
    return PAUSE, IMAGE
