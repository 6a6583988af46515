#!/usr/bin/env python3
"""Benchmark kc against the project's performance targets (docs/performance.md).

    python bench/run.py [--sizes 10,100,1000,10000] [--repeat N] [--markdown] [--cluster]

Cases: the shop example (``kc compile -o`` and ``kc validate``), and generated specs of N stages
(a cycle through the built-in patterns service, worker, job, cron, stateful, volume and config,
with references and ``after:`` dependencies). Each is run ``--repeat`` times as a child process,
each compile into a fresh directory; wall time, CPU time and peak RSS come from ``os.wait4`` on
that one child. Where a target compares with kustomize, kc's bundle files are copied into a
kustomization and ``kubectl kustomize DIR`` runs over exactly the same objects, alternating with
the kc runs. ``--cluster`` adds ``kc diff`` and ``kc apply`` on a local API server
(``bench/cluster.py``).

This is a measurement, not a test: it reports numbers and whether each target is met, and exits 0.
Standard library only.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

PATTERNS = ("service", "worker", "job", "cron", "stateful", "volume", "config")

HERE = os.path.dirname(os.path.abspath(__file__))
CLUSTER = os.path.join(HERE, "cluster.py")
SHOP = os.path.join(HERE, "..", "examples", "shop", "pipeline.spec")
# Sizes above this are not compared with kustomize: its target is linear growth and memory.
COMPARED_UP_TO = 1000


# --------------------------------------------------------------------------------------------
# Spec generation


def _q(text: str) -> str:
    """A double-quoted YAML scalar (the generator only needs plain ASCII)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def generate_spec(n: int, pipeline: str = "bench") -> str:
    """A valid spec with ``n`` stages cycling through the built-in patterns.

    Dependencies: each service reads the URL of the service before it (a chain through the
    pipeline, so there are many bundles); each job references the latest service or stateful
    stage; every third worker waits on the latest job with ``after:``; workers mount the
    latest volume and read a key of the latest config map; stateful stages come ``after:`` the
    latest config.
    """
    lines = [
        "kc: 1",
        f"pipeline: {pipeline}",
        f"description: Generated benchmark pipeline with {n} stages",
        "",
        "workspace:",
        # About 2 pods of 0.25 CPU and 256Mi per stage at the peak: the quota grows with the size.
        f'  quota: {{cpu: "{max(400, 2 * n // 5)}", memory: {max(800, 4 * n // 5)}Gi, pods: {max(4000, 4 * n)}}}',
        "  limits: small",
        "",
        "defaults:",
        "  size: small",
        "  env: {LOG_LEVEL: info}",
        "",
        "stages:",
    ]
    last: dict[str, str] = {}
    counts = {p: 0 for p in PATTERNS}
    for i in range(n):
        pattern = PATTERNS[i % len(PATTERNS)]
        k = counts[pattern]
        counts[pattern] += 1
        name = f"{pattern[:3]}-{i:04d}"
        image = f"acme/app-{i}:1.{i % 10}.{i % 7}"
        out = [f"  {name}:", f"    pattern: {pattern}"]
        if pattern == "service":
            out += [
                f"    image: {image}",
                f"    port: {8000 + i % 1000}",
                "    replicas: 2",
                "    health: /healthz",
                "    env:",
                f"      STAGE_INDEX: {_q(str(i))}",
            ]
            if "service" in last:
                out.append(f"      UPSTREAM_URL: {_q('${' + last['service'] + '.url}')}")
            if k % 3 == 0:
                out.append(f"    expose: {{host: {name}.{pipeline}.example.com}}")
        elif pattern == "worker":
            out += [f"    image: {image}", "    args: [--queue, jobs]"]
            if "job" in last and k % 3 == 0:
                out.append(f"    after: [{last['job']}]")
            mounts = []
            if "volume" in last:
                mounts.append(f"{last['volume']}: /data")
            if "config" in last:
                mounts.append(f"{last['config']}: /etc/app")
            if mounts:
                out.append("    mounts: {" + ", ".join(mounts) + "}")
            if "config" in last:
                out += ["    env:", f"      MODE: {{config: {last['config']}/mode}}"]
        elif pattern == "job":
            out += [f"    image: {image}", "    args: [migrate, up]", "    timeout: 10m"]
            target = last.get("stateful") or last.get("service")
            if target:
                out += ["    env:", f"      TARGET: {_q('${' + target + '.host}:${' + target + '.port}')}"]
        elif pattern == "cron":
            out += [
                f"    image: {image}",
                '    schedule: "0 3 * * *"',
            ]
            if "service" in last:
                out += ["    env:", f"      API: {_q('${' + last['service'] + '.url}')}"]
        elif pattern == "stateful":
            out += [
                f"    image: {image}",
                f"    port: {5000 + i % 1000}",
                "    storage: 1Gi",
            ]
            if "config" in last:
                out.append(f"    after: [{last['config']}]")
        elif pattern == "volume":
            out += ["    size: 1Gi"]
        elif pattern == "config":
            out += [
                "    data:",
                "      mode: batch",
                f"      stage: {_q(str(i))}",
            ]
        lines += out
        last[pattern] = name
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Measuring one child process


