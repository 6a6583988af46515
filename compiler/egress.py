"""Egress entries (``kc.schemas.egress``) as NetworkPolicy egress rules.

NetworkPolicy selects peers by pod and namespace labels and by IP block, never by DNS name
(https://kubernetes.io/docs/concepts/services-networking/network-policies/), and kc compiles
without a network, so a host name cannot become addresses: ``HOST:PORT`` opens PORT to every
address, and only ``CIDR:PORT`` limits the addresses too (docs/decisions.md, "Egress")."""

from __future__ import annotations

from typing import Any

from kc.schemas import egress
from kc.schemas import spec as spec_schema

# Where the API server listens behind the ``kubernetes`` Service when the policy does not say:
# 443 on managed clusters, 6443 where kubeadm set it up.
API_SERVER_PORTS = (443, 6443)


def _blocks(networks: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"ipBlock": {"cidr": network}} for network in networks]


def _rule(dest: egress.Destination) -> dict[str, Any]:
    return {"to": _blocks(dest.networks), "ports": [{"port": dest.port, "protocol": dest.protocol}]}


def destinations(entries: list[str], policy: spec_schema.Policy) -> list[egress.Destination]:
    """Each entry, with ``kubernetes`` as the addresses it stands for: the policy's
    ``api-server``, or any address on the API server's usual ports."""
    out = []
    for text in entries:
        dest = egress.parse(text)
        if dest.kind != "kubernetes":
            out.append(dest)
        elif policy.api_server is not None:
            out += [egress.parse(address)._replace(text=text) for address in policy.api_server]
        else:
            out += [egress.Destination(text, "host", host=text, port=port) for port in API_SERVER_PORTS]
    return out


def rules(entries: list[str], policy: spec_schema.Policy) -> list[dict[str, Any]]:
    """The egress rules that let a pod reach ``entries``; the same rule once, in the spec's order."""
    found: list[dict[str, Any]] = []
    for dest in destinations(entries, policy):
        rule = {} if dest.kind == "any" else _rule(dest)  # an empty rule allows everything
        if rule not in found:
            found.append(rule)
    return found
