"""The ``kc`` command: arguments, output and exit codes; the work happens in the passes."""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from kc.compiler import arguments, ir, output, passes, source
from kc.compiler import diagnostics as diag

if TYPE_CHECKING:
    from kc.compiler.teardown import model as teardown_model

EXIT_OK, EXIT_DIFFERENT, EXIT_INVALID, EXIT_CLUSTER, EXIT_TIMEOUT = 0, 1, 2, 3, 4
EXIT_INTERNAL = 70


class _Sources:
    """File contents for diagnostics, read on first use."""

    def __init__(self) -> None:
        self.cache: dict[str, str | None] = {}

    def get(self, path: str) -> str | None:
        if path not in self.cache:
            try:
                with open(path, encoding="utf-8") as f:
                    self.cache[path] = f.read()
            except (OSError, UnicodeDecodeError):
                self.cache[path] = None
        return self.cache[path]


def use_color(stream: object) -> bool:
    """Colour only on a terminal, never with NO_COLOR (https://no-color.org) or TERM=dumb."""
    isatty = getattr(stream, "isatty", lambda: False)
    return bool(isatty()) and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def report(diagnostics: Sequence[diag.Diagnostic], fmt: str = "text", pending: str = "") -> None:
    """The diagnostics; ``pending`` names the checks that run once these are fixed."""
    if fmt == "json":
        sys.stdout.write(diag.render_json(diagnostics, pending))
    elif diagnostics:
        sys.stderr.write(diag.render_text(diagnostics, _Sources(), use_color(sys.stderr)))  # type: ignore[arg-type]
        if pending:
            sys.stderr.write(f"note: more checks ({pending}) run once these errors are fixed\n")


def _options(args: argparse.Namespace) -> ir.Options:
    profiles = tuple(p for group in (args.profile or []) for p in group.split(",") if p)
    sets = []
    for item in args.set or []:
        target, _, value = item.partition("=")
        sets.append((target, value))
    return ir.Options(
        profiles=profiles,
        instance=args.instance,
        sets=tuple(sets),
        params=tuple(args.param or ()),
        policy_file=args.policy,
        ordering_annotations=args.ordering_annotations,
        allow_outside=args.allow_outside,
    )


def build(args: argparse.Namespace) -> ir.Program:
    """Load and compile the spec named on the command line."""
    return passes.run(source.load_file(args.spec), _options(args))


def cmd_compile(args: argparse.Namespace) -> int:
    from kc.targets import kubernetes

    program = build(args)
    report(program.warnings)
    if args.teardown:
        if args.output or args.check:
            sys.stderr.write("kc compile: --teardown prints the plan; with -o DIR it is DIR/kc/teardown.yaml\n")
            return EXIT_INVALID
        from kc.compiler import teardown
        from kc.targets import teardown_text as teardown_target

        sys.stdout.write(teardown_target.yaml(teardown.plan(program)))
        return EXIT_OK
    if args.check:
        if not args.output:
            sys.stderr.write("kc compile: --check needs -o DIR\n")
            return EXIT_INVALID
        stale = output.stale(args.output, kubernetes.files(program))
        for path in stale:
            sys.stderr.write(f"{os.path.join(args.output, path)}: stale\n")
        return EXIT_DIFFERENT if stale else EXIT_OK
    if args.output:
        output.write(args.output, kubernetes.files(program))
    else:
        sys.stdout.writelines(kubernetes.stream(program))
    return EXIT_OK


def _on_cluster(command: str, work: Callable[[], int]) -> int:
    """Run a cluster command: each of its failures is one line on stderr and an exit code."""
    from kc.cluster import errors

    try:
        return work()
    except errors.ClusterError as exc:
        code, message = EXIT_CLUSTER, str(exc)
    except errors.GateTimeout as exc:
        code, message = EXIT_TIMEOUT, str(exc)
    except errors.Refused as exc:
        code, message = EXIT_INVALID, str(exc)
    sys.stderr.write(f"\nkc {command}: {message}\n" if sys.stderr.isatty() else f"kc {command}: {message}\n")
    return code


