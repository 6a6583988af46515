"""The connection to a cluster, made as kubectl makes it, and the few REST calls kc needs.

kc speaks to the API server through the official client's ``ApiClient`` (authentication, TLS,
proxies and exec credential plugins all come from there) but builds the REST paths itself from
discovery, so one code path serves every kind, custom resources included.
https://kubernetes.io/docs/reference/using-api/api-concepts/
"""

from __future__ import annotations

import importlib
import os
import threading
from typing import Any

from kc.cluster import timing
from kc.cluster.errors import ClusterError
from kc.cluster.rest import APPLY_PATCH, REQUEST_TIMEOUT, Tally, category, failure, one_line, payload
from kc.cluster.rest import Kind as Kind  # where the callers have always found it
from kc.cluster.streams import Streams

FIELD_MANAGER = "kc"
CONNECTIONS = 16  # connections kept open to the API server: at least pool.WORKERS
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
PAGE = "500"
DISCOVERY_WAIT = 10.0  # seconds a kind may take to appear in discovery


def kubeconfig_path(flag: str | None) -> str | None:
    """kubectl's order: ``--kubeconfig``, then ``$KUBECONFIG`` (a list, merged), then
    ``~/.kube/config`` if it exists; None means none of them."""
    if flag:
        return flag
    if os.environ.get("KUBECONFIG"):
        return os.environ["KUBECONFIG"]
    default = os.path.expanduser("~/.kube/config")
    return default if os.path.exists(default) else None


def connect(kubeconfig: str | None = None, context: str | None = None) -> Client:
    """A client for the cluster that kubectl would use with the same flags and environment.

    Without any kubeconfig, inside a Pod, it uses the Pod's service account (in-cluster config).
    TLS is verified unless the kubeconfig itself says ``insecure-skip-tls-verify``."""
    try:  # the client is untyped: Any at this boundary, typed dataclasses past it
        k8s: Any = importlib.import_module("kubernetes.client")
        k8s_config: Any = importlib.import_module("kubernetes.config")
    except ImportError:
        raise ClusterError("the cluster commands need the Kubernetes client ('kubernetes' on PyPI)") from None
    configuration = k8s.Configuration()
    path = kubeconfig_path(kubeconfig)
    if path is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        if context:
            raise ClusterError("--context needs a kubeconfig, and there is none (running inside a cluster)")
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)
        except Exception as exc:  # the client raises several types for a broken service account
            raise ClusterError(f"in-cluster configuration: {one_line(exc)}") from None
        where = "in-cluster"
    elif path is None:
        raise ClusterError("no cluster configured: no --kubeconfig, KUBECONFIG is unset and ~/.kube/config is missing")
    else:
        try:
            k8s_config.load_kube_config(
                config_file=path, context=context, client_configuration=configuration, persist_config=False
            )
            current = context or k8s_config.list_kube_config_contexts(config_file=path)[1]["name"]
        except Exception as exc:  # a user's file: missing, not YAML, no such context, a failing exec plugin
            raise ClusterError(f"kubeconfig {path}: {one_line(exc)}") from None
        where = f"context {current}"
    # Objects of a bundle go out from several threads (pool.py): one connection each, kept open.
    configuration.connection_pool_maxsize = max(int(configuration.connection_pool_maxsize or 0), CONNECTIONS)
    api = k8s.ApiClient(configuration)
    api.user_agent = "kc"
    return Client(api, f"{where} ({configuration.host})")


