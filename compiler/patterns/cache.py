"""The compiled-template cache: small files in the user's cache directory, named by a key that
the caller derives from everything the content depends on (templates.py).

``KC_CACHE_DIR`` chooses the directory; otherwise ``$XDG_CACHE_HOME/kc``, or ``~/.cache/kc``.
The cache only ever saves time: a file that is missing, unreadable, truncated or corrupt is a miss,
a directory that cannot be written is no cache, and neither is ever an error. Files are written
whole (a temporary file, then a rename), so a reader never sees half of one, and each carries a
digest of its content, so a damaged one is told from a good one."""

from __future__ import annotations

import contextlib
import hashlib
import os

_MAGIC = b"kc1\n"
_DIGEST = 32  # bytes of SHA-256


def directory() -> str:
    explicit = os.environ.get("KC_CACHE_DIR")
    if explicit:
        return explicit
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = xdg if os.path.isabs(xdg) else os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "kc")


def _path(key: str) -> str:
    return os.path.join(directory(), "templates", key)


def get(key: str) -> bytes | None:
    """The payload stored under ``key``, or None."""
    try:
        with open(_path(key), "rb") as f:
            data = f.read()
    except (OSError, ValueError):
        return None
    start = len(_MAGIC) + _DIGEST
    payload = data[start:]
    if data[: len(_MAGIC)] != _MAGIC or hashlib.sha256(payload).digest() != data[len(_MAGIC) : start]:
        return None
    return payload


def put(key: str, payload: bytes) -> None:
    """Store ``payload`` under ``key``, if the directory can be written."""
    import tempfile  # only on a miss: tempfile costs a few milliseconds to import

    path = _path(key)
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    except (OSError, ValueError):
        return
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(_MAGIC + hashlib.sha256(payload).digest() + payload)
        os.replace(temporary, path)
    except (OSError, ValueError):
        with contextlib.suppress(OSError):
            os.unlink(temporary)
