"""Least-privilege networking, compiled: every pod isolated both ways, then DNS, the stages a stage
refers to (on their ports), and what ``egress`` declares; the policy's egress keys and their
errors; ``kc graph --network``. On a cluster that enforces the policies: tests/test_network_policy.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, codes, compile_text, errors_of
from kc.compiler import cli, ir, passes, source
from kc.targets import graph

EVERYWHERE = [{"ipBlock": {"cidr": "0.0.0.0/0"}}, {"ipBlock": {"cidr": "::/0"}}]


def policies(program: ir.Program) -> dict[str, dict[str, Any]]:
    return {o.name: o.manifest["spec"] for o in program.objects if o.kind == "NetworkPolicy"}


def peer(stage: str, instance: str = "net") -> dict[str, Any]:
    return {"podSelector": {"matchLabels": {"kc.dev/instance": instance, "kc.dev/stage": stage}}}


CALLS = """\
kc: 1
pipeline: net
stages:
  db: {pattern: postgres, password-secret: creds}
  cache: {pattern: redis, port: 6380}
  api:
    pattern: service
    image: docker.io/library/python:3.12-slim
    port: 8080
    env: {DB: "${db.host}:${db.port}"}
  report:
    pattern: cron
    image: docker.io/library/busybox:1.36.1
    schedule: "@daily"
    command: [wget, "${api.url}"]
  tidy: {pattern: job, image: "docker.io/library/busybox:1.36.1", command: ["true"]}
"""


def test_every_pod_is_isolated_both_ways_but_for_dns(tmp_path: Path) -> None:
    isolate = policies(compile_text(CALLS, tmp_path))["net-isolate"]
    assert isolate["podSelector"] == {"matchLabels": {"kc.dev/instance": "net"}}
    assert isolate["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in isolate
    dns = {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ],
        "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
    }
    assert isolate["egress"] == [dns]


def test_the_cluster_dns_is_where_the_policy_says(tmp_path: Path) -> None:
    text = CALLS.replace("stages:", "policy: {dns-namespace: dns, dns-labels: {app: coredns}}\nstages:", 1)
    (rule,) = policies(compile_text(text, tmp_path))["net-isolate"]["egress"]
    assert rule["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "dns"}},
            "podSelector": {"matchLabels": {"app": "coredns"}},
        }
    ]


def test_a_stage_reaches_exactly_the_stages_it_refers_to_on_their_ports(tmp_path: Path) -> None:
    found = policies(compile_text(CALLS, tmp_path))
    # api refers to db: egress to db's pods on the port db's Service leads to; and its own pods.
    assert found["net-api-egress"]["egress"] == [
        {"to": [peer("api")], "ports": [{"port": 8080, "protocol": "TCP"}]},
        {"to": [peer("db")], "ports": [{"port": 5432, "protocol": "TCP"}]},
    ]
    assert found["net-api-egress"]["podSelector"] == peer("api")["podSelector"]
    assert found["net-api-egress"]["policyTypes"] == ["Egress"]
    assert found["net-report-egress"]["egress"] == [{"to": [peer("api")], "ports": [{"port": 8080, "protocol": "TCP"}]}]
    # A server reaches its own pods; a job that refers to nothing reaches nothing but DNS.
    assert found["net-cache-egress"]["egress"] == [
        {"to": [peer("cache")], "ports": [{"port": 6380, "protocol": "TCP"}]}
    ]
    assert "net-tidy-egress" not in found
    # The other way round: db lets in itself and api, nobody else.
    assert found["net-db-ingress"]["ingress"] == [{"from": [peer("db"), peer("api")]}]


def test_a_named_target_port_is_the_pods_number(tmp_path: Path) -> None:
    program = compile_text(
        "kc: 1\npipeline: net\nstages:\n  db: {pattern: cockroachdb}\n"
        "  app: {pattern: job, image: 'a/b:1.0.0', env: {U: '${db.url}'}}\n",
        tmp_path,
    )
    (rule,) = policies(program)["net-app-egress"]["egress"]
    assert rule["ports"] == [{"port": 26257, "protocol": "TCP"}, {"port": 8080, "protocol": "TCP"}]


def test_a_reference_in_a_config_lets_the_stages_that_mount_it_connect(tmp_path: Path) -> None:
    text = CALLS.replace("stages:\n", "stages:\n  settings: {pattern: config, data: {DB: '${db.host}'}}\n", 1)
    text = text.replace(
        'command: [wget, "${api.url}"]', 'command: [wget, "${api.url}"]\n    mounts: {settings: /etc/x}'
    )
    found = policies(compile_text(text, tmp_path))
    assert {"to": [peer("db")], "ports": [{"port": 5432, "protocol": "TCP"}]} in found["net-report-egress"]["egress"]
    assert found["net-db-ingress"]["ingress"] == [{"from": [peer("db"), peer("api"), peer("report")]}]


EGRESS = """\
kc: 1
pipeline: net
workspace:
  egress: ["10.20.0.0/16:5432"]
