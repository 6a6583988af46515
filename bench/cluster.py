#!/usr/bin/env python3
"""Benchmark kc's cluster commands against kubectl on the same objects, on a real API server.

    python bench/cluster.py [--stages 1000] [--repeat 3] [--kubeconfig FILE] [--markdown]

It generates a pipeline of ``--stages`` stages (``generate_spec`` of bench/run.py), compiles it
with ``kc compile SPEC --instance NAME -o DIR`` (one instance, so one namespace, per
measurement), and times, as child processes, paired and alternating:

- ``kc diff DIR`` and ``kubectl diff --server-side -f DIR`` against an empty namespace (it
  exists: kubectl diff cannot diff into a missing one) and against the applied pipeline;
- ``kc apply DIR --no-wait`` and ``kubectl apply --server-side -f DIR`` into fresh namespaces.

kc runs through a small wrapper that keeps its client and writes the client's request tally
(``Client.sent``) and the paths it listed; kubectl's requests are counted in separate runs with
``-v=6`` (one log line per response). Without ``--kubeconfig`` it starts a local cluster with
fake nodes (tests/cluster/up --fake-nodes-only) and stops it at the end. Namespaces it made are
deleted after each round, and it waits until they are gone, so rounds do not overlap.

A measurement, not a test: it prints the table and the targets, and exits 0. Standard library
and kc only.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SPEEDUP_DIFF = 10.0  # kc diff at least this many times faster than kubectl diff
SETTLE_WINDOW, SETTLED, SETTLE_LIMIT = 3.0, 30, 600.0  # seconds, requests in a window, seconds

# Runs kc's CLI in this interpreter, keeping the client it connects, and writes its tally.
WRAPPER = """
import json, sys
from kc.cluster import client
from kc.compiler import cli
kept, lists = [], []
connect, send = client.connect, client.Client._send
def keep(*args, **kw):
    kept.append(connect(*args, **kw))
    return kept[-1]
def recording(self, method, path, query, *args, **kw):
    if method == "GET" and "limit" in query and "watch" not in query:
        lists.append(path)
    return send(self, method, path, query, *args, **kw)
