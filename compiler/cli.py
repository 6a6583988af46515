"""The ``kc`` command: arguments, output and exit codes; the work happens in the passes."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from kc.compiler import diagnostics as diag
from kc.compiler import ir, output, passes, source
from kc.schemas import units

if TYPE_CHECKING:
    from kc.compiler.teardown import model as teardown_model

EXIT_OK, EXIT_DIFFERENT, EXIT_INVALID, EXIT_CLUSTER, EXIT_TIMEOUT = 0, 1, 2, 3, 4
EXIT_INTERNAL = 70

EXAMPLES = {
    "compile": """examples:
  kc compile examples/shop/pipeline.spec -o out/          write bundles and kc/plan.json
  kc compile shop.spec -o out/ --profile prod --instance shop-canary
  kc compile shop.spec --set api.replicas=3               print the bundles as one YAML stream
  kc compile shop.spec -o out/ --check                    exit 1 when out/ is stale
  kc compile shop.spec --teardown                         print the teardown plan (kc/teardown.yaml)""",
    "validate": """examples:
  kc validate shop.spec                  nothing printed and exit 0 when the spec is valid
  kc validate shop.spec --format json    every diagnostic as JSON
  kc validate */pipeline.spec            several specs at once (as the pre-commit hook runs it)""",
    "graph": """examples:
  kc graph shop.spec                     a Mermaid flowchart of the stages and bundles
  kc graph shop.spec --format dot | dot -Tsvg > shop.svg""",
    "explain": """examples:
  kc explain service                     parameters, defaults and objects of 'service'
  kc explain crontab --spec examples/crontab/pipeline.spec   a pattern the spec imports""",
    "patterns": """examples:
  kc patterns                            the built-in patterns, one line each
  kc patterns --spec pipeline.spec       and those the spec's imports add""",
    "teardown": """examples:
  kc teardown --dry-run shop.spec                  the numbered plan: what, why, what waits
  kc teardown --dry-run out/ --delete-data         an earlier 'kc compile -o out/', claims included
  kc teardown --dry-run shop.spec -o json          the plan as data (kc/teardown.yaml's content)
  kc teardown shop.spec                            run it; asks first on a terminal
  kc teardown out/ --yes --delete-data             no question (CI), claims and their data too
  kc teardown shop.spec --context kind-kc --timeout 10m

Without --yes kc asks for confirmation, and refuses when standard input is not a terminal.
exit codes: 0 done (kept objects are listed), 2 invalid spec or not confirmed, 3 cluster error,
4 a wait timed out. docs/cluster.md and docs/teardown.md explain each step.""",
    "diff": """examples:
  kc diff shop.spec                                what 'kc apply' would change in the cluster
  kc diff shop.spec --profile prod --context prod -o json
  kc diff shop.spec --against out/                 offline: against an earlier 'kc compile -o out/'
  kc diff shop.spec && echo "cluster is up to date"

+ to create   ~ to change (field by field, with the spec line)   - orphaned   ! conflict (not kc's)
exit codes: 0 no differences, 1 differences, 2 invalid spec, 3 cluster error.
Secret data is never printed, only that it changed. docs/cluster.md has the comparison rules.""",
    "apply": """examples:
  kc apply shop.spec                               apply bundle by bundle, waiting on each gate
  kc apply shop.spec --profile prod --timeout 10m  each bundle's gates may take up to 10 minutes
  kc apply shop.spec --prune                       then delete the orphans (claims only with data: delete)
  kc diff shop.spec; kc apply shop.spec && kc diff shop.spec   the last diff exits 0

exit codes: 0 applied, 2 invalid spec, 3 cluster error or a conflict (nothing adopted),
4 a gate timed out or failed (the message names the gate and the object).""",
}


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
        sys.stdout.write(kubernetes.stream(program))
    return EXIT_OK