@dataclass
class Run:
    wall: float
    cpu: float  # user + system seconds of the child
    maxrss_mb: float
    returncode: int
    stderr: str = ""


def run_child(cmd: list[str]) -> Run:
    """Run ``cmd`` once, its output discarded (``> /dev/null``); wall time from spawn to reap,
    CPU time and peak RSS from ``os.wait4`` on this one child."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
        except OSError as e:
            return Run(0.0, 0.0, 0.0, 127, f"cannot run {cmd[0]}: {e}")
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped; keep Popen quiet
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    # Linux reports ru_maxrss in KiB, macOS in bytes.
    rss = usage.ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else usage.ru_maxrss / 1024
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall, cpu, rss, proc.returncode, text)


@dataclass
class Series:
    runs: list[Run] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(r.returncode == 0 for r in self.runs)

    @property
    def median(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def min(self) -> float:
        return min(r.wall for r in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu for r in self.runs)

    @property
    def rss(self) -> float:
        return max(r.maxrss_mb for r in self.runs)

    def failure(self) -> str:
        bad = next((r for r in self.runs if r.returncode != 0), None)
        if bad is None:
            return ""
        tail = bad.stderr.strip().splitlines()[-5:]
        return f"exit {bad.returncode}: " + " | ".join(tail)


# --------------------------------------------------------------------------------------------
# Output inspection

_BUNDLE = re.compile(r"^[0-9]{2,}-.+\.yaml$")


def bundle_files(outdir: str) -> list[str]:
    return sorted(f for f in os.listdir(outdir) if _BUNDLE.match(f))


def count_objects(path: str) -> int:
    """Documents in a multi-document YAML file that declare a top-level ``kind``."""
    count = 0
    has_kind = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.rstrip("\n") == "---" or line.startswith("--- "):
                count += has_kind
                has_kind = False
            elif line.startswith("kind:"):
                has_kind = True
    return count + has_kind


def dir_size(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


# --------------------------------------------------------------------------------------------
# Tools and versions


def kc_command(explicit: str | None) -> list[str]:
    if explicit:
        return explicit.split()
    found = shutil.which("kc")
    if found:
        return [found]
    return [sys.executable, "-m", "kc.compiler.cli"]


def user_install(work: str) -> list[str]:
    """kc as a user installs it: ``pip install`` of this checkout into a new virtualenv. An
    editable install (the project's own .venv) starts slower: its import hook loads pathlib and
    more before kc's first line runs."""
    venv = os.path.join(work, "user-venv")
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    pip = [os.path.join(venv, "bin", "python"), "-m", "pip", "install", "-q", os.path.dirname(HERE)]
    subprocess.run(pip, check=True)
    # pip leaves a few hundred MB of unwritten pages; written back by the kernel half a minute
    # later, they took the CPU from the first measurements. Written now, they cannot.
    os.sync()
    return [os.path.join(venv, "bin", "kc")]


def first_line(cmd: list[str]) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e.__class__.__name__})"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else f"unavailable (exit {done.returncode})"


def kubectl_versions(kubectl: str) -> str:
    try:
        done = subprocess.run([kubectl, "version", "--client"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e.__class__.__name__})"
    parts = [ln.strip() for ln in done.stdout.splitlines() if ln.strip()]
    return ", ".join(parts) if parts else "unavailable"


def _python_of(kc: list[str]) -> str:
    """The interpreter that runs ``kc``: the ``python`` of ``python -m ...``, else the one on the
    console script's ``#!`` line, else this one."""
    if "-m" in kc:
        return kc[0]
    try:
        with open(kc[0], encoding="utf-8", errors="replace") as f:
            first = f.readline()
    except OSError:
        return sys.executable
    return first[2:].split()[0] if first.startswith("#!/") else sys.executable


