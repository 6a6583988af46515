"""Generated Secrets against the local cluster (fake nodes suffice): kc apply fills in the values
once and keeps them, kc diff is clean after it, teardown keeps them unless data is deleted, no
output shows them, and a pod reading a key nobody provides stops the apply before anything."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import Cluster
from kc.compiler import cli
from kubernetes import client, config

pytestmark = pytest.mark.cluster

SPEC = """\
kc: 1
pipeline: gs
stages:
  db: postgres
  k: {pattern: secret, keys: [token], length: 20, alphabet: hex}
  app:
    pattern: job
    image: busybox:1.36.1
    env: {PASSWORD: {secret: db/password}, TOKEN: {secret: k/token}, MODE: fast}
"""


@dataclass
class Kc:
    cluster: Cluster
    capsys: pytest.CaptureFixture[str]
    spec: Path
    instance: str = field(default_factory=lambda: f"kcg-{secrets.token_hex(3)}")
    printed: list[str] = field(default_factory=list)

    def __call__(self, *argv: str) -> int:
        self.capsys.readouterr()
        code = cli.main(
            [
                argv[0],
                str(self.spec),
                *argv[1:],
                "--instance",
                self.instance,
                "--kubeconfig",
                str(self.cluster.kubeconfig),
            ]
        )
        out, err = self.capsys.readouterr()
        self.printed.append(out + err)
        return code

    def secret(self, name: str) -> dict[str, str] | None:
        core = client.CoreV1Api(config.new_client_from_config(config_file=str(self.cluster.kubeconfig)))
        try:
            found = core.read_namespaced_secret(f"{self.instance}-{name}", self.instance)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return {k: base64.b64decode(v).decode() for k, v in (found.data or {}).items()}

    def namespace_exists(self) -> bool:
        core = client.CoreV1Api(config.new_client_from_config(config_file=str(self.cluster.kubeconfig)))
        return any(n.metadata.name == self.instance for n in core.list_namespace().items)


@pytest.fixture
def kc(cluster: Cluster, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Iterator[Kc]:
    spec = tmp_path / "pipeline.spec"
    spec.write_text(SPEC)
    found = Kc(cluster, capsys, spec)
    yield found
    cli.main(
        [
            "teardown",
            str(spec),
            "--instance",
            found.instance,
            "--yes",
            "--delete-data",
            "--kubeconfig",
            str(cluster.kubeconfig),
        ]
    )


def test_values_are_generated_once_and_kept(kc: Kc) -> None:
    assert kc("apply", "--timeout", "60s") == 0, kc.printed[-1]
    assert "generated Secret" in kc.printed[-1]
    password = (kc.secret("db-password") or {}).get("password", "")
    token = (kc.secret("k") or {}).get("token", "")
    assert len(password) == 32 and password.isalnum()
    assert len(token) == 20 and set(token) <= set("0123456789abcdef")
    assert kc("diff") == 0, kc.printed[-1]  # no difference for the values kc did not apply
    assert kc("apply", "--timeout", "60s") == 0
    assert kc("apply", "--timeout", "60s", "--set", "app.env.MODE=slow", "--prune") == 0, kc.printed[-1]
    assert "generated" not in "".join(kc.printed[-2:])
    assert kc.secret("db-password") == {"password": password} and kc.secret("k") == {"token": token}
    assert kc("diff", "--set", "app.env.MODE=slow") == 0, kc.printed[-1]
    assert kc("teardown", "--yes", "--timeout", "60s") == 0, kc.printed[-1]
    assert kc.secret("db-password") == {"password": password}, "kept without --delete-data"
    assert kc.secret("k") == {"token": token}
    assert kc("apply", "--timeout", "60s") == 0  # back again: the kept values are the values
    assert kc.secret("db-password") == {"password": password}
    assert kc("teardown", "--yes", "--delete-data", "--timeout", "60s") == 0, kc.printed[-1]
    assert kc.secret("db-password") is None and kc.secret("k") is None
    everything = "".join(kc.printed)
    for value in (password, token, base64.b64encode(password.encode()).decode()):
        assert value not in everything


def test_a_key_nobody_provides_stops_the_apply(kc: Kc) -> None:
    kc.spec.write_text(SPEC.replace("{secret: k/token}", "{secret: k/nope}").replace("db/password", "elsewhere/pw"))
    assert kc("apply", "--timeout", "30s") == 2
    said = kc.printed[-1]
    assert "nothing was applied" in said, said
    assert f"Secret {kc.instance}/{kc.instance}-k has no key \"nope\", which stage 'app'" in said, said
    assert f'Secret {kc.instance}/elsewhere has no key "pw"' in said, said
    assert f"kubectl create secret generic elsewhere --from-literal=pw=… -n {kc.instance}" in said, said
    assert not kc.namespace_exists()
