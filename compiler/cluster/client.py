"""The connection to a cluster, made as kubectl makes it, and the few REST calls kc needs.

kc speaks to the API server through the official client's ``ApiClient`` (authentication, TLS,
proxies and exec credential plugins all come from there) but builds the REST paths itself from
discovery, so one code path serves every kind, custom resources included.
https://kubernetes.io/docs/reference/using-api/api-concepts/
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from kc.cluster import timing
from kc.cluster.errors import ClusterError

FIELD_MANAGER = "kc"
APPLY_PATCH = "application/apply-patch+yaml"  # JSON is YAML, so the body is sent as JSON
REQUEST_TIMEOUT = (10.0, 60.0)  # seconds to connect, seconds to wait for an answer
PAGE = "500"
DISCOVERY_WAIT = 10.0  # seconds a kind may take to appear in discovery
LOG_TIMEOUT = (5.0, 10.0)  # a container's log comes through the node's kubelet: give up sooner
LOG_BYTES = "16384"


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind as the cluster serves it."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def resource(self) -> str:
        """``deployments.apps``: how kubectl and the API server's messages name it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        out = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            out += f"/namespaces/{quote(namespace, safe='')}"
        out += f"/{self.plural}"
        return out + (f"/{quote(name, safe='')}" if name else "")


def kubeconfig_path(flag: str | None) -> str | None:
    """kubectl's order: ``--kubeconfig``, then ``$KUBECONFIG`` (a list, merged), then
    ``~/.kube/config`` if it exists; None means none of them."""
    if flag:
        return flag
    if os.environ.get("KUBECONFIG"):
        return os.environ["KUBECONFIG"]
    default = os.path.expanduser("~/.kube/config")
    return default if os.path.exists(default) else None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


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
            raise ClusterError(f"in-cluster configuration: {_one_line(exc)}") from None
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
            raise ClusterError(f"kubeconfig {path}: {_one_line(exc)}") from None
        where = f"context {current}"
    api = k8s.ApiClient(configuration)
    api.user_agent = "kc"
    return Client(api, f"{where} ({configuration.host})")


