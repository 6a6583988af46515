"""What kc's REST calls are made of, apart from the connection: kinds and their paths, the error
messages, and the count of requests sent. Kept out of ``client`` so that this part needs no
Kubernetes client and ``client`` stays about the connection and the calls.
https://kubernetes.io/docs/reference/using-api/api-concepts/
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote


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


REQUEST_TIMEOUT = (10.0, 60.0)  # seconds to connect, seconds to wait for an answer
LOG_TIMEOUT = (5.0, 10.0)  # a container's log comes through the node's kubelet: give up sooner
LOG_BYTES = "16384"

# What the request budget of docs/cluster.md counts, one name per kind of request.
CATEGORIES = ("discovery", "list", "get", "watch", "log", "apply", "dry-run", "patch", "delete")


class Tally:
    """The requests one client sent, by category: what the cluster tests hold to a budget and
    the benchmark reports. Requests go out from several threads (``pool``), hence the lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, category: str) -> None:
        with self._lock:
            self._counts[category] += 1

    def counts(self) -> dict[str, int]:
        """A snapshot: category -> requests, only the categories sent."""
        with self._lock:
            return {c: self._counts[c] for c in CATEGORIES if self._counts[c]}

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())


def category(method: str, path: str, query: dict[str, str], content_type: str) -> str:
    """Which of ``CATEGORIES`` a request is."""
    if method == "GET":
        if query.get("watch") == "true":
            return "watch"
        if path.endswith("/log"):
            return "log"
        if "limit" in query:
            return "list"
        if path == "/api/v1" or (path.startswith("/apis/") and path.count("/") <= 3):
            return "discovery"  # /api/v1, /apis/GROUP, /apis/GROUP/VERSION
        return "get"
    if method == "PATCH":
        if query.get("dryRun"):
            return "dry-run"
        return "apply" if content_type == APPLY_PATCH else "patch"
    return "delete" if method == "DELETE" else method.lower()


APPLY_PATCH = "application/apply-patch+yaml"  # JSON is YAML, so the body is sent as JSON


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def payload(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {"message": raw.decode("utf-8", "replace")[:200]}


def failure(
    verb: str, resource: str, namespace: str | None, name: str | None, status: int, payload: Any, host: str
) -> str:
    """The one-line message of a refused request, naming the verb and the resource."""
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