class Client(Streams):
    """Discovery, LIST, GET, server-side apply and DELETE; every failure is a ClusterError.

    Safe to share between threads: the client's connection pool is (urllib3), discovery's cache
    is filled under a lock, and ``sent`` counts under its own."""

    def __init__(self, api: Any, where: str) -> None:
        import urllib3
        from kubernetes.client.exceptions import ApiException

        self._api = api
        self._transport_errors: tuple[type[BaseException], ...] = (ApiException, urllib3.exceptions.HTTPError, OSError)
        self.where = where
        self.host = str(api.configuration.host)
        self._discovered: dict[str, dict[str, Kind]] = {}
        self._discovering = threading.Lock()
        self.sent = Tally()  # every request, by category (rest.CATEGORIES): the request budget

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- requests ------------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        content_type: str,
        timeout: tuple[float, float | None],
        accept: str = "application/json",
    ) -> Any:
        """One request through the client, counted in ``sent``; a transport failure is a ClusterError."""
        self.sent.add(category(method, path, query, content_type))
        try:
            request = self._api.param_serialize(
                method=method,
                resource_path=path,
                query_params=list(query.items()),
                header_params={"Accept": accept, "Content-Type": content_type},
                body=body,
                auth_settings=["BearerToken"],
            )
            return self._api.call_api(*request, _request_timeout=timeout)
        except self._transport_errors as exc:
            raise self._unreachable(exc) from None

    def _unreachable(self, exc: BaseException) -> ClusterError:
        reason = getattr(exc, "reason", None) or exc
        return ClusterError(f"cannot reach the cluster at {self.host}: {one_line(reason)}")

    def _call(
        self,
        verb: str,
        method: str,
        path: str,
        resource: str,
        *,
        namespace: str | None = None,
        name: str | None = None,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> tuple[int, Any]:
        response = self._send(method, path, query or {}, body, content_type, REQUEST_TIMEOUT, accept)
        try:
            raw = response.read()
        except self._transport_errors as exc:
            raise self._unreachable(exc) from None
        status, data = int(response.status), payload(raw)
        if status >= 400 and status != 404:
            raise ClusterError(failure(verb, resource, namespace, name, status, data, self.host), status)
        return status, data

    def kind(self, api_version: str, kind: str, *, refresh: bool = False) -> Kind | None:
        """What the cluster serves as ``kind`` in ``api_version``; None if it does not (yet).

        One discovery request per API group version, cached; ``refresh`` asks again when the
        kind was missing (a CustomResourceDefinition applied since)."""
        with self._discovering:  # one request per group version, however many threads ask
            return self._kind(api_version, kind, refresh)

    def _kind(self, api_version: str, kind: str, refresh: bool) -> Kind | None:
        known = self._discovered.get(api_version)
        if known is None or (refresh and kind not in known):
            path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            status, data = self._call("get", "GET", path, f"the API {api_version}")
            if api_version == "v1" and status != 200:  # every API server serves the core group
                raise ClusterError(f"{self.host} is not a Kubernetes API server: GET /api/v1 answered {status}")
            known = {}
            for entry in data.get("resources", []) if status == 200 else []:
                if "/" not in entry.get("name", ""):  # subresources such as deployments/status
                    known[entry["kind"]] = Kind(api_version, entry["kind"], entry["name"], bool(entry["namespaced"]))
            self._discovered[api_version] = known
        return known.get(kind)

    def require(self, api_version: str, kind: str) -> Kind:
        """The kind, asking discovery again for a while when it is missing: the API server
        serves a custom resource a moment after its definition reports Established."""
        deadline = timing.Deadline(DISCOVERY_WAIT)
        for interval in timing.intervals():
            found = self.kind(api_version, kind, refresh=True)
            if found is not None:
                return found
            if deadline.passed:
                break
            deadline.sleep(interval)
        raise ClusterError(f"the cluster does not serve {kind} in {api_version}")

    def list(
        self, kind: Kind, namespace: str | None, selector: str = "", fields: str = "", *, metadata_only: bool = False
    ) -> list[dict[str, Any]]:
        """Every object of ``kind`` in ``namespace`` (None: all, or cluster-scoped) that the
        selectors match, page by page. List items carry no apiVersion and kind; they get them.
        ``metadata_only``: just each object's metadata, which is all that telling a conflict
        from a creation needs (``live``), at a fraction of the bytes.
        https://kubernetes.io/docs/reference/using-api/api-concepts/#receiving-resources-as-tables"""
        accept = METADATA_ONLY if metadata_only else "application/json"
        items: list[dict[str, Any]] = []
        query = {"limit": PAGE}
        if selector:
            query["labelSelector"] = selector
        if fields:
            query["fieldSelector"] = fields
        while True:
            status, data = self._call(
                "list", "GET", kind.path(namespace), kind.resource, namespace=namespace, query=query, accept=accept
            )
            if status == 404:
                return items
            for item in data.get("items") or []:
                item["apiVersion"], item["kind"] = kind.api_version, kind.kind
                items.append(item)
            token = (data.get("metadata") or {}).get("continue")
            if not token:
                return items
            query["continue"] = token

    def list_version(self, kind: Kind, namespace: str | None, selector: str = "") -> str:
        """The resource version of a LIST of ``kind`` (one item asked for): where a watch of
        what changes after now starts."""
        query = {"limit": "1"}
        if selector:
            query["labelSelector"] = selector
        _, data = self._call("list", "GET", kind.path(namespace), kind.resource, namespace=namespace, query=query)
        return str((data.get("metadata") or {}).get("resourceVersion") or "")

    def by_resource(self, resource: str) -> Kind | None:
        """The kind kubectl means by ``deployments.apps`` or ``pods``, in the group's preferred
        version; None when the cluster does not serve it."""
        plural, _, group = resource.partition(".")
        api_version = "v1"
        if group:
            status, data = self._call("get", "GET", f"/apis/{group}", f"the API group {group}")
            api_version = str(((data.get("preferredVersion") or {}) if status == 200 else {}).get("groupVersion", ""))
            if not api_version:
                return None
        self.kind(api_version, "")
        return next((k for k in self._discovered.get(api_version, {}).values() if k.plural == plural), None)

    def get(self, kind: Kind, namespace: str | None, name: str) -> dict[str, Any] | None:
        status, data = self._call(
            "get", "GET", kind.path(namespace, name), kind.resource, namespace=namespace, name=name
        )
        if status == 404:
            return None
        data.setdefault("apiVersion", kind.api_version)
        data.setdefault("kind", kind.kind)
        return dict(data)

    def apply(
        self, kind: Kind, manifest: dict[str, Any], *, dry_run: bool = False, manager: str = FIELD_MANAGER
    ) -> tuple[dict[str, Any], bool]:
        """Server-side apply as field manager ``kc`` (or ``manager``), taking over fields that
        another manager changed (docs/cluster.md explains why). Returns the object and whether it
        was created."""
        meta = manifest["metadata"]
        namespace, name = meta.get("namespace"), str(meta["name"])
        query = {"fieldManager": manager, "force": "true"}
        if dry_run:
            query["dryRun"] = "All"
        status, data = self._call(
            "patch",
            "PATCH",
            kind.path(namespace, name),
            kind.resource,
            namespace=namespace,
            name=name,
            query=query,
            body=manifest,
            content_type=APPLY_PATCH,
        )
        if status == 404:  # the namespace is missing, or the kind went away
            raise ClusterError(failure("patch", kind.resource, namespace, name, status, data, self.host), status)
        return dict(data), status == 201

    def merge(self, kind: Kind, namespace: str | None, name: str, body: dict[str, Any], manager: str) -> dict[str, Any]:
        """A JSON merge patch as field manager ``manager``: it sets the fields it names and
        removes none; a ``metadata.resourceVersion`` in it makes the server refuse (409) when the
        object changed since it was read.
        https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/object-meta/"""
        status, data = self._call(
            "patch",
            "PATCH",
            kind.path(namespace, name),
            kind.resource,
            namespace=namespace,
            name=name,
            query={"fieldManager": manager},
            body=body,
            content_type="application/merge-patch+json",
        )
        if status == 404:
            raise ClusterError(failure("patch", kind.resource, namespace, name, status, data, self.host), status)
        return dict(data)

    def delete(self, kind: Kind, namespace: str | None, name: str, propagation: str, uid: str | None = None) -> bool:
        """Ask for the deletion; False when the object was already gone. With ``uid``, only
        that very object: one made since under the same name is left alone (409)."""
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        if uid:
            body["preconditions"] = {"uid": uid}
        try:
            status, _ = self._call(
                "delete", "DELETE", kind.path(namespace, name), kind.resource, namespace=namespace, name=name, body=body
            )
        except ClusterError as exc:
            if uid and exc.status == 409:  # replaced since it was listed: not the object meant
                return False
            raise
        return status != 404
