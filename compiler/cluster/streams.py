"""The requests that answer in a stream rather than at once: a watch that waits for a change,
and a container's log. Part of ``client.Client`` (a base class), kept apart because they read
their answer piece by piece and have timeouts of their own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kc.cluster.errors import ClusterError
from kc.cluster.rest import LOG_BYTES, LOG_TIMEOUT, REQUEST_TIMEOUT, Kind, failure, payload


class Streams:
    """Watches and logs, through ``Client``'s ``_send``."""

    host: str
    _transport_errors: tuple[type[BaseException], ...]

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
        raise NotImplementedError

    def _unreachable(self, exc: BaseException) -> ClusterError:
        raise NotImplementedError

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
            data = payload(response.read())
            raise ClusterError(failure("watch", kind.resource, namespace, name, status, data, self.host), status)
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
            raise ClusterError(failure("get", "pods/log", namespace, pod, status, payload(raw), self.host), status)
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
                data = payload(response.read())
            except self._transport_errors as exc:
                raise self._unreachable(exc) from None
            raise ClusterError(failure("get", "pods/log", namespace, name, status, data, self.host), status)
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
