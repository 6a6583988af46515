"""The HTTP layer: routes Kubernetes REST paths to the store and answers like an API server."""

from __future__ import annotations

import json
import threading
import traceback
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

import yaml

from .controllers import Controllers
from .fields import Obj, json_patch, merge_patch
from .resources import ApiError, ResourceType, bad_request
from .store import Store

USER = "fake-user"
VERSION = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.0",
    "gitCommit": "fake",
    "gitTreeState": "clean",
    "buildDate": "2024-08-13T07:28:49Z",
    "goVersion": "go1.22.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update"]
APPLY = "application/apply-patch+yaml"
MERGE_PATCHES = ("application/merge-patch+json", "application/strategic-merge-patch+json")
JOB_WARNING = (
    '299 - "child pods are preserved by default when jobs are deleted; set '
    "propagationPolicy=Background to remove them or set propagationPolicy=Orphan to "
    'suppress this warning"'
)

Reply = tuple[int, Obj | str, dict[str, str]]


class RecordedRequest(NamedTuple):
    method: str
    path: str
    query: dict[str, str]


class Route(NamedTuple):
    group: str
    version: str
    namespace: str | None
    plural: str
    name: str | None
    subresource: str | None


def parse_route(path: str) -> Route | None:
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    # /namespaces/{ns}/status is the Namespace's own subresource, not a namespaced collection
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    if not 1 <= len(rest) <= 3:
        return None
    return Route(group, version, namespace, rest[0], *[*rest[1:], None, None][:2])


