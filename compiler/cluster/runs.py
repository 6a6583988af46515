"""Why each Job that applying the plan would create runs, as ``kc diff`` says it (docs/cluster.md,
"Output").

A Job's name carries a hash of its content and the names of the Jobs of the stages it reads
(compiler/passes/seal.py), so a Job whose name is not there yet runs at the next apply. Either its
own content is new or changed: its ``kc.dev/content`` is not that of any Job of its stage there;
or it is the same, and the Job runs again because a stage it reads does.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from kc.cluster import live
from kc.compiler import contract, ir


@dataclass(frozen=True, slots=True)
class Run:
    stage: str
    reason: Literal["new", "changed", "upstream"]  # no Job of the stage there; its content; a producer's
    upstream: tuple[str, ...] = ()  # with "upstream": the stages it reads that run again

    @property
    def text(self) -> str:
        if self.reason == "upstream":
            return f"will run: upstream {' and '.join(self.upstream)} changed"
        return f"will run: {self.reason}"


def _content(manifest: dict[str, Any]) -> str | None:
    return ((manifest.get("metadata") or {}).get("annotations") or {}).get(contract.CONTENT)


def reasons(
    objects: Sequence[ir.Object],
    producers: Mapping[str, tuple[str, ...]],
    created: Collection[live.Key],
    there: Iterable[dict[str, Any]],
) -> dict[live.Key, Run]:
    """For each Job of ``objects`` (in plan order) whose key is in ``created``, why it runs, given
    the Jobs ``there`` (in the cluster, or in an earlier compile) and who reads whom."""
    earlier: dict[str, set[str | None]] = {}
    for manifest in there:
        if manifest.get("kind") == "Job":
            stage = ((manifest.get("metadata") or {}).get("labels") or {}).get(contract.STAGE)
            earlier.setdefault(str(stage), set()).add(_content(manifest))
    running: set[str] = set()
    out: dict[live.Key, Run] = {}
    for obj in objects:
        key = live.key_of(obj.manifest)
        if obj.kind != "Job" or key not in created:
            continue
        seen = earlier.get(obj.stage)
        reads = producers.get(obj.stage, ())
        # Same content, new name: the name changed through the stages it reads. When none of
        # them runs now, one ran since this Job did (an apply that stopped on the way): all count.
        upstream = tuple(p for p in reads if p in running) or reads
        if not seen:
            out[key] = Run(obj.stage, "new")
        elif _content(obj.manifest) not in seen or not upstream:
            out[key] = Run(obj.stage, "changed")
        else:
            out[key] = Run(obj.stage, "upstream", upstream)
        running.add(obj.stage)
    return out
