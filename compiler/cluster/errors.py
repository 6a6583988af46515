"""The failures of the cluster commands, each one line for the user and an exit code for the CLI."""

from __future__ import annotations


class ClusterError(Exception):
    """The cluster could not be reached, refused a request, or holds something kc must not
    touch. The message is one line and names the verb and the resource where there is one;
    ``status`` is the HTTP status of a refused request (0 when there was no answer)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class GateTimeout(Exception):
    """A gate (or a teardown wait) did not pass in time, or can no longer pass (a failed Job).
    The message names the gate and the object that did not get there."""


class Refused(Exception):
    """The command will not run as asked (no confirmation for a teardown); nothing was changed."""
