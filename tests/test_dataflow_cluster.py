"""The data half of kc on the local cluster's real node: the wordfreq example's result printed by
the step that reads it, a fanned-out step that fails naming its item while the finally steps still
run, and a result too large to store. The pods run from the stand-in images (test_real_node.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_real_node import (
    Real,
    example,
    instance,
    job_log,
    namespace_of,
    no_pods_left,
    on_the_real_node,
    real,  # noqa: F401  (the fixture; the tests' parameters then redefine it)
    stage_jobs,
)

pytestmark = pytest.mark.cluster

BUSYBOX = "docker.io/library/busybox:1.36.1"


def test_wordfreq_publishes_the_top_word_and_its_reader_prints_it(real: Real) -> None:  # noqa: F811
    spec = example(real, "wordfreq")
    flags = instance("wordfreq")
    ns = namespace_of(flags)
    applied = real.apply(spec, flags)
    assert "stored results of stage merge: top" in applied
    (count,) = stage_jobs(real, ns, "count")
    assert count.status.succeeded == 3  # one pod per shard
    (report,) = stage_jobs(real, ns, "report")
    assert job_log(real, ns, report.metadata.name).strip() == "most frequent word: the"
    (finished,) = stage_jobs(real, ns, "finished")
    assert job_log(real, ns, finished.metadata.name).strip() == "wordfreq finished"

    code, shown = real.kc("status", str(spec), *flags, "-o", "json")
    assert code == 0, shown
    steps = {s["id"]: s for b in json.loads(shown)["bundles"] for s in b["steps"]}
    assert steps["merge"]["results"] == {"top": "the"}
    stored = real.core.read_namespaced_config_map(f"{ns}-results", ns).data
    assert stored == {"merge.top": "the"}

    code, diffed = real.kc("diff", str(spec), *flags)  # the stored values are no difference
    assert code == 0, diffed
    real.teardown(spec, flags)
    no_pods_left(real, ns)


def apply_failing(real: Real, name: str, text: str) -> tuple[Path, list[str], str, str]:  # noqa: F811
    """``kc apply`` of ``text`` on the real node, which must fail a gate (exit 4): the spec, its
    flags, its namespace and what kc said; the fixture tears it down after the test."""
    spec = real.tmp / f"{name}.spec"
    spec.write_text(on_the_real_node(text))
    flags = instance(name)
    ns = namespace_of(flags)
    real.made.append((spec, flags))
    real.namespaces.add(ns)
    code, output = real.kc("apply", str(spec), *flags, "--timeout", "3m")
    assert code == 4, output
    return spec, flags, ns, output


FAILING = f"""\
kc: 1
pipeline: fails
stages:
  langs:
    pattern: job
    image: {BUSYBOX}
    command: [sh, -c, 'echo "item $KC_ITEM"; test "${{item}}" != de']
    each: [en, de, fr]
    retries: 0
  never:
    pattern: job
    image: {BUSYBOX}
    command: [echo, never]
    after: [langs]
  cleanup:
    pattern: job
    image: {BUSYBOX}
    command: [echo, cleanup ran]
    when: always
  alert:
    pattern: job
    image: {BUSYBOX}
    command: [echo, alert ran]
    when: failed
"""


def test_a_failed_item_is_named_and_the_finally_steps_still_run(real: Real) -> None:  # noqa: F811
    spec, flags, ns, output = apply_failing(real, "fails", FAILING)
    assert re.search(r"failed item: 'de'\)", output), output
    assert "--rerun langs" in output.strip().splitlines()[-1], output
    assert not stage_jobs(real, ns, "never")  # after the failed gate only finally steps run
    for stage, printed in (("cleanup", "cleanup ran"), ("alert", "alert ran")):
        (job,) = stage_jobs(real, ns, stage)
        assert job_log(real, ns, job.metadata.name).strip() == printed
    pods = real.core.list_namespaced_pod(ns, label_selector="kc.dev/stage=langs").items
    index = "batch.kubernetes.io/job-completion-index"
    assert sorted(p.metadata.annotations[index] for p in pods) == ["0", "1", "2"]  # every item ran
    real.teardown(spec, flags)
    no_pods_left(real, ns)


TOO_LARGE = f"""\
kc: 1
pipeline: large
stages:
  write:
    pattern: job
    image: {BUSYBOX}
    command: [sh, -c, "head -c 2000 /dev/zero | tr '\\\\0' x > /kc/results/blob"]
    results: [blob]
  read:
    pattern: job
    image: {BUSYBOX}
    command: [echo, "${{write.results.blob}}"]
"""


def test_a_result_too_large_fails_its_step(real: Real) -> None:  # noqa: F811
    spec, flags, ns, output = apply_failing(real, "large", TOO_LARGE)
    assert "results of stage write: result 'blob' has 2000 bytes; a result holds at most 1024" in output
    assert not stage_jobs(real, ns, "read")
    real.teardown(spec, flags)
    no_pods_left(real, ns)