stages:
  web:
    pattern: worker
    image: docker.io/library/busybox:1.36.1
    command: [sleep, "3600"]
    egress: [api.example.com:443, "203.0.113.7:8443/udp", kubernetes, "[2001:DB8::]:53", "*"]
"""


def test_declared_egress(tmp_path: Path) -> None:
    found = policies(compile_text(EGRESS, tmp_path))
    assert found["net-isolate"]["egress"][1:] == [
        {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}], "ports": [{"port": 5432, "protocol": "TCP"}]}
    ]
    assert found["net-web-egress"]["egress"] == [
        # A name cannot be a NetworkPolicy peer: its port, to every address.
        {"to": EVERYWHERE, "ports": [{"port": 443, "protocol": "TCP"}]},
        {"to": [{"ipBlock": {"cidr": "203.0.113.7/32"}}], "ports": [{"port": 8443, "protocol": "UDP"}]},
        # kubernetes: the API server's usual ports (443, already there, and 6443).
        {"to": EVERYWHERE, "ports": [{"port": 6443, "protocol": "TCP"}]},
        {"to": [{"ipBlock": {"cidr": "2001:db8::/128"}}], "ports": [{"port": 53, "protocol": "TCP"}]},
        {},  # "*": everything
    ]


def test_the_api_server_where_the_policy_names_it(tmp_path: Path) -> None:
    text = EGRESS.replace("stages:", "policy: {api-server: ['10.0.0.1:6443']}\nstages:", 1)
    rules = policies(compile_text(text.replace(', "*"', ""), tmp_path))["net-web-egress"]["egress"]
    assert {"to": [{"ipBlock": {"cidr": "10.0.0.1/32"}}], "ports": [{"port": 6443, "protocol": "TCP"}]} in rules
    assert {"to": EVERYWHERE, "ports": [{"port": 6443, "protocol": "TCP"}]} not in rules


def test_manifests_pods_get_only_what_the_spec_declares(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec:\n  selector: {matchLabels: {app: a}}\n"
        "  template:\n    metadata: {labels: {app: a}}\n    spec: {containers: [{name: a, image: 'a/b:1.0.0'}]}\n"
        "---\napiVersion: v1\nkind: Service\nmetadata: {name: app}\nspec: {selector: {app: a}, ports: [{port: 80}]}\n"
    )
    text = "kc: 1\npipeline: net\nstages:\n  raw: {pattern: manifests, files: [app.yaml]}\n"
    found = policies(compile_text(text, tmp_path))
    assert set(found) == {"net-isolate"}  # DNS, and nothing of its own
    found = policies(compile_text(text.replace("}\n", ", egress: ['10.1.0.0/16:80']}\n"), tmp_path))
    assert found["net-raw-egress"]["egress"] == [
        {"to": [{"ipBlock": {"cidr": "10.1.0.0/16"}}], "ports": [{"port": 80, "protocol": "TCP"}]}
    ]


def test_an_open_network_has_no_policies_whatever_egress_says(tmp_path: Path) -> None:
    text = EGRESS.replace("workspace:\n", "workspace:\n  network: open\n")
    assert policies(compile_text(text, tmp_path)) == {}


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("api.example.com", "give a port"),
        ("api.example.com:http", "'http' is not a port"),
        ("api.example.com:70000", "is not a port"),
        ("api.example.com:443/icmp", "'icmp' is not a protocol"),
        ("10.0.0.1/8:80", "did you mean '10.0.0.0/8'?"),
        ("10.0.0.300:80", "'10.0.0.300' is not an IP address or network"),
        ("2001:db8::1:443", "in brackets"),
        ("bad_name.example.com:443", "is not a host name"),
    ],
)
def test_a_bad_entry_is_an_error_at_its_line(tmp_path: Path, entry: str, says: str) -> None:
    text = "kc: 1\npipeline: net\nstages:\n  web:\n    pattern: worker\n    image: a/b:1.0.0\n    egress:\n"
    text += f"      - '{entry}'\n"
    (found,) = errors_of(text, tmp_path)
    assert (found.code, found.pos.line) == ("KC106", 8) and says in found.message and "stage 'web'" in found.message


def test_an_egress_host_named_like_a_stage(tmp_path: Path) -> None:
    text = CALLS.replace('"${api.url}"]\n', "\"${api.url}\"]\n    egress: ['api:8080']\n")
    (found,) = errors_of(text, tmp_path)
    assert found.code == "KC106" and found.pos.line == 16 and "${api.host}" in found.hint


POLICY = """\
kc: 1
pipeline: net
policy: {POLICY}
workspace:
  egress: ["10.1.2.0/24:443"]
stages:
  web:
    pattern: worker
    image: a/b:1.0.0
    egress:
      - "*"
      - api.example.com:443
      - kubernetes
      - 192.168.0.0/16:80
