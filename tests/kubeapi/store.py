"""The fake API server's state: the object store and what a write means.

Everything here works on plain JSON-like dicts, the same shape the real API server speaks, so
the HTTP layer only has to route requests and the controllers only have to edit dicts. What
each kind defaults and validates is in rules.py; selectors and managed fields in fields.py.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import threading
import uuid

from .fields import (
    MISSING,
    Obj,
    Path,
    essence,
    field_leaves,
    merge_patch,
    now,
    owners,
    parse_field_selector,
    parse_label_selector,
    remove_path,
    track,
)
from .resources import BUILTIN, ApiError, ResourceType, bad_request
from .rules import (
    DEFAULTS,
    IMMUTABLE,
    INITIAL_STATUS,
    POD_SPECS,
    apply_rules,
    dig,
    job_selector,
    validate,
)

Key = tuple[str, str, str, str]  # group, plural, namespace ("" if cluster-scoped), name
_SERVER_META = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "deletionTimestamp",
    "managedFields",
    "selfLink",
)


class Store:
    """Objects by (group, plural, namespace, name); every write bumps one resourceVersion."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._objects: dict[Key, Obj] = {}
        self._types = {(t.group, t.version, t.plural): t for t in BUILTIN}
        self._rv = 1000
        self._ips = ipaddress.ip_network("10.96.0.0/12").hosts()
        for _ in range(9):  # 10.96.0.1 is the kubernetes service, .10 cluster DNS, as usual
            next(self._ips)
        self._node_ports = iter(range(30000, 32768))

    # types
    def types(self) -> list[ResourceType]:
        return list(self._types.values())

    def resolve(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def type_of(self, api_version: str, kind: str) -> ResourceType | None:
        return next((t for t in self._types.values() if t.api_version == api_version and t.kind == kind), None)

    def register(self, rt: ResourceType) -> None:
        self._types[(rt.group, rt.version, rt.plural)] = rt

    def unregister(self, group: str, plural: str) -> None:
        for type_key in [k for k in self._types if (k[0], k[2]) == (group, plural)]:
            del self._types[type_key]
        for key in [k for k in self._objects if k[:2] == (group, plural)]:
            del self._objects[key]

    # reads
    def _key(self, rt: ResourceType, namespace: str | None, name: str) -> Key:
        return (rt.group, rt.plural, (namespace or "") if rt.namespaced else "", name)

    def raw(self, rt: ResourceType, namespace: str | None, name: str) -> Obj | None:
        """The stored dict itself, for controllers that only read."""
        return self._objects.get(self._key(rt, namespace, name))

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        obj = self.raw(rt, namespace, name)
        if obj is None:
            raise rt.not_found(name)
        return self._out(rt, obj)

    def _out(self, rt: ResourceType, obj: Obj) -> Obj:
        out = copy.deepcopy(obj)
        out["apiVersion"] = rt.api_version  # one storage for all served versions of a CRD
        return out

    def items(self, rt: ResourceType | None = None, namespace: str | None = None) -> list[Obj]:
        """Stored dicts (not copies) in etcd key order, optionally of one type or namespace."""
        return [
            obj
            for key, obj in sorted(self._objects.items())
            if (rt is None or key[:2] == (rt.group, rt.plural)) and (namespace is None or key[2] == namespace)
        ]

    def all(self) -> list[tuple[ResourceType, Obj]]:
        """Every stored dict (not a copy) with its type, in etcd key order."""
        by_resource = {(t.group, t.plural): t for t in self._types.values()}
        return [(by_resource[key[:2]], obj) for key, obj in sorted(self._objects.items()) if key[:2] in by_resource]

    def list(self, rt: ResourceType, namespace: str | None, labels: str = "", fields: str = "") -> list[Obj]:
        try:
            reqs = parse_label_selector(labels)
            wanted = parse_field_selector(fields, rt.group_kind)
        except ValueError as err:
            raise bad_request(str(err)) from err
        return [
            self._out(rt, obj)
            for obj in self.items(rt, namespace)
            if all(r.matches(obj["metadata"].get("labels") or {}) for r in reqs)
            and all((str(dig(obj, f) or "") == v) == eq for f, eq, v in wanted)
        ]

    @property
    def resource_version(self) -> str:
        return str(self._rv)

    # writes
    def _save(self, rt: ResourceType, obj: Obj, dry_run: bool) -> Obj:
        if not dry_run:
            self._rv += 1
            obj["metadata"]["resourceVersion"] = str(self._rv)
            meta = obj["metadata"]
            self._objects[self._key(rt, meta.get("namespace"), meta["name"])] = copy.deepcopy(obj)
        return self._out(rt, obj)

    def _check_namespace(self, rt: ResourceType, namespace: str) -> None:
        if not rt.namespaced:
            return
        ns = self._objects.get(("", "namespaces", "", namespace))
        if ns is None:
            raise ApiError(
                404,
                "NotFound",
                f'namespaces "{namespace}" not found',
                {"name": namespace, "kind": "namespaces"},
            )
        if ns["metadata"].get("deletionTimestamp"):
            raise ApiError(
                403,
                "Forbidden",
                f"{rt.resource} is forbidden: unable to create new "
                f"content in namespace {namespace} because it is being terminated",
                rt.details(),
            )

    def create(
        self,
        rt: ResourceType,
        body: Obj,
        manager: str,
        *,
        dry_run: bool = False,
        applied: set[Path] | None = None,
    ) -> Obj:
        obj = copy.deepcopy(body)
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        meta = obj.setdefault("metadata", {})
        for key in _SERVER_META:
            meta.pop(key, None)
        if not rt.namespaced:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        name, namespace = meta.get("name", ""), meta.get("namespace", "")
        self._check_namespace(rt, namespace)
        if self.raw(rt, namespace, name) is not None:
            raise ApiError(409, "AlreadyExists", f'{rt.resource} "{name}" already exists', rt.details(name))
        if rt.status:
            obj["status"] = copy.deepcopy(INITIAL_STATUS.get(rt.group_kind, {}))
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=now())
        if rt.tracks_generation:
            meta["generation"] = 1
        self._prepare(rt, obj, None)
        track(rt.api_version, None, obj, manager, applied)
        return self._save(rt, obj, dry_run)

    def update(
        self,
        rt: ResourceType,
        body: Obj,
        manager: str,
        *,
        dry_run: bool = False,
        subresource: str = "",
        applied: set[Path] | None = None,
        forced: frozenset[Path] = frozenset(),
    ) -> Obj:
        meta = body.get("metadata") or {}
        old = self.raw(rt, meta.get("namespace"), meta.get("name", ""))
        if old is None:
            raise rt.not_found(meta.get("name", ""))
        if meta.get("resourceVersion") not in (None, "", old["metadata"]["resourceVersion"]):
            raise ApiError(
                409,
                "Conflict",
                f"Operation cannot be fulfilled on {rt.resource} "
                f'"{meta["name"]}": the object has been modified; please apply your '
                "changes to the latest version and try again",
                rt.details(meta["name"]),
            )
        if subresource == "status":  # the status subresource writes status and nothing else
            obj = copy.deepcopy(old)
            obj["status"] = copy.deepcopy(body.get("status") or {})
        else:
            obj = copy.deepcopy(body)
            obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
            for key in _SERVER_META:
                if key in old["metadata"]:
                    obj["metadata"][key] = copy.deepcopy(old["metadata"][key])
            if rt.status:
                obj["status"] = copy.deepcopy(old.get("status", {}))
            self._prepare(rt, obj, old)
            for path in IMMUTABLE.get(rt.group_kind, ()):
                if dig(obj, path) != dig(old, path):
                    raise _invalid(rt, obj, [(path, "field is immutable")])
        if rt.tracks_generation and _spec(obj) != _spec(old):
            obj["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
        track(rt.api_version, old, obj, manager, applied, forced)
        if essence(obj) == essence(old):
            return self._out(rt, old)
        if obj["metadata"].get("deletionTimestamp") and not obj["metadata"].get("finalizers"):
            if not dry_run:  # the last finalizer is gone: the pending deletion completes
                self.remove(rt, obj["metadata"].get("namespace"), obj["metadata"]["name"])
            return self._out(rt, obj)
        return self._save(rt, obj, dry_run)

    def apply(
        self, rt: ResourceType, body: Obj, manager: str, *, force: bool = False, dry_run: bool = False
    ) -> tuple[Obj, bool]:
        """Server-side apply: create, or merge the applied fields in and drop the ones this
        manager applied before but no longer does. Returns (object, created)."""
        meta = body["metadata"]
        old = self.raw(rt, meta.get("namespace"), meta["name"])
        wanted = field_leaves(body)
        if old is None:
            return self.create(rt, body, manager, dry_run=dry_run, applied=set(wanted)), True
        live = field_leaves(old)
        others = {key: paths for key, paths in owners(old).items() if key[0] != manager}
        conflicts = {
            path: name
            for (name, _), paths in others.items()
            for path in paths
            if path in wanted and live.get(path, MISSING) != wanted[path]
        }
        if conflicts and not force:
            fields = sorted(conflicts.items())
            raise ApiError(
                409,
                "Conflict",
                f"Apply failed with {len(fields)} conflict(s): "
                + "; ".join(f'conflict with "{m}": .{".".join(p)}' for p, m in fields),
                {
                    **rt.details(meta["name"]),
                    "causes": [
                        {
                            "reason": "FieldManagerConflict",
                            "message": f'conflict with "{m}"',
                            "field": "." + ".".join(p),
                        }
                        for p, m in fields
                    ],
                },
            )
        merged = merge_patch(copy.deepcopy(old), body)
        still_owned = set().union(*others.values()) - set(conflicts)
        for path in owners(old).get((manager, "Apply"), set()) - set(wanted) - still_owned:
            remove_path(merged, path)
        out = self.update(rt, merged, manager, dry_run=dry_run, applied=set(wanted), forced=frozenset(conflicts))
        return out, False

    def write(self, rt: ResourceType, obj: Obj) -> bool:
        """A controller's write: stored as given, only if it changes anything (and never
        bringing back an object deleted since the controller read it)."""
        old = self.raw(rt, obj["metadata"].get("namespace"), obj["metadata"]["name"])
        if old is None or essence(old) == essence(obj):
            return False
        self._save(rt, copy.deepcopy(obj), False)
        return True

    def remove(self, rt: ResourceType, namespace: str | None, name: str) -> Obj | None:
        self._rv += 1
        return self._objects.pop(self._key(rt, namespace, name), None)

    # defaulting, validation and allocation
    def _prepare(self, rt: ResourceType, obj: Obj, old: Obj | None) -> None:
        gk = rt.group_kind
        if gk == "Service" and old is not None:
            for key in ("clusterIP", "clusterIPs", "ipFamilies"):  # kept when a PUT omits them
                if key not in obj.get("spec", {}) and key in old.get("spec", {}):
                    obj.setdefault("spec", {})[key] = old["spec"][key]
        apply_rules(obj, DEFAULTS.get(gk, []))
        if gk == "Service":
            self._allocate(obj.setdefault("spec", {}))
        elif gk == "Secret" and "stringData" in obj:  # write-only convenience field
            data = obj.setdefault("data", {})
            for key, value in obj.pop("stringData").items():
                data[key] = base64.b64encode(str(value).encode()).decode()
        elif gk == "Job.batch":
            job_selector(obj)
        elif gk == "Namespace":
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"].get("name", "")
        for pod_spec in POD_SPECS.get(gk, ()):
            apply_rules(obj, DEFAULTS["PodSpec"], pod_spec)
        errors = validate(rt.group_kind, obj)
        if errors:
            raise _invalid(rt, obj, errors)

    def _allocate(self, spec: Obj) -> None:
        if spec.get("type") == "ExternalName":
            return
        if not spec.get("clusterIP"):
            spec["clusterIP"] = str(next(self._ips))
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        if spec.get("type") in ("NodePort", "LoadBalancer"):
            for port in spec.get("ports", []):
                port.setdefault("nodePort", next(self._node_ports))


def _spec(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _invalid(rt: ResourceType, obj: Obj, errors: list[tuple[str, str]]) -> ApiError:
    name = obj.get("metadata", {}).get("name", "")
    text = ", ".join(f"{field}: {msg}" for field, msg in errors)
    causes = [{"reason": "FieldValueInvalid", "message": msg, "field": field} for field, msg in errors]
    details = {"name": name, "group": rt.group, "kind": rt.kind, "causes": causes}
    return ApiError(
        422,
        "Invalid",
        f'{rt.group_kind} "{name}" is invalid: ' + (f"[{text}]" if len(errors) > 1 else text),
        details,
    )
