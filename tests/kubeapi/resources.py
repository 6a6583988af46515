"""The resource types the fake API server serves, and the errors it answers with."""

from __future__ import annotations

from dataclasses import dataclass

from .fields import Obj


class ApiError(Exception):
    """An error the server answers with a `Status` object, the way the real API server does."""

    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> Obj:
        out: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            out["details"] = self.details
        return out


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    status: bool = True  # has a status subresource, so writes to the main resource ignore .status
    custom: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def resource(self) -> str:
        """`deployments.apps`, the spelling error messages use."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def group_kind(self) -> str:
        """`Deployment.apps`, the key of the defaulting and validation tables."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def tracks_generation(self) -> bool:
        # Core v1 and RBAC objects carry no metadata.generation on a real server.
        return self.custom or self.group not in ("", "rbac.authorization.k8s.io")

    def details(self, name: str = "") -> Obj:
        return {k: v for k, v in (("name", name), ("group", self.group), ("kind", self.plural)) if v}

    def not_found(self, name: str) -> ApiError:
        return ApiError(404, "NotFound", f'{self.resource} "{name}" not found', self.details(name))


def _types(rows: str) -> list[ResourceType]:
    out = []
    for row in rows.strip().splitlines():
        api_version, kind, plural, short, scope, status = row.split()
        group, _, version = api_version.rpartition("/")
        shorts = tuple(s for s in short.split(",") if s != "-")
        out.append(ResourceType(group, version, kind, plural, scope == "ns", shorts, status == "y"))
    return out


# apiVersion, kind, plural, short names, scope, has a status subresource
BUILTIN = _types("""
v1 Namespace namespaces ns cluster y
v1 ResourceQuota resourcequotas quota ns y
v1 LimitRange limitranges limits ns n
v1 ServiceAccount serviceaccounts sa ns n
v1 ConfigMap configmaps cm ns n
v1 Secret secrets - ns n
v1 PersistentVolumeClaim persistentvolumeclaims pvc ns y
v1 Service services svc ns y
v1 Pod pods po ns y
v1 Endpoints endpoints ep ns n
apps/v1 Deployment deployments deploy ns y
apps/v1 StatefulSet statefulsets sts ns y
apps/v1 ReplicaSet replicasets rs ns y
batch/v1 Job jobs - ns y
batch/v1 CronJob cronjobs cj ns y
policy/v1 PodDisruptionBudget poddisruptionbudgets pdb ns y
autoscaling/v2 HorizontalPodAutoscaler horizontalpodautoscalers hpa ns y
networking.k8s.io/v1 Ingress ingresses ing ns y
networking.k8s.io/v1 NetworkPolicy networkpolicies netpol ns n
rbac.authorization.k8s.io/v1 Role roles - ns n
rbac.authorization.k8s.io/v1 RoleBinding rolebindings - ns n
rbac.authorization.k8s.io/v1 ClusterRole clusterroles - cluster n
rbac.authorization.k8s.io/v1 ClusterRoleBinding clusterrolebindings - cluster n
apiextensions.k8s.io/v1 CustomResourceDefinition customresourcedefinitions crd,crds cluster y
""")
