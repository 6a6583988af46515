"""Claims writable by any pod: the local cluster's stand-in for a storage driver that applies fsGroup.

kube-controller-manager's host-path provisioner makes each volume a directory
``/tmp/hostpath_pv/<uuid>`` with mode 0750, owned by root (hard-coded: no flag changes the place
or the mode, and a umask can only take bits away), and the kubelet applies a pod's ``fsGroup`` to
no host path. A pod running as UID 10001, as kc's pods do, sees its claim mounted and cannot
write to it. A real storage driver (every CSI driver with ``fsGroupPolicy: File``, the usual
block-device plugins) makes the volume group-owned by the pod's ``fsGroup`` and group-writable
before the containers start.

So ``up`` runs this watcher beside the controllers: it watches the cluster's PersistentVolumes
and gives each host-path volume's directory mode 0777 the moment the volume exists, which is
before its claim is bound, so before any pod that uses it can be scheduled. Only this cluster's
volumes are touched (other clusters on the machine share /tmp/hostpath_pv). kc's compiled output
is not changed for it: its pods keep their fsGroup, which a real cluster honours.

    python3 claims.py DIR      # runs until stopped; down stops it with the other processes

Standard library only.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from support import Api, say

PROVISIONED = "/tmp/hostpath_pv/"  # the provisioner's fixed parent directory
MODE = 0o777


def open_up(volume: dict[str, Any]) -> None:
    path = ((volume.get("spec") or {}).get("hostPath") or {}).get("path") or ""
    if not path.startswith(PROVISIONED) or "/" in path[len(PROVISIONED) :]:
        return
    try:
        if stat.S_IMODE(os.stat(path).st_mode) != MODE:
            os.chmod(path, MODE)
            say(f"claims: {volume['metadata']['name']}: {path} made writable for the pod")
    except FileNotFoundError:
        pass  # deleted already


def watch(api: Api) -> None:
    """List the volumes, then follow their changes until the server ends the watch."""
    code, listing = api.call("GET", "/api/v1/persistentvolumes")
    if code != 200:
        raise OSError(f"listing persistent volumes: {code} {listing}")
    for volume in listing["items"]:
        open_up(volume)
    version = listing["metadata"]["resourceVersion"]
    url = f"{api.server}/api/v1/persistentvolumes?watch=1&resourceVersion={version}&timeoutSeconds=300"
    with urllib.request.urlopen(urllib.request.Request(url), context=api.context, timeout=330) as stream:
        for line in stream:
            event = json.loads(line)
            if event.get("type") in ("ADDED", "MODIFIED"):
                open_up(event["object"])


def main(root: Path) -> None:
    state = json.loads((root / "state.json").read_text())
    api = Api(state["server"], root / "pki")
    while True:
        try:
            watch(api)
        except (OSError, ValueError) as error:  # the server restarting, a watch that expired
            say(f"claims: watching again after: {error}")
            time.sleep(1)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
