"""Host names as an Ingress rule takes them: an RFC 1123 subdomain (lower case, at most 253
characters, labels of at most 63), or one with a wildcard first label (``*.example.com``); not an
IP address (https://kubernetes.io/docs/concepts/services-networking/ingress/#hostname-wildcards).
A value that is almost one, a pasted URL or a name in capitals, gets the host name it holds as a
hint."""

from __future__ import annotations

import re
from typing import Annotated

from kc.schemas.shape import After, Invalid, JsonSchema

HOST = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
HELP = "a host name such as shop.example.com: lower case, without scheme, port or path ('*.' first for a wildcard)"
_HOST = re.compile(HOST)
_IPV4 = re.compile(r"^[0-9]{1,3}(\.[0-9]{1,3}){3}$")
# What surrounds a host in a URL: scheme, user, port, path, query, fragment.
_URL = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://)?(?:[^@/]*@)?([^:/?#]*)")


def problem(value: str) -> str | None:
    """Why ``value`` is no host name an Ingress rule takes, or None."""
    if _IPV4.match(value) and all(int(part) <= 255 for part in value.split(".")):
        return "'{v}' is an IP address; an Ingress rule's host is a name"
    name = value.removeprefix("*.")
    if not _HOST.match(value) or len(value) > 253 or any(len(label) > 63 for label in name.split(".")):
        return "'{v}' is not a host name"
    return None


def check_host(value: str) -> str:
    found = problem(value)
    if found is not None:
        raise Invalid("kc_host", found, {"v": value})
    return value


def suggestion(value: str) -> str | None:
    """The host name in ``value``, if it is one once the rest of a URL, a final dot and capitals
    are taken away."""
    match = _URL.match(value.strip())
    host = (match[1] if match else "").rstrip(".").lower()
    return host if host and host != value and problem(host) is None else None


Host = Annotated[
    str,
    After(check_host),
    JsonSchema({"type": "string", "pattern": HOST, "maxLength": 253, "patternErrorMessage": HELP}),
]