def _plan(args: argparse.Namespace, command: str) -> object:
    """What ``kc apply`` and ``kc diff`` act on: a compiled DIR (an existing directory, checked
    against its kc/plan.json), or the spec compiled now; None after saying why neither."""
    from kc.cluster import errors, reviewed

    if not reviewed.is_directory(args.spec):
        program = build(args)
        report(program.warnings)
        return program
    if args.profile or args.instance or args.set or args.param or args.policy or args.ordering_annotations:
        sys.stderr.write(
            f"kc {command}: --profile, --instance, --set, --param, --policy and --ordering-annotations apply to a "
            f"spec, not to DIR (compile with them, then kc {command} DIR)\n"
        )
        return None
    try:
        return reviewed.load(args.spec)
    except errors.Refused as exc:
        sys.stderr.write(f"kc {command}: {exc}\n")
        return None


def cmd_diff(args: argparse.Namespace) -> int:
    from kc.cluster import client, diff, diff_text, reviewed

    program = _plan(args, "diff")
    if program is None:
        return EXIT_INVALID
    if args.against and isinstance(program, reviewed.Compiled):
        sys.stderr.write("kc diff: --against DIR compares a spec with DIR; to compare two directories use diff -r\n")
        return EXIT_INVALID
    assert isinstance(program, ir.Program | reviewed.Compiled)

    def work() -> int:
        if args.against:
            assert isinstance(program, ir.Program)
            result = diff.offline_diff(program, args.against)
        else:
            with client.connect(args.kubeconfig, args.context) as cluster:
                result = diff.live_diff(cluster, program)
        for note in result.notes:
            sys.stderr.write(f"kc diff: note: {note}\n")
        color = use_color(sys.stdout)
        sys.stdout.write(diff_text.json_text(result) if args.output == "json" else diff_text.text(result, color))
        return EXIT_DIFFERENT if result.differences else EXIT_OK

    return _on_cluster("diff", work)


def cmd_apply(args: argparse.Namespace) -> int:
    from kc.cluster import apply, client, progress, rerun, reviewed

    if args.only and not args.rerun:
        sys.stderr.write("kc apply: --only goes with --rerun STAGE: it runs that stage again without its readers\n")
        return EXIT_INVALID
    program = _plan(args, "apply")
    if program is None:
        return EXIT_INVALID
    assert isinstance(program, ir.Program | reviewed.Compiled)

    def work() -> int:
        rerun.choose(program, args.rerun or (), args.only)  # an unknown stage: said before connecting
        shown = progress.Progress(sys.stderr, use_color(sys.stderr))
        with client.connect(args.kubeconfig, args.context) as cluster:
            done = apply.apply(
                cluster,
                program,
                prune=args.prune,
                timeout=args.timeout,
                progress=shown,
                wait=not args.no_wait,
                again=args.rerun or (),
                only=args.only,
                source=args.spec,
            )
        shown.line(f"kc apply: {program.instance} applied to {cluster.where}: {done.text}")
        return EXIT_OK

    return _on_cluster("apply", work)


def _view(args: argparse.Namespace, command: str) -> object:
    """The plan ``kc status`` and ``kc logs`` read, as ``kc apply`` and ``kc diff`` take it: a
    spec compiled now, or DIR from an earlier compile, checked against its kc/plan.json."""
    from kc.cluster import reviewed, view

    plan = _plan(args, command)
    if isinstance(plan, reviewed.Compiled):
        return view.of_directory(args.spec)
    return view.of_program(plan) if isinstance(plan, ir.Program) else None