class Client:
    """Discovery, LIST, GET, server-side apply and DELETE; every failure is a ClusterError."""

    def __init__(self, api: Any, where: str) -> None:
        import urllib3
        from kubernetes.client.exceptions import ApiException

        self._api = api
        self._transport_errors: tuple[type[BaseException], ...] = (ApiException, urllib3.exceptions.HTTPError, OSError)
        self.where = where
        self.host = str(api.configuration.host)
        self._discovered: dict[str, dict[str, Kind]] = {}

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
        """One request through the client; a transport failure is a ClusterError."""
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
        return ClusterError(f"cannot reach the cluster at {self.host}: {_one_line(reason)}")

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
    ) -> tuple[int, Any]:
        response = self._send(method, path, query or {}, body, content_type, REQUEST_TIMEOUT)
        try:
            raw = response.read()
        except self._transport_errors as exc:
            raise self._unreachable(exc) from None
        status, payload = int(response.status), _payload(raw)
        if status >= 400 and status != 404:
            raise ClusterError(_failure(verb, resource, namespace, name, status, payload, self.host), status)
        return status, payload

    def kind(self, api_version: str, kind: str, *, refresh: bool = False) -> Kind | None:
        """What the cluster serves as ``kind`` in ``api_version``; None if it does not (yet).

        One discovery request per API group version, cached; ``refresh`` asks again when the
        kind was missing (a CustomResourceDefinition applied since)."""
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

    def list(self, kind: Kind, namespace: str | None, selector: str = "", fields: str = "") -> list[dict[str, Any]]:
        """Every object of ``kind`` in ``namespace`` (None: all, or cluster-scoped) that the
        selectors match, page by page. List items carry no apiVersion and kind; they get them."""
        items: list[dict[str, Any]] = []
        query = {"limit": PAGE}
        if selector:
            query["labelSelector"] = selector
        if fields:
            query["fieldSelector"] = fields
        while True:
            status, data = self._call(
                "list", "GET", kind.path(namespace), kind.resource, namespace=namespace, query=query
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

    def changed(
        self, kind: Kind, namespace: str | None, since: str, seconds: float, *, name: str = "", selector: str = ""
    ) -> bool:
        """Wait until the object ``name`` (or the objects ``selector`` matches) changes after
        resource version ``since``, or ``seconds`` pass; True if it changed. One watch request,
        closed at the first event: the caller looks again with GET or LIST. A cluster that
        refuses the watch raises ClusterError like any other request.
        https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes"""
        query = {"watch": "true", "resourceVersion": since, "timeoutSeconds": str(max(1, int(seconds)))}
        if name:
            query["fieldSelector"] = f"metadata.name={name}"
        if selector:
            query["labelSelector"] = selector
        response = self._send(
            "GET", kind.path(namespace), query, None, "application/json", (REQUEST_TIMEOUT[0], seconds + 10)
        )
        if response.status >= 400:
            status = int(response.status)
            payload = _payload(response.read())
            raise ClusterError(_failure("watch", kind.resource, namespace, name, status, payload, self.host), status)
        stream = response.response
        try:  # any event, even an error such as 410 Gone (too old): the caller looks again
            return any(b"\n" in chunk for chunk in stream.stream(1024, decode_content=True))
        except self._transport_errors as exc:
            raise self._unreachable(exc) from None
        finally:
            stream.close()

    def log(self, namespace: str, pod: str, container: str, *, tail: int, previous: bool = False) -> str:
        """The last ``tail`` lines of a container's log (of its previous run with ``previous``),
        at most 16 KiB; the API server fetches it from the node's kubelet."""
        query = {"container": container, "tailLines": str(tail), "limitBytes": LOG_BYTES}
        if previous:
            query["previous"] = "true"
        path = Kind("v1", "Pod", "pods", True).path(namespace, pod) + "/log"
        response = self._send("GET", path, query, None, "application/json", LOG_TIMEOUT, accept="text/plain, */*")
        try:
            raw = response.read()
        except self._transport_errors as exc:
            raise self._unreachable(exc) from None
        if int(response.status) >= 400:
            status = int(response.status)
            raise ClusterError(_failure("get", "pods/log", namespace, pod, status, _payload(raw), self.host), status)
        return bytes(raw).decode("utf-8", "replace")

    def pod_logs(
        self,
        namespace: str,
        name: str,
        container: str,
        *,
        since: float | None = None,
        follow: bool = False,
        tail: int | None = None,
    ) -> Iterator[str]:
        """The lines of a container's log: the last ``tail`` lines, or those of the last
        ``since`` seconds; with ``follow``, and the lines it writes after, until it ends or the
        caller stops reading. The request is made here, so a refusal raises before any line."""
        query = {"container": container}
        if since is not None:
            query["sinceSeconds"] = str(max(1, int(since)))
        if tail is not None and tail >= 0:
            query["tailLines"] = str(tail)
        if follow:
            query["follow"] = "true"
        path = Kind("v1", "Pod", "pods", True).path(namespace, name) + "/log"
        read = None if follow else REQUEST_TIMEOUT[1]
        response = self._send("GET", path, query, None, "application/json", (LOG_TIMEOUT[0], read), "text/plain, */*")
        if int(response.status) >= 400:
            status = int(response.status)
            try:
                payload = _payload(response.read())
            except self._transport_errors as exc:
                raise self._unreachable(exc) from None
            raise ClusterError(_failure("get", "pods/log", namespace, name, status, payload, self.host), status)
        return self._lines(response.response)

    def _lines(self, stream: Any) -> Iterator[str]:
        rest = b""
        try:
            for chunk in stream.stream(4096, decode_content=True):
                *whole, rest = (rest + chunk).split(b"\n")
                for line in whole:
                    yield line.decode("utf-8", "replace")
            if rest:
                yield rest.decode("utf-8", "replace")
        except self._transport_errors as exc:
            raise self._unreachable(exc) from None
        finally:
            stream.close()

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
            raise ClusterError(_failure("patch", kind.resource, namespace, name, status, data, self.host), status)
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
            raise ClusterError(_failure("patch", kind.resource, namespace, name, status, data, self.host), status)
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


def _payload(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {"message": raw.decode("utf-8", "replace")[:200]}


def _failure(
    verb: str, resource: str, namespace: str | None, name: str | None, status: int, payload: Any, host: str
) -> str:
    message = " ".join(str((payload or {}).get("message") or "").split())
    if status == 401:
        return f"the cluster at {host} did not accept the credentials (401 Unauthorized)"
    scope = f' in namespace "{namespace}"' if namespace else ""
    target = f' "{name}"' if name else ""
    if status == 403:
        return f"the cluster forbids {verb} on {resource}{target}{scope}: {message or 'Forbidden'}"
    if status == 404:
        return f"{verb} {resource}{target}{scope}: not found: {message}"
    reason = (payload or {}).get("reason") or ""
    return f"{verb} {resource}{target}{scope} failed ({status} {reason}): {message}".rstrip(": ")
