"""An in-process fake Kubernetes API server for tests.

    with FakeCluster() as cluster:
        api = kubernetes.client.AppsV1Api(cluster.api_client())
        ...
        assert cluster.objects("Deployment", "shop")[0]["status"]["readyReplicas"] == 2

It speaks enough of the REST protocol (discovery, CRUD, merge/JSON patches, server-side apply,
dry runs, selectors, cascading deletion) for the real `kubernetes` client, and runs tiny
controllers so workloads become ready, unless a test switches them off.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from .controllers import Controllers
from .fields import Obj
from .server import Api, HttpServer, RecordedRequest
from .store import Store

__all__ = ["FakeCluster", "RecordedRequest"]

SYSTEM_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")


class FakeCluster:
    """A fake API server on 127.0.0.1 (random port) with its store and controllers."""

    def __init__(self, token: str = "fake-token", namespaces: tuple[str, ...] = SYSTEM_NAMESPACES) -> None:
        self.token = token
        self.store = Store()
        self.controllers = Controllers(self.store)
        self.requests: list[RecordedRequest] = []
        self.api = Api(self.store, self.controllers, token)
        self._http = HttpServer(self.api, self.requests)
        self.url = self._http.url
        self._clients: list[Any] = []
        self._tmp = tempfile.TemporaryDirectory(prefix="kubeapi-")
        ns_type = self.store.resolve("", "v1", "namespaces")
        assert ns_type is not None
        for name in namespaces:
            self.store.create(ns_type, {"metadata": {"name": name}}, "kube-apiserver")

    def start(self) -> FakeCluster:
        self._http.start()
        return self

    def stop(self) -> None:
        for client in self._clients:
            client.close()
        self._http.stop()
        self._tmp.cleanup()

    def __enter__(self) -> FakeCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # clients
    def kubeconfig(self, path: str | Path) -> Path:
        """Write a kubeconfig whose current context "fake" points here; returns its path."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": self.token}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": "default"}}],
            "current-context": "fake",
        }
        target = Path(path)
        target.write_text(yaml.safe_dump(config, sort_keys=False))
        return target

    def api_client(self) -> Any:
        """A `kubernetes.client.ApiClient` configured for this server (closed on stop)."""
        from kubernetes import client  # imported late: only the tests that talk need it

        configuration = client.Configuration(host=self.url, api_key={"authorization": f"Bearer {self.token}"})
        api_client = client.ApiClient(configuration)
        self._clients.append(api_client)
        return api_client

    def dynamic_client(self) -> Any:
        """A `kubernetes.dynamic.DynamicClient` whose discovery cache lives in a temp dir."""
        from kubernetes.dynamic import DynamicClient

        cache = Path(self._tmp.name) / f"discovery-{len(self._clients)}.json"
        return DynamicClient(self.api_client(), cache_file=str(cache))  # type: ignore[no-untyped-call]

    # inspection and control
    def objects(self, kind: str | None = None, namespace: str | None = None) -> list[Obj]:
        """Copies of the stored objects, optionally of one kind (`Deployment` or
        `Deployment.apps`) and namespace, settled by the controllers first."""
        with self.store.lock:
            self.controllers.reconcile()
            return [
                self.store.get(rt, obj["metadata"].get("namespace"), obj["metadata"]["name"])
                for rt, obj in self.store.all()
                if kind in (None, rt.kind, rt.group_kind) and namespace in (None, obj["metadata"].get("namespace"))
            ]

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        found = [o for o in self.objects(kind, namespace) if o["metadata"]["name"] == name]
        return found[0] if found else None

    def forbid(self, verb: str, resource: str) -> None:
        """Answer 403 to `verb` (get, list, create, update, patch, delete, deletecollection or
        *) on `resource` (`deployments`, `deployments.apps`, `deployments/status` or *)."""
        self.api.forbidden.add((verb, resource))

    def allow(self, verb: str, resource: str) -> None:
        self.api.forbidden.discard((verb, resource))

    def run_cronjob(self, namespace: str, name: str) -> Obj:
        """Fire a CronJob's schedule now; returns the Job it created (already reconciled)."""
        return self.controllers.run_cronjob(namespace, name)

    def reconcile(self) -> None:
        """Let the controllers catch up now (they also do before every request)."""
        self.controllers.reconcile()

    @property
    def errors(self) -> list[str]:
        """Tracebacks of requests that crashed the fake server (answered with 500)."""
        return self.api.errors
