"""Results: small text values a stage writes to ``/kc/results/<name>`` and later stages read as
``${stage.results.<name>}`` (docs/patterns.md, "Results").

What compile and the cluster commands share about them is here. The writer's pod gets an
``emptyDir`` at ``/kc/results`` and a sidecar (an init container with ``restartPolicy: Always``,
run from the stage's own image) that does nothing until the kubelet stops it, which it does once
the main container has exited; it then writes every declared value into its termination message.
``kc apply`` reads that message once the step's gate has passed and stores the values in the
pipeline's ConfigMap ``<instance>-results``; a reader's container gets each value it names as an
environment variable from that ConfigMap, and the reference becomes ``$(THAT_VARIABLE)``, which
the kubelet expands in ``command``, ``args`` and ``env``. So no compiled file changes at run time.
"""

from __future__ import annotations

import re
from typing import Any

from kc.compiler import object_names

DIR = "/kc/results"
VOLUME = "kc-results"
SIDECAR = "kc-results"
MAX_BYTES = 1024
# The kubelet keeps at most 4096 bytes of a termination message; three values of 1 KiB and their
# header lines fit (schemas/values.py allows three per stage).
READ = re.compile(r"\$\{([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.results\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\}")


def configmap(instance: str) -> str:
    return object_names.object_name(instance, "", "results")


def key(stage: str, name: str) -> str:
    """The value's key in the results ConfigMap."""
    return f"{stage}.{name}"


def variable(stage: str, name: str) -> str:
    """The reader's environment variable; ``__`` between the two, since either may hold a ``-``."""
    return f"KC_RESULT_{stage}__{name}".upper().replace("-", "_")


def reads(texts: list[str]) -> list[tuple[str, str]]:
    """Each (stage, name) the texts read, once, in the order they first appear."""
    found = [(m.group(1), m.group(3)) for text in texts for m in READ.finditer(text)]
    return list(dict.fromkeys(found))


def substitute(text: str) -> str:
    """``text`` with each result it reads replaced by its variable, for the kubelet to expand."""
    return READ.sub(lambda m: f"$({variable(m.group(1), m.group(3))})", text)


def reader_env(configmap_name: str, found: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {
            "name": variable(stage, name),
            "valueFrom": {"configMapKeyRef": {"name": configmap_name, "key": key(stage, name)}},
        }
        for stage, name in found
    ]


def _collect(names: list[str]) -> str:
    """The sidecar's program (POSIX sh): wait for SIGTERM, then write ``NAME SIZE``, the value and
    a newline for each value (``NAME -`` for one not written, ``NAME !SIZE`` for one too large)."""
    # No "$(": the kubelet would read it as a variable to expand. $s unquoted drops wc's padding.
    each = (
        f'f={DIR}/$n; if [ ! -f "$f" ]; then echo "$n -"; continue; fi; s=`wc -c < "$f"`; '
        f'if [ $s -gt {MAX_BYTES} ]; then echo "$n" !$s; else echo "$n" $s; cat "$f"; echo; fi'
    )
    return (
        f"collect() {{ for n in {' '.join(names)}; do {each}; done > /dev/termination-log; }}\n"
        "trap 'collect; exit 0' TERM\n"
        "while :; do sleep 3600 & wait $!; done\n"
    )


def sidecar(image: str, names: list[str], pull_policy: str | None) -> dict[str, Any]:
    """The init container that reports the values once the main container has exited. It runs
    from the stage's image, which must have a POSIX ``sh``."""
    out: dict[str, Any] = {"name": SIDECAR, "image": image}
    if pull_policy:
        out["imagePullPolicy"] = pull_policy
    out.update(
        {
            "restartPolicy": "Always",
            "command": ["sh", "-c", _collect(names)],
            # It writes nothing but its termination message.
            "resources": {
                "requests": {"cpu": "10m", "memory": "16Mi", "ephemeral-storage": "16Mi"},
                "limits": {"cpu": "50m", "memory": "32Mi", "ephemeral-storage": "64Mi"},
            },
            "volumeMounts": [{"name": VOLUME, "mountPath": DIR, "readOnly": True}],
        }
    )
    return out


def volume() -> dict[str, Any]:
    return {"name": VOLUME, "emptyDir": {"sizeLimit": "1Mi"}}


def mount() -> dict[str, Any]:
    return {"name": VOLUME, "mountPath": DIR}


class ResultError(ValueError):
    """A value that cannot be stored: not written, or too large."""


def parse(message: str, names: list[str]) -> dict[str, str]:
    """The values in a sidecar's termination message. Trailing newlines are dropped, as a shell's
    ``$(…)`` drops them. Raises ResultError for a value not written or too large."""
    data = message.encode()
    found: dict[str, str] = {}
    at = 0
    while at < len(data):
        end = data.find(b"\n", at)
        if end < 0:
            break
        name, _, size = data[at:end].decode(errors="replace").partition(" ")
        at = end + 1
        if size == "-":
            raise ResultError(f"result '{name}' was not written (the program writes it to {DIR}/{name})")
        if size.startswith("!"):
            raise ResultError(f"result '{name}' has {size[1:]} bytes; a result holds at most {MAX_BYTES}")
        length = int(size)
        found[name] = data[at : at + length].decode(errors="replace").rstrip("\n")
        at += length + 1
    missing = [n for n in names if n not in found]
    if missing:
        raise ResultError(f"result '{missing[0]}' was not reported (the pod's {SIDECAR} container did not finish)")
    return found