"""


def test_the_policy_may_forbid_every_address(tmp_path: Path) -> None:
    found = errors_of(POLICY.replace("{POLICY}", "{allow-egress-anywhere: false}"), tmp_path)
    assert [(d.code, d.pos.line) for d in found] == [("KC415", 11), ("KC415", 12), ("KC415", 13)]
    assert "api-server" in found[2].hint
    # With the API server named, kubernetes is an address like any other.
    policy = "{allow-egress-anywhere: false, api-server: ['10.0.0.1:443']}"
    found = errors_of(POLICY.replace("{POLICY}", policy), tmp_path)
    assert [d.pos.line for d in found] == [11, 12]


def test_the_policy_may_name_the_networks(tmp_path: Path) -> None:
    found = errors_of(POLICY.replace("{POLICY}", "{egress-cidrs: ['10.0.0.0/8']}"), tmp_path)
    # Everything outside 10/8: *, the name and the API server (every address), 192.168/16.
    assert [(d.code, d.pos.line) for d in found] == [("KC415", 11), ("KC415", 12), ("KC415", 13), ("KC415", 14)]
    assert "192.168.0.0/16, outside the policy's egress-cidrs" in found[3].message
    allowed = "{egress-cidrs: ['10.0.0.0/8', '192.168.0.0/16', '0.0.0.0/0', '::/0']}"
    compile_text(POLICY.replace("{POLICY}", allowed), tmp_path)


def test_the_policy_checks_the_workspace_egress_too(tmp_path: Path) -> None:
    text = POLICY.replace("{POLICY}", "{egress-cidrs: ['192.168.0.0/16']}").split("    egress:\n")[0]
    (found,) = errors_of(text, tmp_path)
    assert found.code == "KC415" and found.pos.line == 5


def test_an_organisation_policy_is_tightened_never_loosened(tmp_path: Path) -> None:
    org = tmp_path / "org.yaml"
    org.write_text(
        "allow-egress-anywhere: false\negress-cidrs: [10.0.0.0/8]\ndns-namespace: dns\napi-server: ['10.0.0.1:443']\n"
    )
    spec = "kc: 1\npipeline: net\npolicy: {POLICY}\nstages:\n  web: worker a/b:1.0.0\n"
    loosened = "{allow-egress-anywhere: true, egress-cidrs: [10.0.0.0/7], dns-namespace: kube-system, "
    loosened += "api-server: ['10.0.0.2:443']}"
    found = errors_of(spec.replace("{POLICY}", loosened), tmp_path, policy_file=str(org))
    assert codes(found) == ["KC407"] * 4
    assert "'egress-cidrs: [10.0.0.0/7]' loosens the organisation's 'egress-cidrs: [10.0.0.0/8]'" in found[1].message
    tightened = "{egress-cidrs: [10.1.0.0/16], dns-namespace: dns}"
    program = compile_text(spec.replace("{POLICY}", tightened), tmp_path, policy_file=str(org))
    assert program.policy.egress_cidrs == ["10.1.0.0/16"] and not program.policy.allow_egress_anywhere


SHOP_NETWORK = """\
flowchart LR
  every_pod["every pod of shop"]
  s_db["db (stateful)"]
  s_migrate["migrate (job)"]
  s_api["api (service)"]
  s_report["report (cron)"]
  x1(["namespace kube-system, pods k8s-app=kube-dns"])
  x2(["payments.example.com:443 (any address)"])
  x3(["other namespaces"])
  every_pod -->|53/TCP, 53/UDP| x1
  s_db -->|5432/TCP| s_db
  s_migrate -->|5432/TCP| s_db
  s_api -->|8080/TCP| s_api
  s_api -->|5432/TCP| s_db
  s_api -->|443/TCP| x2
  s_report -->|8080/TCP| s_api
  x3 -->|8080/TCP| s_api
"""


def test_graph_network_shows_who_talks_to_whom(capsys: pytest.CaptureFixture[str]) -> None:
    spec = str(ROOT / "examples" / "shop" / "pipeline.spec")
    assert cli.main(["graph", spec, "--network"]) == 0
    assert capsys.readouterr().out == SHOP_NETWORK
    assert cli.main(["graph", spec, "--network", "--format", "dot"]) == 0
    shown = capsys.readouterr().out
    assert '  "s_report" -> "s_api" [label="8080/TCP"];' in shown
    assert '  "x2" [label="payments.example.com:443 (any address)", shape=ellipse];' in shown


def test_security_md_shows_what_kc_graph_network_prints() -> None:
    shown = re.search(r"```\n(flowchart LR\n.*?)```", (ROOT / "docs" / "security.md").read_text(), re.S)
    assert shown
    program = passes.run(source.load_file(str(ROOT / "examples" / "shop" / "pipeline.spec")))
    assert graph.network_mermaid(program) == shown.group(1) == SHOP_NETWORK


def test_a_connection_needs_both_ends(tmp_path: Path) -> None:
    """A stage that another refers to lets it in; the graph shows a link only where the caller's
    egress and the callee's ingress both admit it, which every compiled pair does."""
    program = compile_text(CALLS, tmp_path)
    pairs = {(link.source, link.target) for link in graph.network.links(program) if not link.outside}
    assert pairs == {("db", "db"), ("cache", "cache"), ("api", "api"), ("api", "db"), ("report", "api")}
