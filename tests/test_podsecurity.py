"""Policy covers every rule of the Pod Security Standards' restricted profile, each relaxable only
by its policy key, and the namespaces kc creates enforce the level the policy allows."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import codes, compile_text, errors_of

BASE = 'kc: 1\npipeline: shop\n{policy}stages:\n  api:\n    pattern: service\n    image: "shop/api:1.0.0"\n'
PATCH = "    patch:\n      Deployment:\n        spec: {{template: {{spec: {pod}}}}}\n"


def spec(pod: str, policy: str = "") -> str:
    return BASE.format(policy=f"policy: {{{policy}}}\n" if policy else "") + PATCH.format(pod=pod)


ROOT_PATCH = "{securityContext: {runAsNonRoot: false, runAsUser: 0}}"
CONTAINER = "{containers: [{name: api, securityContext: %s}]}"


@pytest.mark.parametrize(
    "pod,code,key",
    [
        (ROOT_PATCH, "KC411", "allow-root"),
        (CONTAINER % "{runAsUser: 0}", "KC411", "allow-root"),
        (CONTAINER % "{seccompProfile: {type: Unconfined}}", "KC412", "allow-unconfined"),
        (CONTAINER % "{appArmorProfile: {type: Unconfined}}", "KC412", "allow-unconfined"),
        (CONTAINER % "{seLinuxOptions: {type: spc_t}}", "KC412", "allow-unconfined"),
        (CONTAINER % "{capabilities: {add: [SYS_ADMIN]}}", "KC404", "allow-privileged"),
        (CONTAINER % "{capabilities: {drop: [NET_RAW]}}", "KC404", "allow-privileged"),
        (CONTAINER % "{procMount: Unmasked}", "KC404", "allow-privileged"),
        (
            "{containers: [{name: api, ports: [{name: http, containerPort: 8080, hostPort: 80}]}]}",
            "KC404",
            "allow-privileged",
        ),
        ("{hostNetwork: true}", "KC404", "allow-privileged"),
        ("{securityContext: {sysctls: [{name: kernel.msgmax, value: '1'}]}}", "KC404", "allow-privileged"),
        ("{volumes: [{name: n, nfs: {server: x, path: /}}]}", "KC413", "allow-volume-types"),
        ("{volumes: [{name: h, hostPath: {path: /}}]}", "KC405", "allow-host-paths"),
    ],
)
def test_each_rule_is_an_error_its_key_relaxes(tmp_path: Path, pod: str, code: str, key: str) -> None:
    found = errors_of(spec(pod), tmp_path)
    assert set(codes(found)) == {code}, found
    assert all(f"policy {key} is false" in d.message for d in found)
    assert all(d.pos.line == 8 for d in found), "at the patch that set it"
    compile_text(spec(pod, f"{key}: true"), tmp_path)


def test_what_kc_allows_itself_passes(tmp_path: Path) -> None:
    # NET_BIND_SERVICE is the one capability the restricted profile lets a container add.
    compile_text(spec(CONTAINER % "{capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}}"), tmp_path)
    compile_text(
        spec("{securityContext: {sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: '80'}]}}"), tmp_path
    )


def _namespace_level(tmp_path: Path, policy: str) -> str:
    program = compile_text(BASE.format(policy=f"policy: {{{policy}}}\n" if policy else ""), tmp_path)
    [namespace] = [o.manifest for o in program.objects if o.kind == "Namespace"]
    return str(namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"])


def test_namespaces_enforce_what_the_policy_allows(tmp_path: Path) -> None:
    assert _namespace_level(tmp_path, "") == "restricted"
    assert _namespace_level(tmp_path, "allow-root: true") == "baseline"
    assert _namespace_level(tmp_path, "allow-volume-types: true") == "baseline"
    assert _namespace_level(tmp_path, "allow-privileged: true") == "privileged"
    assert _namespace_level(tmp_path, "allow-unconfined: true") == "privileged"
