"""Handing a Deployment's ``spec.replicas`` to the autoscaler without a dip (docs/cluster.md,
"Autoscaling without a dip").

When a stage gains ``autoscale``, its Deployment is compiled without ``replicas``. Applied as is,
server-side apply removes the field kc's manager owned, and the API server defaults it to 1 until
the autoscaler acts. So, first, another field manager (``kc-handover``) applies just the live
value: it then shares the field, and the field keeps its value when kc's manager lets go.
"""

from __future__ import annotations

from typing import Any

from kc.cluster import client as cluster_client

MANAGER = "kc-handover"


def owns_replicas(live: dict[str, Any], manager: str = cluster_client.FIELD_MANAGER) -> bool:
    """Whether ``manager``'s apply owns ``spec.replicas`` of ``live``."""
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") != manager or entry.get("operation") != "Apply":
            continue
        spec = (entry.get("fieldsV1") or {}).get("f:spec") or {}
        if "f:replicas" in spec:
            return True
    return False


def needed(manifest: dict[str, Any], live: dict[str, Any] | None) -> int | None:
    """The live replica count to hand over, or None when there is nothing to hand over: the
    compiled Deployment sets ``replicas``, or kc's manager does not own the live one's."""
    if manifest.get("kind") != "Deployment" or live is None:
        return None
    if "replicas" in (manifest.get("spec") or {}):
        return None
    replicas = (live.get("spec") or {}).get("replicas")
    if replicas is None or not owns_replicas(live):
        return None
    return int(replicas)


def hand_over(
    client: cluster_client.Client, kind: cluster_client.Kind, manifest: dict[str, Any], replicas: int
) -> None:
    """Apply ``{spec: {replicas: N}}`` as field manager ``kc-handover``."""
    meta = manifest["metadata"]
    body = {
        "apiVersion": manifest["apiVersion"],
        "kind": manifest["kind"],
        "metadata": {"name": meta["name"], "namespace": meta.get("namespace")},
        "spec": {"replicas": replicas},
    }
    client.apply(kind, body, manager=MANAGER)