class Api:
    """Request semantics, independent of the socket handling below."""

    def __init__(self, store: Store, controllers: Controllers, token: str) -> None:
        self.store, self.controllers, self.token = store, controllers, token
        self.forbidden: set[tuple[str, str]] = set()
        self.errors: list[str] = []  # tracebacks of unexpected failures, for debugging tests
        self.address = ""

    def handle(self, method: str, path: str, query: dict[str, str], headers: Mapping[str, str], raw: bytes) -> Reply:
        """Answer one request; `headers` have lower-case names."""
        try:
            with self.store.lock:
                if headers.get("authorization") != f"Bearer {self.token}":
                    raise ApiError(401, "Unauthorized", "Unauthorized")
                self.controllers.reconcile()  # a switched-on controller catches up on any poll
                reply = self._dispatch(method, path, query, headers, raw)
                if method != "GET" and query.get("dryRun") != "All":
                    self.controllers.reconcile()
                return reply
        except ApiError as err:
            return err.code, err.status(), {}
        except Exception as err:
            self.errors.append(traceback.format_exc())
            return 500, ApiError(500, "InternalError", f"fake server error: {err}").status(), {}

    # discovery
    def _groups(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for t in self.store.types():
            if t.version not in out.setdefault(t.group, []):
                out[t.group].append(t.version)
        return out

    def _group(self, name: str, versions: list[str]) -> Obj:
        listed = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": name,
            "versions": listed,
            "preferredVersion": listed[0],
        }

    def _resources(self, group: str, version: str) -> Obj:
        resources: list[Obj] = []
        for t in self.store.types():
            if (t.group, t.version) != (group, version):
                continue
            entry = {
                "name": t.plural,
                "singularName": t.kind.lower(),
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": VERBS,
            }
            if t.short_names:
                entry["shortNames"] = list(t.short_names)
            resources.append(entry)
            if t.status:
                resources.append(
                    {
                        "name": f"{t.plural}/status",
                        "singularName": "",
                        "namespaced": t.namespaced,
                        "kind": t.kind,
                        "verbs": ["get", "patch", "update"],
                    }
                )
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }

    def _discovery(self, path: str) -> Obj | str | None:
        parts = [p for p in path.split("/") if p]
        groups = self._groups()
        if path in ("/healthz", "/readyz", "/livez"):
            return "ok"
        if parts == ["version"]:
            return VERSION
        if parts == ["api"]:
            return {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": self.address}],
            }
        if parts == ["api", "v1"]:
            return self._resources("", "v1")
        if parts == ["apis"]:
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [self._group(g, vs) for g, vs in groups.items() if g],
            }
        if len(parts) == 2 and parts[0] == "apis" and parts[1] in groups:
            return self._group(parts[1], groups[parts[1]])
        if len(parts) == 3 and parts[0] == "apis" and parts[2] in groups.get(parts[1], []):
            return self._resources(parts[1], parts[2])
        return None

    # resources
    def _dispatch(self, method: str, path: str, query: dict[str, str], headers: Mapping[str, str], raw: bytes) -> Reply:
        if method == "GET" and (found := self._discovery(path)) is not None:
            return 200, found, {}
        route = parse_route(path)
        rt = self.store.resolve(route.group, route.version, route.plural) if route else None
        if (
            route is None
            or rt is None
            or (route.namespace is not None and not rt.namespaced)
            or route.subresource not in (None, "status")
            or (route.subresource == "status" and not rt.status)
        ):
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        ns, name, sub = route.namespace, route.name, route.subresource
        verb = {
            "GET": "get" if name else "list",
            "POST": "create",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "delete" if name else "deletecollection",
        }.get(method)
        if (
            verb is None
            or (name is None) != (verb in ("list", "create", "deletecollection"))
            or (verb == "create" and rt.namespaced and ns is None)
            or query.get("watch")
        ):
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        self._authorize(verb, rt, sub, ns, name)
        ctype = headers.get("content-type", "application/json").split(";")[0].strip()
        dry_run = query.get("dryRun") == "All"
        manager = query.get("fieldManager") or headers.get("user-agent", "unknown").split("/")[0]
        handler: Callable[[], Reply] = {
            "get": lambda: (200, self.store.get(rt, ns, name or ""), {}),
            "list": lambda: (200, self._list(rt, ns, query), {}),
            "create": lambda: (
                201,
                self.store.create(rt, self._object(rt, raw, ctype, ns, None), manager, dry_run=dry_run),
                {},
            ),
            "update": lambda: (
                200,
                self.store.update(
                    rt,
                    self._object(rt, raw, ctype, ns, name),
                    manager,
                    dry_run=dry_run,
                    subresource=sub or "",
                ),
                {},
            ),
            "patch": lambda: self._patch(rt, ns, name or "", sub, query, ctype, raw, manager),
            "delete": lambda: self._delete(rt, ns, name or "", query, raw),
            "deletecollection": lambda: self._delete_collection(rt, ns, query, raw),
        }[verb]
        return handler()

    def _authorize(self, verb: str, rt: ResourceType, sub: str | None, ns: str | None, name: str | None) -> None:
        resource = rt.plural + (f"/{sub}" if sub else "")
        names = {resource, rt.resource + (f"/{sub}" if sub else ""), "*"}
        if not any((v, r) in self.forbidden for v in (verb, "*") for r in names):
            return
        who = f'{rt.resource} "{name}"' if name else rt.resource
        scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
        raise ApiError(
            403,
            "Forbidden",
            f'{who} is forbidden: User "{USER}" cannot {verb} resource "{resource}" in API group "{rt.group}" {scope}',
            rt.details(name or ""),
        )

    @staticmethod
    def _decode(raw: bytes, ctype: str) -> Any:
        if not raw.strip():
            return {}
        try:
            return yaml.safe_load(raw) if "yaml" in ctype else json.loads(raw)
        except (ValueError, yaml.YAMLError) as err:
            raise bad_request(f"error decoding request body: {err}") from err

    def _object(
        self,
        rt: ResourceType,
        raw: bytes,
        ctype: str,
        ns: str | None,
        name: str | None,
        *,
        strict: bool = False,
    ) -> Obj:
        """The request body as an object of this type, in the namespace and name of the URL."""
        obj = self._decode(raw, ctype)
        if not isinstance(obj, dict):
            raise bad_request("the request body must be an object")
        for field, expected in (("apiVersion", rt.api_version), ("kind", rt.kind)):
            if obj.get(field, None if strict else expected) != expected:
                raise bad_request(
                    f"the {field} in the data ({obj.get(field)}) does not match the expected {field} ({expected})"
                )
        meta = obj.setdefault("metadata", {})
        if ns is not None and meta.setdefault("namespace", ns) != ns:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        if name is not None and meta.setdefault("name", name) != name:
            raise bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        return obj

    def _list(self, rt: ResourceType, ns: str | None, query: dict[str, str]) -> Obj:
        items = self.store.list(rt, ns, query.get("labelSelector", ""), query.get("fieldSelector", ""))
        meta: Obj = {"resourceVersion": self.store.resource_version}
        try:  # the continue token is simply the offset of the next item
            start, limit = int(query.get("continue") or 0), int(query.get("limit") or 0)
        except ValueError as err:
            raise bad_request(f"invalid limit or continue: {err}") from err
        if limit and start + limit < len(items):
            meta.update({"continue": str(start + limit), "remainingItemCount": len(items) - start - limit})
        items = items[start : start + limit] if limit else items[start:]
        for item in items:
            if not rt.custom:  # built-in list items carry no apiVersion/kind on a real server
                item.pop("apiVersion", None)
                item.pop("kind", None)
        return {"kind": f"{rt.kind}List", "apiVersion": rt.api_version, "metadata": meta, "items": items}

    def _patch(
        self,
        rt: ResourceType,
        ns: str | None,
        name: str,
        sub: str | None,
        query: dict[str, str],
        ctype: str,
        raw: bytes,
        manager: str,
    ) -> Reply:
        dry_run = query.get("dryRun") == "All"
        if ctype == APPLY:
            if not query.get("fieldManager"):
                raise bad_request("PATCH requests with apply content type must include fieldManager")
            body = self._object(rt, raw, ctype, ns, name, strict=True)
            force = query.get("force", "").lower() == "true"
            obj, created = self.store.apply(rt, body, manager, dry_run=dry_run, force=force)
            return (201 if created else 200), obj, {}
        old = self.store.get(rt, ns, name)
        patch = self._decode(raw, ctype)
        if ctype in MERGE_PATCHES:  # strategic merge is treated as a plain merge patch
            new = merge_patch(old, patch)
        elif ctype == "application/json-patch+json":
            try:
                new = json_patch(old, patch)
            except (KeyError, IndexError, TypeError, ValueError) as err:
                raise ApiError(422, "Invalid", f"the server rejected our request: {err}") from err
        else:
            raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format: {ctype}")
        new.setdefault("metadata", {}).update(name=name, **({"namespace": ns} if ns else {}))
        return 200, self.store.update(rt, new, manager, dry_run=dry_run, subresource=sub or ""), {}

    def _delete_options(self, query: dict[str, str], raw: bytes) -> tuple[str | None, bool, Obj]:
        opts = self._decode(raw, "application/json")
        policy = query.get("propagationPolicy") or opts.get("propagationPolicy")
        orphan = query.get("orphanDependents", str(opts.get("orphanDependents"))).lower()
        if policy is None and orphan in ("true", "false"):
            policy = "Orphan" if orphan == "true" else "Background"
        if policy not in (None, "Orphan", "Background", "Foreground"):
            raise bad_request(f"unknown propagationPolicy {policy!r}")
        dry_run = query.get("dryRun") == "All" or "All" in (opts.get("dryRun") or [])
        return policy, dry_run, opts.get("preconditions") or {}

    def _delete(self, rt: ResourceType, ns: str | None, name: str, query: dict[str, str], raw: bytes) -> Reply:
        policy, dry_run, pre = self._delete_options(query, raw)
        live = self.store.get(rt, ns, name)
        for field in ("uid", "resourceVersion"):
            if pre.get(field) not in (None, live["metadata"].get(field)):
                raise ApiError(
                    409,
                    "Conflict",
                    f"Operation cannot be fulfilled on {rt.resource} "
                    f'"{name}": Precondition failed: {field} in precondition: '
                    f"{pre[field]}, {field} in object meta: {live['metadata'][field]}",
                    rt.details(name),
                )
        warn = {"Warning": JOB_WARNING} if rt.group_kind == "Job.batch" and not policy else {}
        return 200, self.controllers.delete(rt, ns, name, policy, dry_run=dry_run), warn

    def _delete_collection(self, rt: ResourceType, ns: str | None, query: dict[str, str], raw: bytes) -> Reply:
        policy, dry_run, _ = self._delete_options(query, raw)
        items = self.store.list(rt, ns, query.get("labelSelector", ""), query.get("fieldSelector", ""))
        for item in items:
            meta = item["metadata"]
            self.controllers.delete(rt, meta.get("namespace"), meta["name"], policy, dry_run)
        return (
            200,
            {
                "kind": f"{rt.kind}List",
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": self.store.resource_version},
                "items": items,
            },
            {},
        )


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # keep-alive connections must not hold up shutdown
    api: Api
    requests: list[RecordedRequest]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms stalls
    server: _HTTPServer

    def _serve(self) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        self.server.requests.append(RecordedRequest(self.command, url.path, query))
        headers = {key.lower(): value for key, value in self.headers.items()}
        code, payload, extra = self.server.api.handle(self.command, url.path, query, headers, raw)
        text = isinstance(payload, str)
        data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain" if text else "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output quiet


class HttpServer:
    """A ThreadingHTTPServer on 127.0.0.1 and a random free port, in a daemon thread."""

    def __init__(self, api: Api, requests: list[RecordedRequest]) -> None:
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.api, self._httpd.requests = api, requests
        host, port = self._httpd.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        api.address = f"{host!s}:{port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
