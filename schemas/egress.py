"""Egress destinations as a spec writes them: ``"*"``, ``kubernetes``, ``HOST:PORT`` and
``CIDR:PORT``, each port optionally followed by ``/udp`` or ``/sctp`` (TCP otherwise). Read here
once, for the schema's check of ``egress`` and ``policy`` values and for the network pass that
turns them into NetworkPolicy rules (docs/security.md, "Network")."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal, NamedTuple

from kc.schemas.shape import After, Invalid, JsonSchema

ANY = "*"  # every address, every port
API_SERVER = "kubernetes"  # the cluster's API server, wherever the policy says it is
PROTOCOLS = ("TCP", "UDP", "SCTP")
# A DNS name: labels of letters, digits and inner hyphens, the last one not all digits (that is
# an IPv4 address, checked first).
_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", re.I)
# Each address family's whole range: a host name may resolve to any address of either.
EVERYWHERE = ("0.0.0.0/0", "::/0")


class Destination(NamedTuple):
    text: str  # as the spec wrote it
    kind: Literal["any", "kubernetes", "cidr", "host"]
    cidr: str = ""  # canonical, for "cidr"
    host: str = ""  # for "host"
    port: int = 0  # 0: every port ("any", "kubernetes")
    protocol: str = "TCP"

    @property
    def networks(self) -> tuple[str, ...]:
        """The addresses it may reach, as NetworkPolicy can say them: a name may resolve to any."""
        return (self.cidr,) if self.kind == "cidr" else EVERYWHERE


def _refuse(text: str, why: str) -> Invalid:
    return Invalid("kc_egress", "egress '{v}': {why}", {"v": text, "why": why})


def _port(text: str, value: str) -> tuple[int, str]:
    number, _, protocol = value.partition("/")
    if not number.isdigit() or not 1 <= int(number) <= 65535:
        raise _refuse(text, f"'{number}' is not a port (1 to 65535)")
    protocol = protocol.upper() or "TCP"
    if protocol not in PROTOCOLS:
        raise _refuse(text, f"'{protocol.lower()}' is not a protocol (tcp, udp or sctp)")
    return int(number), protocol


def cidr(text: str, value: str) -> str:
    """``value`` as a canonical network (an address alone is its /32 or /128)."""
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise _refuse(text, f"'{value}' is not an IP address or network") from None
    if value.lower() not in (str(network), str(network.network_address)):
        raise _refuse(text, f"'{value}' has bits set past its prefix; did you mean '{network}'?")
    return str(network)


def parse(text: str) -> Destination:
    """One egress entry, or Invalid saying what is wrong with it."""
    if text == ANY:
        return Destination(text, "any")
    if text == API_SERVER:
        return Destination(text, "kubernetes")
    where, colon, port_text = text.rpartition(":")
    if not colon or not where:
        raise _refuse(text, "give a port: 'HOST:PORT' or 'CIDR:PORT' (or '*' for everything)")
    port, protocol = _port(text, port_text)
    if where.startswith("[") and where.endswith("]"):
        return Destination(text, "cidr", cidr=cidr(text, where[1:-1]), port=port, protocol=protocol)
    if ":" in where:
        raise _refuse(text, "write an IPv6 address or network in brackets: '[2001:db8::/32]:443'")
    head = where.split("/", 1)[0]
    if "/" in where or all(part.isdigit() for part in head.split(".")):
        return Destination(text, "cidr", cidr=cidr(text, where), port=port, protocol=protocol)
    if not _HOST.match(where):
        raise _refuse(text, f"'{where}' is not a host name, an IP address or a network")
    return Destination(text, "host", host=where.lower().rstrip("."), port=port, protocol=protocol)


def check_entry(value: str) -> str:
    parse(value)
    return value


def check_address(value: str) -> str:
    """A ``CIDR:PORT`` entry: where a name cannot go (the policy's ``api-server``)."""
    if parse(value).kind != "cidr":
        raise _refuse(value, "give an address or network and a port: '10.0.0.1:6443'")
    return value


def check_network(value: str) -> str:
    """A network alone, written canonically (the policy's ``egress-cidrs``)."""
    return cidr(value, value[1:-1] if value.startswith("[") and value.endswith("]") else value)


def within(inner: str, outers: list[str]) -> bool:
    """Whether network ``inner`` lies inside one of ``outers``."""
    network = ipaddress.ip_network(inner)
    for outer in outers:
        other = ipaddress.ip_network(outer.strip("[]"))
        if network.version == other.version and network.subnet_of(other):  # type: ignore[arg-type]
            return True
    return False


# What an editor can tell from the text alone; kc checks the addresses and names themselves.
_WITH_PORT = r"\S+:[0-9]{1,5}(/(tcp|udp|sctp|TCP|UDP|SCTP))?"
Entry = Annotated[
    str, After(check_entry), JsonSchema({"type": "string", "pattern": rf"^(\*|{API_SERVER}|{_WITH_PORT})$"})
]
Address = Annotated[str, After(check_address), JsonSchema({"type": "string", "pattern": f"^{_WITH_PORT}$"})]
Network = Annotated[str, After(check_network), JsonSchema({"type": "string"})]
