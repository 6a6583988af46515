"""The ``kc`` command: arguments, output and exit codes; the work happens in the passes."""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from collections.abc import Callable, Sequence

from kc.compiler import arguments, cluster_commands, commands, output, source
from kc.compiler import diagnostics as diag
from kc.compiler.commands import EXIT_DIFFERENT, EXIT_INTERNAL, EXIT_INVALID, EXIT_OK


def cmd_compile(args: argparse.Namespace) -> int:
    from kc.targets import kubernetes

    program = commands.build(args)
    commands.report(program.warnings)
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


def cmd_validate(args: argparse.Namespace) -> int:
    """Every spec named (a pre-commit hook passes several), each with each of its profiles unless
    --profile names some, reported together."""
    from kc.compiler import validation

    found: list[diag.Diagnostic] = []
    pending: list[str] = []
    invalid = False
    for spec in [args.spec, *args.more]:
        try:
            checked = validation.check(source.load_file(spec), commands.options(args))
        except diag.CompileError as exc:  # the file itself: unreadable, not YAML
            checked = validation.Checked(list(exc.diagnostics), [], True)
        invalid = invalid or checked.invalid
        found += checked.diagnostics
        pending += [p for p in checked.pending if p not in pending]
    commands.report(found, args.format, ", ".join(pending))
    return EXIT_INVALID if invalid else EXIT_OK


def cmd_graph(args: argparse.Namespace) -> int:
    from kc.targets import graph

    formats = graph.NETWORK_FORMATS if args.network else graph.FORMATS
    sys.stdout.write(formats[args.format](commands.build(args)))
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
    "diff": cluster_commands.cmd_diff,
    "apply": cluster_commands.cmd_apply,
    "teardown": cluster_commands.cmd_teardown,
    "status": cluster_commands.cmd_status,
    "logs": cluster_commands.cmd_logs,
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
        commands.report(
            exc.diagnostics, getattr(args, "format", "text") if args.command == "validate" else "text", exc.pending
        )
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