client.connect, client.Client._send = keep, recording
code = cli.main(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    json.dump({"counts": kept[0].sent.counts() if kept else {}, "lists": lists}, f)
sys.exit(code)
"""


@dataclass
class Case:
    """One row: a command of kc and its kubectl counterpart."""

    name: str
    kc: list[float] = field(default_factory=list)
    kubectl: list[float] = field(default_factory=list)
    kc_counts: dict[str, int] = field(default_factory=dict)
    kc_lists: list[str] = field(default_factory=list)
    kubectl_requests: int | None = None

    @property
    def ratio(self) -> float | None:
        if not self.kc or not self.kubectl:
            return None
        return statistics.median(self.kubectl) / statistics.median(self.kc)


class Bench:
    def __init__(self, args: argparse.Namespace, work: str, kubeconfig: str, kubectl: str) -> None:
        self.args, self.work, self.kubeconfig, self.kubectl = args, work, kubeconfig, kubectl
        self.spec = os.path.join(work, "pipeline.spec")
        self.made: list[str] = []
        self.objects = 0
        self.round = 0

    def say(self, text: str) -> None:
        if not self.args.quiet:
            sys.stderr.write(text + "\n")

    # --- running things ---------------------------------------------------------------------

    def timed(self, argv: list[str], ok: tuple[int, ...] = (0, 1)) -> tuple[float, str]:
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
        took = time.perf_counter() - start
        if done.returncode not in ok:
            raise SystemExit(f"bench: {' '.join(argv[:4])}… exited {done.returncode}:\n{done.stderr[-2000:]}")
        return took, done.stderr

    def kc(self, *argv: str) -> tuple[float, dict[str, Any]]:
        tally = os.path.join(self.work, "tally.json")
        took, _ = self.timed([self.args.python, "-c", WRAPPER, tally, *argv, "--kubeconfig", self.kubeconfig])
        with open(tally, encoding="utf-8") as f:
            return took, dict(json.load(f))

    def kubectl_run(self, *argv: str, count: bool = False) -> tuple[float, int]:
        verbose = ["-v=6"] if count else []
        took, err = self.timed([self.kubectl, "--kubeconfig", self.kubeconfig, *verbose, *argv])
        return took, sum(1 for line in err.splitlines() if '"Response" verb=' in line)

    def compile(self, role: str) -> str:
        instance = f"kcb{os.getpid() % 10000}-{self.round}-{role}"
        out = os.path.join(self.work, instance)
        argv = [self.args.python, "-m", "kc.compiler.cli", "compile", self.spec, "--instance", instance, "-o", out]
        self.timed(argv, ok=(0,))
        self.made.append(instance)
        return out

    def make_namespace(self, out: str) -> None:
        """The plan's namespace, empty, as kc would make it (kc's labels, kc's field manager)."""
        first = sorted(glob.glob(os.path.join(out, "00-*.yaml")))[0]
        with open(first, encoding="utf-8") as f:
            docs = f.read().split("\n---\n")
        namespace = next(d for d in docs if "\nkind: Namespace\n" in f"\n{d}\n")
        path = os.path.join(self.work, "namespace.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(namespace)
        self.kubectl_run("apply", "--server-side", "--field-manager=kc", "-f", path)

    def clean(self) -> None:
        """Delete the namespaces made so far and wait until they are gone."""
        if not self.made:
            return
        self.say(f"  deleting {len(self.made)} namespace(s) and waiting until they are gone")
        self.timed([self.kubectl, "--kubeconfig", self.kubeconfig, "delete", "namespace", "--wait=false",
                    "--ignore-not-found", *self.made], ok=(0,))  # fmt: skip
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            done = subprocess.run([self.kubectl, "--kubeconfig", self.kubeconfig, "get", "namespace", *self.made,
                                   "--ignore-not-found", "-o", "name"], capture_output=True, text=True)  # fmt: skip
            if not done.stdout.strip():
                break
            time.sleep(3)
        self.made.clear()

    def settle(self) -> None:
        """Wait until the controllers have caught up with an apply: the API server answers fewer
        than SETTLED requests in SETTLE_WINDOW seconds. After a 1000-stage apply its request rate
        stays high for a minute or two, and a command measured then meets a busier machine than
        one measured later, so whoever went second would lose."""
        start = time.monotonic()
        before = self.requests_served()
        if before is None:
            self.say("  the API server's metrics cannot be read: measuring without waiting for the controllers")
            return
        while time.monotonic() - start < SETTLE_LIMIT:
            time.sleep(SETTLE_WINDOW)
            now = self.requests_served()
            if now is None or now - before < SETTLED:
                self.say(f"  round {self.round}: the controllers caught up in {time.monotonic() - start:.0f}s")
                return
            before = now
        self.say(f"  round {self.round}: the controllers were still busy after {SETTLE_LIMIT:.0f}s; measuring anyway")

    def requests_served(self) -> int | None:
        """The API server's count of requests served (apiserver_request_total), or None."""
        done = subprocess.run([self.kubectl, "--kubeconfig", self.kubeconfig, "get", "--raw", "/metrics"],
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            return None
        lines = [line for line in done.stdout.splitlines() if line.startswith("apiserver_request_total{")]
        return sum(int(float(line.rsplit(" ", 1)[1])) for line in lines) if lines else None

    # --- the measurements -------------------------------------------------------------------

    def one_round(self, cases: dict[str, Case]) -> None:
        self.round += 1
        kc_first = self.round % 2 == 1  # alternate who goes first, so a slow spell hits both
        empty, mine, theirs = self.compile("d"), self.compile("k"), self.compile("u")
        self.objects = count_objects(mine)
        self.make_namespace(empty)
        kubectl_diff = ["diff", "--server-side", "--field-manager=kc", "--force-conflicts", "-f"]

        def pair(case: Case, kc_argv: list[str], kubectl_argv: list[str], settle: bool = False) -> None:
            for index, turn in enumerate(("kc", "kubectl") if kc_first else ("kubectl", "kc")):
                if settle and index:
                    self.settle()  # the second apply meets a cluster as quiet as the first did
                if turn == "kc":
                    took, tally = self.kc(*kc_argv)
                    case.kc.append(took)
                    case.kc_counts, case.kc_lists = tally["counts"], tally["lists"]
                else:
                    case.kubectl.append(self.kubectl_run(*kubectl_argv)[0])
                took = (case.kc if turn == "kc" else case.kubectl)[-1]
                self.say(f"  round {self.round}: {case.name}: {turn} {took:.2f}s")

        pair(cases["diff-empty"], ["diff", empty], [*kubectl_diff, empty])
        pair(cases["apply"], ["apply", mine, "--no-wait"], ["apply", "--server-side", "-f", theirs], settle=True)
        self.settle()
        pair(cases["diff-applied"], ["diff", mine], [*kubectl_diff, mine])
        self.clean()

    def count_kubectl(self, cases: dict[str, Case]) -> None:
        """kubectl's requests, from its own log, in runs of their own (not timed)."""
        self.round += 1
        empty, applied = self.compile("d"), self.compile("c")
        self.make_namespace(empty)
        diff = ["diff", "--server-side", "--field-manager=kc", "--force-conflicts", "-f"]
        cases["diff-empty"].kubectl_requests = self.kubectl_run(*diff, empty, count=True)[1]
        cases["apply"].kubectl_requests = self.kubectl_run("apply", "--server-side", "-f", applied, count=True)[1]
        cases["diff-applied"].kubectl_requests = self.kubectl_run(*diff, applied, count=True)[1]
        self.clean()


def count_objects(out: str) -> int:
    total = 0
    for path in glob.glob(os.path.join(out, "*.yaml")):
        with open(path, encoding="utf-8") as f:
            total += sum(1 for line in f if line.startswith("kind: "))
    return total


def find_kubectl(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    built = sorted(glob.glob(os.path.expanduser("~/.cache/kc-cluster/*/bin/kubectl")), key=os.path.getmtime)
    return built[-1] if built else shutil.which("kubectl")


# --- the report -------------------------------------------------------------------------------


def _requests(counts: dict[str, int]) -> str:
    return f"{sum(counts.values())} (" + ", ".join(f"{k} {v}" for k, v in counts.items()) + ")"


def report(cases: dict[str, Case], objects: int, markdown: bool, repeat: int) -> str:
    titles = {
        "diff-empty": "diff, empty namespace",
        "diff-applied": "diff, applied pipeline",
        "apply": "apply --no-wait, fresh namespace",
    }
    header = ["command", "kc median", "kc min", "kubectl median", "kubectl / kc", "kc requests", "kubectl requests"]
    rows = []
    for key in ("diff-empty", "diff-applied", "apply"):
        c = cases[key]
        rows.append([
            titles[key],
            f"{statistics.median(c.kc):.2f} s",
            f"{min(c.kc):.2f} s",
            f"{statistics.median(c.kubectl):.2f} s",
            f"{c.ratio:.1f}x" if c.ratio else "—",
            _requests(c.kc_counts),
            str(c.kubectl_requests) if c.kubectl_requests is not None else "—",
        ])  # fmt: skip
    lines = [f"{objects} objects, medians of {repeat} run(s), wall time of the whole command", ""]
    if markdown:
        lines += ["| " + " | ".join(header) + " |", "|" + "|".join(["---", *["---:"] * (len(header) - 1)]) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
    else:
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        for r in [header, *rows]:
            cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
            lines.append("  ".join(cells))
    lists = cases["diff-applied"].kc_lists
    apply_total = sum(cases["apply"].kc_counts.values())
    targets = [
        ("kc diff: one LIST per kind and namespace", len(lists) == len(set(lists)), f"{len(lists)} LISTs, distinct"),
        *(
            (f"kc diff ({titles[k]}) at least {SPEEDUP_DIFF:.0f}x faster than kubectl diff",
             (cases[k].ratio or 0) >= SPEEDUP_DIFF, f"{cases[k].ratio or 0:.1f}x")
            for k in ("diff-empty", "diff-applied")
        ),
        ("kc apply: requests <= objects + LISTs (per kind and namespace)", apply_total <= objects + len(lists),
         f"{apply_total} <= {objects} + {len(lists)}"),
        ("kc apply --no-wait faster than kubectl apply --server-side", (cases["apply"].ratio or 0) > 1,
         f"{cases['apply'].ratio or 0:.1f}x"),
    ]  # fmt: skip
    lines += ["", "targets:"]
    for text, met, detail in targets:
        lines.append(f"  [{'met' if met else 'NOT met'}] {text}: {detail}")
    return "\n".join(lines) + "\n"


def machine(python: str, kubectl: str) -> str:
    version = subprocess.run([kubectl, "version", "--client"], capture_output=True, text=True).stdout.split("\n")[0]
    kc = subprocess.run([python, "-m", "kc.compiler.cli", "--version"], capture_output=True, text=True).stdout.strip()
    where = f"{os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}"
    return f"machine: {where}; {kc}; kubectl {version}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stages", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kubeconfig", help="a running cluster; without it a local one is started and stopped")
    parser.add_argument("--kubectl", help="default: the one tests/cluster/up built, else kubectl on PATH")
    parser.add_argument("--python", default=sys.executable, help="an interpreter with kc installed")
    parser.add_argument("--markdown", action="store_true", help="the table as GitHub markdown")
    parser.add_argument("--keep", help="work in this directory and keep it")
    parser.add_argument("--quiet", action="store_true", help="no progress on standard error")
    args = parser.parse_args(argv)
    kubectl = find_kubectl(args.kubectl)
    if kubectl is None:
        print("bench: no kubectl (--kubectl PATH, or run tests/cluster/up once)", file=sys.stderr)
        return 0
    work = args.keep or tempfile.mkdtemp(prefix="kc-cluster-bench-")
    os.makedirs(work, exist_ok=True)
    state = None
    try:
        kubeconfig = args.kubeconfig
        if kubeconfig is None:
            state = os.path.join(work, "cluster")
            subprocess.run([os.path.join(ROOT, "tests", "cluster", "up"), "--fake-nodes-only", state], check=True)
            kubeconfig = os.path.join(state, "kubeconfig")
        sys.path.insert(0, HERE)
        from run import generate_spec  # bench/run.py: the same pipelines as the compile benchmark

        bench = Bench(args, work, kubeconfig, kubectl)
        with open(bench.spec, "w", encoding="utf-8") as f:
            f.write(generate_spec(args.stages))
        cases = {k: Case(k) for k in ("diff-empty", "diff-applied", "apply")}
        for _ in range(args.repeat):
            bench.one_round(cases)
        bench.count_kubectl(cases)
        print(machine(args.python, kubectl))
        print(f"pipeline: {args.stages} stages (bench/run.py generate_spec)")
        print(report(cases, bench.objects, args.markdown, args.repeat), end="")
    finally:
        if state is not None:
            subprocess.run([os.path.join(ROOT, "tests", "cluster", "down"), state])
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