def cmd_status(args: argparse.Namespace) -> int:
    from kc.cluster import client, status, status_text, view

    plan = _view(args, "status")
    if not isinstance(plan, view.Plan):
        return EXIT_INVALID
    codes = {status.HEALTHY: EXIT_OK, status.WAITING: EXIT_DIFFERENT, status.FAILED: EXIT_TIMEOUT}

    def work() -> int:
        with client.connect(args.kubeconfig, args.context) as cluster:
            if not args.watch:
                now = status.observe(cluster, plan)
                json_out = args.output == "json"
                sys.stdout.write(
                    status_text.json_text(now) if json_out else status_text.text(now, use_color(sys.stdout))
                )
                return codes[now.health]
            return _watch_status(cluster, plan, args.output, codes)

    return _on_cluster("status", work)


def _watch_status(cluster: object, plan: object, fmt: str, codes: dict[str, int]) -> int:
    """Redraw on a terminal; elsewhere the whole report once, then a line per change. Ctrl-C
    ends it with the exit code of the last report."""
    import time

    from kc.cluster import status, status_text

    terminal = sys.stdout.isatty() and os.environ.get("TERM") != "dumb" and fmt == "text"
    shown: dict[str, str] | None = None
    code = EXIT_OK
    try:
        for now in status.watching(cluster, plan):  # type: ignore[arg-type]
            code = codes[now.health]
            entries = status_text.entries(now)
            if entries == shown:
                continue
            if terminal:
                sys.stdout.write("\033[H\033[2J" + status_text.text(now, use_color(sys.stdout)))
            elif fmt == "json":
                sys.stdout.write(json.dumps(status_text.data(now), ensure_ascii=False) + "\n")
            elif shown is None:
                sys.stdout.write(status_text.text(now))
            else:
                stamp = time.strftime("%H:%M:%S")
                sys.stdout.write("".join(f"{stamp} {line}\n" for line in status_text.changes(shown, entries)))
            sys.stdout.flush()
            shown = entries
    except KeyboardInterrupt:
        return code
    return code


def cmd_logs(args: argparse.Namespace) -> int:
    from kc.cluster import client, logs, view

    plan = _view(args, "logs")
    if not isinstance(plan, view.Plan):
        return EXIT_INVALID

    def work() -> int:
        step = logs.choose(plan, args.stage, args.step)
        with client.connect(args.kubeconfig, args.context) as cluster:
            found = logs.pods(cluster, plan, step)
            if not found:
                sys.stderr.write(f"kc logs: no pods of step {step.id} in namespace {plan.namespace} (yet)\n")
                return EXIT_DIFFERENT
            printer = logs.Printer(sys.stdout, sys.stderr)
            whole = logs.show(cluster, found, printer, follow=args.follow, since=args.since, tail=args.tail)
        return EXIT_OK if whole else EXIT_CLUSTER

    return _on_cluster("logs", work)


def _run_teardown(args: argparse.Namespace, plan: teardown_model.TeardownPlan) -> int:
    from kc.cluster import client, errors, progress
    from kc.cluster import run_teardown as execute

    if not args.yes and not sys.stdin.isatty():
        raise errors.Refused("refusing to delete unconfirmed: standard input is not a terminal; pass --yes")
    with client.connect(args.kubeconfig, args.context) as cluster:
        if not args.yes:
            sys.stderr.write(f"kc teardown: {execute.describe(plan, cluster.where)}\nProceed? [y/N] ")
            sys.stderr.flush()
            if sys.stdin.readline().strip().lower() not in ("y", "yes"):
                raise errors.Refused("not confirmed; nothing was deleted")
        shown = progress.Progress(sys.stderr, use_color(sys.stderr))
        done = execute.run(cluster, plan, timeout=args.timeout, progress=shown)
    shown.line(f"kc teardown: {plan.instance} from {cluster.where}: {done.text}")
    return EXIT_OK