def source_revision(kc: list[str]) -> str:
    """``abc1234[-dirty]`` when kc runs from a git checkout (an editable install), else ``""``."""
    probe = "import os, kc.compiler as m; print(os.path.dirname(os.path.realpath(m.__file__)))"
    try:
        done = subprocess.run([_python_of(kc), "-c", probe], capture_output=True, text=True, timeout=60, check=False)
        where = done.stdout.strip()
        if done.returncode != 0 or not where:
            return ""
        rev = subprocess.run(
            ["git", "-C", where, "describe", "--always", "--dirty", "--abbrev=7"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return rev.stdout.strip() if rev.returncode == 0 else ""


def checkout_revision(kc: list[str]) -> str:
    """The git revision of the checkout this script belongs to (``kc`` was installed from it)."""
    done = subprocess.run(
        ["git", "-C", HERE, "describe", "--always", "--dirty", "--abbrev=7"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# --------------------------------------------------------------------------------------------
# The benchmark


@dataclass
class Result:
    name: str  # "shop", "shop validate", "1000 stages"
    objects: int = 0
    bundles: int = 0
    out_bytes: int = 0
    kc: Series = field(default_factory=Series)
    kustomize: Series | None = None

    @property
    def ratio(self) -> float | None:
        if self.kustomize is None or not self.kustomize.ok or not self.kc.ok:
            return None
        return self.kustomize.median / self.kc.median


def _progress(tool: str, name: str, i: int, repeat: int, run: Run) -> None:
    print(
        f"  {tool:<9} {name:<14} run {i + 1}/{repeat}: {run.wall:.3f}s wall, {run.cpu:.3f}s cpu, "
        f"{run.maxrss_mb:.0f}MB, exit {run.returncode}",
        file=sys.stderr,
    )


def write_kustomization(outdir: str, files: list[str], kdir: str) -> None:
    """kc's own bundle files, copied unchanged, listed as the resources of a kustomization."""
    shutil.rmtree(kdir, ignore_errors=True)
    os.makedirs(kdir)
    for name in files:
        shutil.copyfile(os.path.join(outdir, name), os.path.join(kdir, name))
    with open(os.path.join(kdir, "kustomization.yaml"), "w", encoding="utf-8") as f:
        f.write(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            "resources:\n" + "".join(f"- {name}\n" for name in files)
        )


def bench_compile(
    name: str, spec: str, repeat: int, work: str, kc: list[str], kubectl: str | None, progress: bool
) -> Result:
    """``kc compile SPEC -o OUT``, alternating with ``kubectl kustomize`` over its bundles."""
    res = Result(name)
    case = os.path.join(work, name.replace(" ", "-"))
    os.makedirs(case, exist_ok=True)
    outdir = os.path.join(case, "out")
    kdir = os.path.join(case, "kustomize")
    # kc and kustomize runs alternate, so a slow spell of the machine hits both alike and the
    # ratio stays meaningful; kustomize starts after kc's first run has produced the objects.
    for i in range(repeat):
        shutil.rmtree(outdir, ignore_errors=True)  # every run is a full compile into a new dir
        run = run_child([*kc, "compile", spec, "-o", outdir])
        res.kc.runs.append(run)
        if progress:
            _progress("kc", name, i, repeat, run)
        if run.returncode != 0:
            return res
        if i == 0:
            files = bundle_files(outdir)
            res.bundles = len(files)
            res.objects = sum(count_objects(os.path.join(outdir, f)) for f in files)
            res.out_bytes = dir_size(outdir)
            if kubectl:
                write_kustomization(outdir, files, kdir)
                res.kustomize = Series()
        if kubectl and res.kustomize is not None and (not res.kustomize.runs or res.kustomize.ok):
            krun = run_child([kubectl, "kustomize", kdir])
            res.kustomize.runs.append(krun)
            if progress:
                _progress("kustomize", name, i, repeat, krun)
    return res


def bench_validate(spec: str, repeat: int, kc: list[str], progress: bool) -> Result:
    res = Result("shop validate")
    for i in range(repeat):
        run = run_child([*kc, "validate", spec])
        res.kc.runs.append(run)
        if progress:
            _progress("kc", res.name, i, repeat, run)
    return res


def generated(n: int, work: str) -> str:
    path = os.path.join(work, f"n{n}.spec")
    with open(path, "w", encoding="utf-8") as f:
        f.write(generate_spec(n))
    return path


# --------------------------------------------------------------------------------------------
# Targets: the project's, as docs/performance.md states them. Each gives its verdict and numbers.


@dataclass
class Verdict:
    case: str
    target: str
    measured: str
    met: bool | None  # None: not measured


def _median(r: Result | None) -> float | None:
    return r.kc.median if r is not None and r.kc.ok else None


def verdicts(results: dict[str, Result]) -> list[Verdict]:
    out = []
    shop, check, big, huge = (results.get(k) for k in ("shop", "shop validate", "1000 stages", "10000 stages"))
    if shop is not None and _median(shop) is not None:
        ratio = shop.ratio
        measured = f"{shop.kc.median:.3f} s" + (f", kustomize {shop.kustomize.median:.3f} s" if ratio else "")
        kc_over = 1 / ratio if ratio else None
        met = shop.kc.median <= 0.15 and kc_over is not None and kc_over <= 1.5
        measured += f" (kc takes {kc_over:.2f}x kustomize's time)" if kc_over else " (kustomize not measured)"
        out.append(Verdict("shop, kc compile -o", "<= 0.15 s and within 1.5x of kustomize", measured, met))
    if check is not None and _median(check) is not None:
        out.append(Verdict("shop, kc validate", "<= 0.12 s", f"{check.kc.median:.3f} s", check.kc.median <= 0.12))
    if big is not None and _median(big) is not None:
        ratio = big.ratio
        measured = f"{big.kc.median:.3f} s" + (
            f", kustomize {big.kustomize.median:.3f} s: {ratio:.1f}x faster" if ratio and big.kustomize else ""
        )
        out.append(Verdict("1000 stages", ">= 10x faster than kustomize", measured, ratio is not None and ratio >= 10))
    if huge is not None and _median(huge) is not None and _median(big) is not None and big is not None:
        growth = huge.kc.median / big.kc.median
        measured = f"{huge.kc.median:.3f} s ({growth:.1f}x the 1000-stage time), peak {huge.kc.rss:.0f} MB"
        out.append(
            Verdict(
                "10,000 stages",
                "<= 11x the 1000-stage time, peak RSS <= 1 GB",
                measured,
                growth <= 11 and huge.kc.rss <= 1024,
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# Reporting

HEADERS = [
    "case",
    "objects",
    "kc wall median (s)",
    "kc wall min (s)",
    "kc peak RSS (MB)",
    "kustomize wall median (s)",
    "kustomize peak RSS (MB)",
    "kustomize / kc",
]


def row(r: Result) -> list[str]:
    if r.kc.ok:
        kc_cells = [str(r.objects or "-"), f"{r.kc.median:.3f}", f"{r.kc.min:.3f}", f"{r.kc.rss:.0f}"]
    else:
        kc_cells = ["failed", "-", "-", "-"]
    if r.kustomize is None:
        k_cells = ["-", "-"]
    elif r.kustomize.ok:
        k_cells = [f"{r.kustomize.median:.3f}", f"{r.kustomize.rss:.0f}"]
    else:
        k_cells = ["failed", "-"]
    ratio = f"{r.ratio:.2f}x" if r.ratio is not None else "-"
    return [r.name, *kc_cells, *k_cells, ratio]


def table(headers: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|---|" + "|".join("---:" for _ in headers[1:]) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*headers), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*r) for r in rows]
    return "\n".join(lines)


def verdict_table(found: list[Verdict], markdown: bool) -> str:
    rows = [[v.case, v.target, v.measured, {True: "met", False: "MISSED", None: "not measured"}[v.met]] for v in found]
    return table(["target", "wanted", "measured", "verdict"], rows, markdown) if rows else "(no target measured)"


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if min(sizes, default=1) < 1:
        raise argparse.ArgumentTypeError("sizes must be positive integers")
    return sizes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--sizes", default="10,100,1000,10000", type=_sizes, help="generated stage counts (default 10,100,1000,10000)"
    )
    ap.add_argument(
        "--repeat", type=int, default=5, help="runs per case and tool (default 5; 10,000 stages: 3 at most)"
    )
    ap.add_argument("--no-shop", action="store_true", help="leave out the shop example's compile and validate")
    ap.add_argument(
        "--cluster", action="store_true", help="also measure kc diff and kc apply on a local cluster (bench/cluster.py)"
    )
    ap.add_argument("--markdown", action="store_true", help="print GitHub markdown tables")
    ap.add_argument("--kc", help="the kc command (default: kc on PATH, else python -m)")
    ap.add_argument(
        "--user-install", action="store_true", help="measure a pip install of this checkout in a new virtualenv"
    )
    ap.add_argument("--kubectl", help="the kubectl binary (default: kubectl on PATH)")
    ap.add_argument("--no-kustomize", action="store_true", help="skip the kustomize comparison")
    ap.add_argument("--keep", metavar="DIR", help="keep specs and outputs in DIR")
    ap.add_argument("--quiet", action="store_true", help="no per-run progress on stderr")
    args = ap.parse_args(argv)

    repeat = max(1, args.repeat)
    kubectl = None if args.no_kustomize else (args.kubectl or shutil.which("kubectl"))
    progress = not args.quiet

    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        work, cleanup = os.path.abspath(args.keep), None
    else:
        cleanup = tempfile.TemporaryDirectory(prefix="kc-bench-")
        work = cleanup.name

    kc = user_install(work) if args.user_install else kc_command(args.kc)
    # A user install holds a copy: its revision is the checkout's at the time it was installed.
    revision = checkout_revision if args.user_install else source_revision
    rev_before = revision(kc)
    results: dict[str, Result] = {}
    try:
        if not args.no_shop:
            shop = os.path.abspath(SHOP)
            results["shop"] = bench_compile("shop", shop, repeat, work, kc, kubectl, progress)
            results["shop validate"] = bench_validate(shop, repeat, kc, progress)
        for n in args.sizes:
            name = f"{n} stages"
            compare = kubectl if n <= COMPARED_UP_TO else None
            runs = repeat if n <= COMPARED_UP_TO else min(repeat, 3)
            results[name] = bench_compile(name, generated(n, work), runs, work, kc, compare, progress)
        cluster_report = None
        if args.cluster:
            # bench/cluster.py, in a process of its own: it starts and stops its own local cluster.
            argv = [_python_of(kc), CLUSTER, "--repeat", str(min(repeat, 3))]
            argv += ["--markdown"] * args.markdown + ["--quiet"] * (not progress)
            cluster_report = subprocess.run(argv, stdout=subprocess.PIPE, text=True, check=False).stdout
        # A floor and a yardstick for this machine at this moment: a bare interpreter start with
        # the Python that runs kc (cloud machines vary in speed from one hour to the next).
        floor = Series([run_child([_python_of(kc), "-c", "pass"]) for _ in range(repeat)])
        kc_version = first_line([*kc, "--version"])
        rev_after = revision(kc)
    finally:
        if cleanup is not None:
            cleanup.cleanup()

    if kubectl:
        k_version = kubectl_versions(kubectl)
    elif args.no_kustomize:
        k_version = "comparison skipped (--no-kustomize)"
    else:
        k_version = "not on PATH (comparison skipped)"
    machine = (
        f"machine: {os.cpu_count()} CPUs ({cpu_model()}), {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}; {kc_version}"
        f"{f' (source {rev_after})' if rev_after else ''}; kubectl: {k_version}; {repeat} runs per cell; "
        f"bare Python start {floor.median * 1000:.0f} ms"
    )

    print(table(HEADERS, [row(r) for r in results.values()], args.markdown))
    print()
    print(machine)
    if rev_before != rev_after:
        print(
            f"warning: the kc source changed during the run ({rev_before or 'unknown'} -> "
            f"{rev_after or 'unknown'}); the rows may mix two versions, run it again"
        )
    prefix = "- " if args.markdown else "  "
    print("output and CPU time (user + system, median):")
    for r in results.values():
        if not r.kc.ok or not r.bundles:
            continue
        line = f"{r.name}: {r.bundles} bundle files, {r.out_bytes / 1024:.0f} KiB; kc {r.kc.cpu:.3f} s CPU"
        if r.kustomize is not None and r.kustomize.ok:
            line += f", kustomize {r.kustomize.cpu:.3f} s CPU"
        print(prefix + line)
    for r in results.values():
        if not r.kc.ok:
            print(f"kc failed on {r.name}: {r.kc.failure()}")
        if r.kustomize is not None and not r.kustomize.ok:
            print(f"kustomize failed on {r.name}: {r.kustomize.failure()}")
    print()
    print("targets:")
    found = verdicts(results)
    print(verdict_table(found, args.markdown))
    if cluster_report is not None:
        print()
        print("kc diff and kc apply, 1000 stages (bench/cluster.py):")
        print(cluster_report, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
