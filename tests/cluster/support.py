"""What the local cluster's modules share: messages, certificates, processes, a small API client.

Standard library and the ``openssl`` command only: it runs before anything is installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any


def say(message: str) -> None:
    print(f"cluster: {message}", file=sys.stderr, flush=True)


class ClusterError(Exception):
    """Something that stops ``up``; said in one line."""


# --- certificates -----------------------------------------------------------------------------------

DAYS = "3650"
EC_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")


def openssl(*args: str) -> None:
    done = subprocess.run(["openssl", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise ClusterError(f"openssl {args[0]} failed: {done.stderr.strip()}")


def make_ca(pki: Path) -> None:
    subject = ("-subj", "/CN=kc-local-ca")
    openssl(
        "req", "-x509", *EC_KEY, "-days", DAYS, *subject, "-keyout", str(pki / "ca.key"), "-out", str(pki / "ca.crt")
    )


def issue(pki: Path, name: str, subject: str, extensions: str) -> None:
    """``pki/NAME.crt`` and ``.key``, signed by ``pki/ca``: ``subject`` like ``/O=group/CN=user``;
    ``extensions`` in openssl's extfile syntax (key usage, subject alternative names)."""
    key, csr, ext = (pki / f"{name}.{suffix}" for suffix in ("key", "csr", "ext"))
    ext.write_text(extensions + "\n")
    openssl("req", *EC_KEY, "-subj", subject, "-keyout", str(key), "-out", str(csr))
    ca = ("-CA", str(pki / "ca.crt"), "-CAkey", str(pki / "ca.key"), "-CAcreateserial")
    openssl("x509", "-req", "-in", str(csr), *ca, "-days", DAYS, "-extfile", str(ext), "-out", str(pki / f"{name}.crt"))


# --- processes --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


STARTED: dict[str, subprocess.Popen[bytes]] = {}  # by this process, to see one exit


def start(name: str, argv: list[str], root: Path, state: dict[str, Any]) -> None:
    """Start ``argv`` in a session of its own, logging to ``root/logs/NAME.log``, and record its PID
    in ``root/state.json`` at once (so that ``down`` finds it even if ``up`` dies next)."""
    log = open(root / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it open
    process = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
    )
    log.close()
    STARTED[name] = process
    state["pids"][name] = process.pid
    save_state(root, state)


def save_state(root: Path, state: dict[str, Any]) -> None:
    # Whole or not at all: the processes up starts read it while up goes on writing it.
    tmp = root / "state.json.tmp"
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    os.replace(tmp, root / "state.json")


def alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):  # reap it first if it is this process's own exited child
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_for(what: str, check: Callable[[], object], root: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        for name, process in STARTED.items():
            if process.poll() is not None:
                raise ClusterError(f"{name} exited while waiting for {what}; see {root / 'logs' / (name + '.log')}")
        time.sleep(0.25)
    raise ClusterError(f"timed out after {timeout:.0f}s waiting for {what}; logs are in {root / 'logs'}")


# --- the API ----------------------------------------------------------------------------------------


class Api:
    """Just enough of an API client for starting up: GET, POST, PATCH, with the admin certificate."""

    def __init__(self, server: str, pki: Path) -> None:
        self.server = server
        self.context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self.context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))

    def call(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.server + path, data=data, method=method)
        request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=10) as response:
                text = response.read().decode()
                return response.status, json.loads(text) if text.startswith("{") else text
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except (OSError, ssl.SSLError) as error:
            return 0, str(error)

    def create(self, path: str, body: dict[str, Any]) -> None:
        code, answer = self.call("POST", path, body)
        if code not in (201, 409):  # 409: there already
            raise ClusterError(f"creating {body['kind']} {body['metadata']['name']} failed ({code}): {answer}")

    def patch(self, path: str, body: Any, kind: str = "merge") -> None:
        code, answer = self.call("PATCH", path, body, f"application/{kind}-patch+json")
        if code != 200:
            raise ClusterError(f"patching {path} failed ({code}): {answer}")