def cmd_teardown(args: argparse.Namespace) -> int:
    from kc.compiler import teardown
    from kc.targets import teardown_text as teardown_target

    if os.path.isdir(args.spec):
        if args.profile or args.instance or args.set or args.param or args.policy:
            sys.stderr.write(
                "kc teardown: --profile, --instance, --set, --param and --policy apply to a spec, not to DIR\n"
            )
            return EXIT_INVALID
        plan = teardown.load(args.spec, args.delete_data)
    else:
        program = build(args)
        report(program.warnings)
        plan = teardown.plan(program, args.delete_data)
    if not args.dry_run:
        return _on_cluster("teardown", lambda: _run_teardown(args, plan))
    sys.stdout.write(teardown_target.json_text(plan) if args.output == "json" else teardown_target.text(plan))
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    """Every spec named (a pre-commit hook passes several), reported together."""
    found: list[diag.Diagnostic] = []
    pending: list[str] = []
    invalid = False
    for spec in [args.spec, *args.more]:
        try:
            found += build(argparse.Namespace(**{**vars(args), "spec": spec})).warnings
        except diag.CompileError as exc:
            invalid = True
            found += exc.diagnostics
            pending += [p for p in exc.pending.split(", ") if p and p not in pending]
    report(found, args.format, ", ".join(pending))
    return EXIT_INVALID if invalid else EXIT_OK


def cmd_graph(args: argparse.Namespace) -> int:
    from kc.targets import graph

    formats = graph.NETWORK_FORMATS if args.network else graph.FORMATS
    sys.stdout.write(formats[args.format](build(args)))
    return EXIT_OK


def cmd_patterns(args: argparse.Namespace) -> int:
    from kc.compiler import frontend
    from kc.compiler.patterns import catalog

    sys.stdout.write(catalog.listing(frontend.known_patterns(args.spec, args.allow_outside)))
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    from kc.compiler import frontend
    from kc.compiler.patterns import catalog, explain

    known = catalog.public(frontend.known_patterns(args.spec, args.allow_outside))
    if args.pattern not in known:
        hint = diag.did_you_mean(args.pattern, known)
        sys.stderr.write(f"kc explain: unknown pattern '{args.pattern}'" + (f"; {hint}" if hint else "") + "\n")
        return EXIT_INVALID
    sys.stdout.write(explain.explain(known[args.pattern]))
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from kc.compiler.patterns import catalog, registry
    from kc.schemas import jsonschema

    builtins = catalog.public(registry.builtins())
    patterns = {n: jsonschema.StagePattern(p.record, p.manifest.summary) for n, p in builtins.items()}
    sys.stdout.write(json.dumps(jsonschema.spec_schema_dict(patterns), indent=2) + "\n")
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "compile": cmd_compile,
    "diff": cmd_diff,
    "apply": cmd_apply,
    "teardown": cmd_teardown,
    "status": cmd_status,
    "logs": cmd_logs,
    "validate": cmd_validate,
    "graph": cmd_graph,
    "patterns": cmd_patterns,
    "explain": cmd_explain,
    "schema": cmd_schema,
}


# Commands that compile (or read a compiled plan) and end. A compile makes objects by the hundred
# thousand and almost no reference cycles, and the cycle collector's passes over them grow with
# the pipeline: a tenth of a 1000-stage compile, a third of a 10,000-stage one, a tenth of a
# 1000-stage diff (docs/performance.md). The commands that wait on a cluster, for as long as it
# takes, keep it.
_WITHOUT_CYCLE_COLLECTOR = frozenset({"compile", "validate", "graph", "diff"})


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    args = arguments.parser(arguments.command_in(words)).parse_args(words)
    collecting = gc.isenabled() and args.command in _WITHOUT_CYCLE_COLLECTOR
    if collecting:
        gc.disable()
    try:
        return int(COMMANDS[args.command](args))
    except diag.CompileError as exc:
        report(exc.diagnostics, getattr(args, "format", "text") if args.command == "validate" else "text", exc.pending)
        return EXIT_INVALID
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a bug in kc: say so in one line, never a traceback
        if os.environ.get("KC_TRACEBACK"):
            raise
        sys.stderr.write(
            f"kc: internal error: {type(exc).__name__}: {exc}\nkc: please report this with the spec that caused it\n"
        )
        return EXIT_INTERNAL
    finally:
        if collecting:
            gc.enable()


if __name__ == "__main__":
    sys.exit(main())
