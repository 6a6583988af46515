"""Cluster DNS for the real node's pods: Service names answered from the API server.

kc's references resolve to Service names (``${db.host}`` is ``<service>.<namespace>.svc``), so a
pod that talks to another stage needs cluster DNS. The local cluster has no CoreDNS and no
kube-proxy; this small server stands in for both, for names only:

- ``<service>.<namespace>.svc.cluster.local`` answers with the addresses of the Service's ready
  endpoints (its EndpointSlices; for a headless Service that publishes not-ready addresses, all of
  them). A Service with a cluster IP answers the same way, since nothing here routes cluster IPs:
  a client reaches a pod directly, on the Service's port, which works where the port is the
  target port (as in every Service kc writes) and not otherwise;
- ``<hostname>.<service>.<namespace>.svc.cluster.local``: the endpoint with that hostname (a
  StatefulSet's pod);
- anything else: NXDOMAIN, at once (pods have no route out; there is nothing to forward to).

It listens on UDP port 53 of the node's bridge address (the pods' gateway), which the kubelet
names as ``clusterDNS``; ``up`` makes the bridge before it starts this. Every answer is looked up
afresh (a TTL of 1 s), so a pod that just became ready is found.

    python3 dns.py DIR ADDRESS      # runs until stopped; down stops it with the other processes

Standard library only.
"""

from __future__ import annotations

import json
import socketserver
import struct
import sys
import urllib.parse
from pathlib import Path
from typing import Any

from support import Api, say

DOMAIN = "svc.cluster.local"
A, AAAA, IN = 1, 28, 1
NOERROR, FORMERR, NXDOMAIN = 0, 1, 3


def parse_question(packet: bytes) -> tuple[int, int, str, int, int]:
    """The query's id, flags, name, type and the offset after its question."""
    ident, flags, count = struct.unpack("!HHH", packet[:6])
    if count != 1:
        raise ValueError("one question")
    labels, at = [], 12
    while packet[at]:
        size = packet[at]
        if size & 0xC0:
            raise ValueError("compressed name in a question")
        labels.append(packet[at + 1 : at + 1 + size].decode("ascii"))
        at += 1 + size
    qtype, _ = struct.unpack("!HH", packet[at + 1 : at + 5])
    return ident, flags, ".".join(labels).lower(), qtype, at + 5


def answer(packet: bytes, addresses: list[str] | None) -> bytes:
    """The reply: ``None`` is NXDOMAIN; a list (maybe empty, for AAAA) is NOERROR with A records."""
    ident, flags, _, qtype, end = parse_question(packet)
    rcode = NXDOMAIN if addresses is None else NOERROR
    records = [a for a in addresses or [] if qtype == A]
    head = struct.pack("!HHHHHH", ident, 0x8400 | (flags & 0x0100) | rcode, 1, len(records), 0, 0)
    body = b"".join(struct.pack("!HHHIH", 0xC00C, A, IN, 1, 4) + bytes(map(int, a.split("."))) for a in records)
    return head + packet[12:end] + body


class Names:
    def __init__(self, api: Api) -> None:
        self.api = api

    def lookup(self, name: str) -> list[str] | None:
        if not name.endswith("." + DOMAIN):
            return None
        parts = name[: -len(DOMAIN) - 1].split(".")
        if len(parts) not in (2, 3):
            return None
        host, service, namespace = ([None] if len(parts) == 2 else []) + parts
        code, svc = self.api.call("GET", f"/api/v1/namespaces/{namespace}/services/{service}")
        if code != 200:
            return None
        published = bool(svc["spec"].get("publishNotReadyAddresses"))
        selector = urllib.parse.quote(f"kubernetes.io/service-name={service}")
        code, slices = self.api.call(
            "GET", f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices?labelSelector={selector}"
        )
        found: list[str] = []
        for piece in slices.get("items", []) if code == 200 else []:
            for endpoint in piece.get("endpoints") or []:
                ready = (endpoint.get("conditions") or {}).get("ready") is not False
                if (ready or published) and (host is None or endpoint.get("hostname") == host):
                    found += [a for a in endpoint.get("addresses", []) if ":" not in a]
        if host is not None and not found:
            return None
        return sorted(set(found))


class Handler(socketserver.BaseRequestHandler):
    names: Names

    def handle(self) -> None:
        packet, sock = self.request
        try:
            _, flags, name, _, _ = parse_question(packet)
            if flags & 0x8000:
                return  # a response, not a query
            reply = answer(packet, self.names.lookup(name))
        except (ValueError, IndexError, struct.error, UnicodeDecodeError):
            reply = packet[:2] + struct.pack("!H", 0x8000 | FORMERR) + b"\0" * 8
        sock.sendto(reply, self.client_address)


def main(root: Path, address: str) -> None:
    state: dict[str, Any] = json.loads((root / "state.json").read_text())
    Handler.names = Names(Api(state["server"], root / "pki"))
    with socketserver.ThreadingUDPServer((address, 53), Handler) as server:
        say(f"dns: answering for {DOMAIN} on {address}:53")
        server.serve_forever()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