def _duration(text: str) -> float:
    try:
        return float(units.seconds(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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


def cmd_diff(args: argparse.Namespace) -> int:
    from kc.cluster import client, diff, diff_text

    program = build(args)
    report(program.warnings)

    def work() -> int:
        if args.against:
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
    from kc.cluster import apply, client, progress

    program = build(args)
    report(program.warnings)

    def work() -> int:
        shown = progress.Progress(sys.stderr, use_color(sys.stderr))
        with client.connect(args.kubeconfig, args.context) as cluster:
            done = apply.apply(cluster, program, prune=args.prune, timeout=args.timeout, progress=shown)
        shown.line(f"kc apply: {program.instance} applied to {cluster.where}: {done.text}")
        return EXIT_OK

    return _on_cluster("apply", work)


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
        if args.profile or args.instance or args.set or args.policy:
            sys.stderr.write("kc teardown: --profile, --instance, --set and --policy apply to a spec, not to DIR\n")
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

    sys.stdout.write(graph.FORMATS[args.format](build(args)))
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
    patterns = {n: jsonschema.StagePattern(p.model, p.manifest.summary) for n, p in builtins.items()}
    sys.stdout.write(json.dumps(jsonschema.spec_schema_dict(patterns), indent=2) + "\n")
    return EXIT_OK


def _compile_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", help="the pipeline spec (YAML)")
    p.add_argument("--profile", action="append", metavar="A,B", help="overlay these profiles, in order")
    p.add_argument("--instance", metavar="NAME", help="compile an independent copy named NAME")
    p.add_argument(
        "--set",
        action="append",
        metavar="PATH=VALUE",
        help="override a field: STAGE.FIELD=VALUE, workspace.namespace=NS, …",
    )
    p.add_argument("--policy", metavar="FILE", help="an organisation policy the spec may only tighten")
    p.add_argument(
        "--ordering-annotations",
        choices=("argocd", "kapp"),
        help="also write the bundle order as Argo CD sync waves or kapp change groups",
    )
    p.add_argument(
        "--allow-outside",
        action="store_true",
        help="let imports and files reach outside the spec's directory",
    )


def _cluster_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig", metavar="FILE", help="the kubeconfig (default: $KUBECONFIG, ~/.kube/config)")
    p.add_argument("--context", metavar="NAME", help="the kubeconfig context (default: its current context)")


def parser() -> argparse.ArgumentParser:
    from importlib import metadata

    top = argparse.ArgumentParser(
        prog="kc",
        description="Compile a pipeline spec into ordered Kubernetes bundles with a teardown plan.",
        epilog="exit codes: 0 ok, 1 differences or stale output, 2 invalid spec, 3 cluster error, "
        "4 gate timed out. Run 'kc COMMAND --help' for a command's options and examples.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--version", action="version", version=f"kc {metadata.version('kc')}")
    sub = top.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=EXAMPLES.get(name),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    p = command("compile", "compile a spec into bundle files, or a YAML stream on stdout")
    _compile_flags(p)
    p.add_argument("-o", "--output", metavar="DIR", help="write bundles and kc/plan.json into DIR")
    p.add_argument("--check", action="store_true", help="compare with DIR instead; exit 1 if stale")
    p.add_argument("--teardown", action="store_true", help="without -o: print the teardown plan, not the bundles")
    p.set_defaults(func=cmd_compile)

    p = command("diff", "compare the compiled plan with the cluster, or with DIR from an earlier compile")
    _compile_flags(p)
    _cluster_flags(p)
    p.add_argument("--against", metavar="DIR", help="compare with an earlier 'kc compile -o DIR' (offline)")
    p.add_argument("-o", "--output", choices=("text", "json"), default="text", help="text for people, or JSON")
    p.set_defaults(func=cmd_diff)

    p = command("apply", "server-side apply, bundle by bundle, waiting on each bundle's gates")
    _compile_flags(p)
    _cluster_flags(p)
    p.add_argument("--prune", action="store_true", help="then delete orphans (claims only with policy data: delete)")
    p.add_argument(
        "--timeout", type=_duration, default=300.0, metavar="T", help="how long each bundle's gates may take (5m)"
    )
    p.set_defaults(func=cmd_apply)

    p = command("teardown", "run the teardown plan of a spec, or of DIR from an earlier 'kc compile -o DIR'")
    _compile_flags(p)
    _cluster_flags(p)
    p.add_argument("--dry-run", action="store_true", help="print the plan; touch no cluster")
    p.add_argument("--delete-data", action="store_true", help="also delete the claims (and their data)")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--timeout", type=_duration, metavar="T", help="how long each wait may take (the plan's: 300s)")
    p.add_argument("-o", "--output", choices=("text", "json"), default="text", help="with --dry-run: text or JSON")
    p.set_defaults(func=cmd_teardown)

    p = command("validate", "report every diagnostic of one or more specs; write nothing")
    _compile_flags(p)
    p.add_argument("more", nargs="*", metavar="SPEC", help="more specs, checked with the same flags")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_validate)

    p = command("graph", "print the stage graph and its bundles, one edge per pair of steps labelled with why")
    _compile_flags(p)
    p.add_argument("--format", choices=("mermaid", "dot"), default="mermaid")
    p.set_defaults(func=cmd_graph)

    for name, help_text in (
        ("patterns", "list the known patterns: the built-ins, and a spec's imports with --spec"),
        ("explain", "show a pattern's parameters, defaults, objects and steps"),
    ):
        p = command(name, help_text)
        if name == "explain":
            p.add_argument("pattern")
        p.add_argument("--spec", metavar="FILE", help="also the patterns this spec's imports add")
        p.add_argument("--allow-outside", action="store_true", help="let the spec's imports leave its directory")
        p.set_defaults(func=cmd_patterns if name == "patterns" else cmd_explain)
    command("schema", "print the spec's JSON Schema (for editors)").set_defaults(func=cmd_schema)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
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


if __name__ == "__main__":
    sys.exit(main())
