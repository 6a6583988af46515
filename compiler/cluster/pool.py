"""Requests for many objects at once, answered in plan order.

One object's request waits mostly on the API server, so a bundle of a thousand objects sent one
by one spends its time waiting. ``each`` sends them from a bounded number of threads, and hands
the outcomes back in the order of the plan, whatever order the answers came in: what kc prints
and which error it reports never depend on timing (docs/cluster.md, "Requests and concurrency").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Generic, TypeVar

from kc.cluster.errors import ClusterError

WORKERS = 12  # requests in flight at once; client.CONNECTIONS keeps a connection for each

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Outcome(Generic[R]):
    """What one item's work returned, or the ClusterError it raised. An item that never ran
    (``ran`` False) because the cluster could not be reached carries that error too."""

    value: R | None = None
    error: ClusterError | None = None
    ran: bool = True


def each(work: Callable[[T], R], items: Sequence[T], workers: int = WORKERS) -> list[Outcome[R]]:
    """``work`` for every item, ``workers`` at a time; the outcomes in the order of ``items``.

    An answer from the server (a refusal, an invalid object) does not stop the others, so the
    outcomes are the same on every run. A cluster that cannot be reached does: the items not
    started yet are left (``ran`` False), instead of each waiting for its own timeout. Any
    other exception is a bug, and is raised."""
    if len(items) <= 1 or workers <= 1:
        return [_one(work, item) for item in items]
    pool = ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="kc")
    try:
        futures = [pool.submit(work, item) for item in items]
        pending: set[Future[R]] = set(futures)
        gone: ClusterError | None = None
        while pending and gone is None:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            gone = next((e for e in map(_unreachable, done) if e is not None), None)
    finally:  # also on Ctrl-C: what has not started never starts; what has, ends within its timeout
        pool.shutdown(wait=True, cancel_futures=True)
    return [_outcome(f, gone) for f in futures]


def _one(work: Callable[[T], R], item: T) -> Outcome[R]:
    try:
        return Outcome(work(item))
    except ClusterError as exc:
        return Outcome(error=exc)


def _unreachable(future: Future[R]) -> ClusterError | None:
    """The error of a finished request that got no answer at all (status 0)."""
    if not future.done() or future.cancelled():
        return None
    exc = future.exception()
    return exc if isinstance(exc, ClusterError) and not exc.status else None


def _outcome(future: Future[R], gone: ClusterError | None) -> Outcome[R]:
    if future.cancelled():
        return Outcome(error=gone, ran=False)
    exc = future.exception()
    if exc is None:
        return Outcome(future.result())
    if isinstance(exc, ClusterError):
        return Outcome(error=exc)
    raise exc


def first_error(outcomes: Sequence[Outcome[R]]) -> ClusterError | None:
    """The error of the first item, in plan order, that failed: the one a run one by one would
    have stopped at."""
    return next((o.error for o in outcomes if o.error is not None), None)
