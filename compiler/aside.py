"""Work done in a forked copy of the process while this one goes on with other work.

At a thousand stages the teardown plan and its two files are a sixth of a compile, and they need
nothing the bundle files need, so on a machine with more than one CPU a forked child writes them
while the parent writes the bundles (docs/performance.md). The child starts with the parent's
memory, so nothing is sent to it; its result comes back marshalled through a pipe. Whenever
forking is not safe or not possible (no fork, one CPU, another thread running), or the child
fails, the work is done in this process instead, so the result is always the same."""

from __future__ import annotations

import contextlib
import marshal
import os
import signal
import threading
from collections.abc import Callable, Iterator

Files = dict[str, str]


def _can_fork() -> bool:
    if not hasattr(os, "fork") or threading.active_count() != 1:  # a thread's locks do not survive fork
        return False
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cpus > 1


@contextlib.contextmanager
def forked(work: Callable[[], Files], worth_it: bool) -> Iterator[Callable[[], Files]]:
    """Start ``work`` in a child when ``worth_it`` and possible; the context gives a function
    that returns its result. Leaving the context ends a child whose result was not taken."""
    if not (worth_it and _can_fork()):
        yield work
        return
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: do the work, hand it over, and leave without running any cleanup
        status = 1
        try:
            os.close(reader)
            with open(writer, "wb") as pipe:
                pipe.write(marshal.dumps(work()))
            status = 0
        finally:
            os._exit(status)
    os.close(writer)
    waited = False

    def result() -> Files:
        nonlocal waited
        with open(reader, "rb") as pipe:
            data = pipe.read()
        waited = True
        _, status = os.waitpid(pid, 0)
        if status == 0:
            with contextlib.suppress(ValueError, EOFError, TypeError):
                files: Files = marshal.loads(data)
                return files
        return work()  # the child failed: the same work, here

    try:
        yield result
    finally:
        if not waited:
            os.close(reader)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
