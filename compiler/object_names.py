"""Object names: ``<instance>-<stage>[-<suffix>]``, shortened deterministically when too long."""

from __future__ import annotations

import hashlib

# The strictest limit among the kinds kc emits: a StatefulSet's pods carry a
# controller-revision-hash label built from its name, and a CronJob adds 11 characters for its
# Jobs, so both must stay within 52 characters.
# https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#writing-a-cronjob-spec
MAX_NAME = 52
HASH_LEN = 8


def digest(data: bytes | str, length: int = HASH_LEN) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()[:length]


def shorten(name: str, limit: int = MAX_NAME) -> str:
    """Keep ``name`` if it fits; otherwise cut it and append a hash of the whole name."""
    if len(name) <= limit:
        return name
    head = name[: limit - 6].rstrip("-")
    return f"{head}-{digest(name, 5)}"


def object_name(instance: str, stage: str, suffix: str = "") -> str:
    base = f"{instance}-{stage}" if stage else instance
    return shorten(f"{base}-{suffix}" if suffix else base)


def job_name(base: str, content_hash: str) -> str:
    """A Job's pod template is immutable, so its name carries a hash of its content."""
    return f"{base}-{content_hash}"
