"""The ``kc`` command line: its commands, their flags, and the examples ``--help`` shows."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable, Sequence

from kc.schemas import units

EXAMPLES = {
    "compile": """examples:
  kc compile examples/shop/pipeline.spec -o out/          write bundles and kc/plan.json
  kc compile shop.spec -o out/ --profile prod --instance shop-canary
  kc compile shop.spec --set api.replicas=3               print the bundles as one YAML stream
  kc compile words.spec -o run-42/ --instance run-42 --param text=hamlet.txt
  kc compile shop.spec -o out/ --check                    exit 1 when out/ is stale
  kc compile shop.spec --teardown                         print the teardown plan (kc/teardown.yaml)""",
    "validate": """examples:
  kc validate shop.spec                  nothing printed and exit 0 when the spec is valid
  kc validate shop.spec --format json    every diagnostic as JSON
  kc validate */pipeline.spec            several specs at once (as the pre-commit hook runs it)""",
    "graph": """examples:
  kc graph shop.spec                     a Mermaid flowchart of the stages and bundles
  kc graph shop.spec --format dot | dot -Tsvg > shop.svg
  kc graph shop.spec --network           the connections the network policies allow, with ports""",
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
  kc diff out/                                     exactly the objects of 'kc compile -o out/' (reviewed)
  kc diff shop.spec && echo "cluster is up to date"

SPEC or DIR: an existing directory is a compiled 'kc compile -o DIR', read as it is (compile flags
are refused; a bundle file edited since kc wrote it is refused, exit 2).

+ to create   ~ to change (field by field, with the spec line)   - orphaned   ! conflict (not kc's)
A Job to create says why it will run: new, changed, or 'upstream STAGE changed' (a stage whose
outputs it reads runs too).
exit codes: 0 no differences, 1 differences, 2 invalid spec, 3 cluster error.
Secret data is never printed, only that it changed. docs/cluster.md has the comparison rules.""",
    "apply": """examples:
  kc apply shop.spec                               apply bundle by bundle, waiting on each gate
  kc apply shop.spec --profile prod --timeout 10m  each bundle's gates may take up to 10 minutes
  kc apply words.spec --instance run-42 --param text=hamlet.txt      a run of its own
  kc apply shop.spec --prune                       then delete the orphans (claims only with data: delete)
  kc diff shop.spec; kc apply shop.spec && kc diff shop.spec   the last diff exits 0
  kc apply shop.spec --rerun migrate               delete the stage's (failed) Job first, so it runs again
  kc apply shop.spec --rerun report                a cron stage: run its CronJob's job now and wait for it
  kc apply flow.spec --rerun produce               run produce again, and every stage that reads its outputs
  kc apply flow.spec --rerun produce --only        run produce again alone (its readers keep what they computed)
  kc compile shop.spec -o out/; kc diff out/; kc apply out/   apply exactly what was reviewed
  kc apply out/ --no-wait                          every bundle in order, no waiting on gates (GitOps-style)

SPEC or DIR: an existing directory is a compiled 'kc compile -o DIR', applied as it is (compile
flags are refused; a bundle file edited since kc wrote it is refused, exit 2). Before the first
bundle a server-side dry run of every object stops on an object the API server refuses.
A Job whose content changed runs again (its name changes), and so does every stage that reads its
outputs or results, transitively; 'kc diff' says which Jobs will run and why.
exit codes: 0 applied, 2 invalid spec, edited DIR, an object the server refuses, an unknown
--rerun stage or --only without --rerun, 3 cluster error or a conflict (nothing adopted), 4 a gate
timed out or failed (the message names the gate and the object; a failed Job's hint names --rerun).""",
    "status": """examples:
  kc status shop.spec                              each bundle and step: its gate, why, its pods
  kc status out/                                   an earlier 'kc compile -o out/', not compiled again
  kc status shop.spec -o json | jq .health         healthy, waiting or failed (docs/cluster.md: the shape)
  kc status shop.spec --watch                      redraw on every change (a line per change in a log)
  until kc status shop.spec >/dev/null; do sleep 5; done

Objects are missing (not in the cluster), drifted (fields kc sets differ), or a conflict (not kc's).
exit codes: 0 healthy (every gate passed, nothing missing), 1 a gate waits or an object is missing,
2 invalid spec, 3 cluster error, 4 a gate failed (a failed Job, a pod that cannot run).""",
    "logs": """examples:
  kc logs shop.spec api                            every replica's log, each line prefixed [pod/NAME/CONTAINER]
  kc logs shop.spec api -f --since 10m             follow them all; Ctrl-C stops
  kc logs shop.spec migrate                        a job stage: its Job's pod(s)
  kc logs crdb.spec db --step init                 a later step of the stage (cockroachdb's init Job)
  kc logs out/ api --tail 20                       the last 20 lines of each, from an earlier compile

exit codes: 0 shown, 1 no pods (yet), 2 invalid spec or unknown stage or step, 3 cluster error.""",
}


def _duration(text: str) -> float:
    try:
        return float(units.seconds(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _compile_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", help="the pipeline spec (YAML); - reads it from standard input")
    p.add_argument("--profile", action="append", metavar="A,B", help="overlay these profiles, in order")
    p.add_argument("--instance", metavar="NAME", help="compile an independent copy named NAME")
    p.add_argument(
        "--set",
        action="append",
        metavar="PATH=VALUE",
        help='override a field: STAGE.FIELD=VALUE, workspace.namespace=NS, api.annotations."example.com/a"=b, …',
    )
    p.add_argument(
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="set a run parameter the spec declares in 'params' (the value is text); repeatable",
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


def _spec_or_dir(p: argparse.ArgumentParser) -> None:
    """The positional of a command that also takes a compiled DIR: an existing directory is one."""
    for action in p._actions:
        if action.dest == "spec":
            action.metavar = "SPEC|DIR"
            action.help = "the pipeline spec, or a directory that 'kc compile -o DIR' wrote (exactly its objects)"


def _cluster_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig", metavar="FILE", help="the kubeconfig (default: $KUBECONFIG, ~/.kube/config)")
    p.add_argument("--context", metavar="NAME", help="the kubeconfig context (default: its current context)")


class _Version(argparse.Action):
    """``--version``: the installed version, looked up only when asked (reading the package
    metadata costs more than the rest of a small compile's start)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        from importlib import metadata

        print(f"kc {metadata.version('kc')}")
        parser.exit()


def _columns() -> int:
    """The terminal's width, as ``shutil.get_terminal_size`` finds it; importing shutil (and the
    compression modules it brings) would cost every command more than its parser."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def _compile(p: argparse.ArgumentParser) -> None:
    _compile_flags(p)
    p.add_argument("-o", "--output", metavar="DIR", help="write bundles and kc/plan.json into DIR")
    p.add_argument("--check", action="store_true", help="compare with DIR instead; exit 1 if stale")
    p.add_argument("--teardown", action="store_true", help="without -o: print the teardown plan, not the bundles")


def _diff(p: argparse.ArgumentParser) -> None:
    _compile_flags(p)
    _spec_or_dir(p)
    _cluster_flags(p)
    p.add_argument("--against", metavar="DIR", help="compare with an earlier 'kc compile -o DIR' (offline)")
    p.add_argument("-o", "--output", choices=("text", "json"), default="text", help="text for people, or JSON")


def _apply(p: argparse.ArgumentParser) -> None:
    _compile_flags(p)
    _spec_or_dir(p)
    _cluster_flags(p)
    p.add_argument("--prune", action="store_true", help="then delete orphans (claims only with policy data: delete)")
    p.add_argument(
        "--rerun",
        action="append",
        metavar="STAGE",
        help="run a job, task or cron stage again: delete its Jobs first (cron: make a Job now), and those of the "
        "stages that read its outputs or results; repeatable",
    )
    p.add_argument("--only", action="store_true", help="with --rerun: run only the stages it names again")
    p.add_argument("--no-wait", action="store_true", help="apply every bundle in order without waiting on gates")
    p.add_argument(
        "--timeout", type=_duration, default=300.0, metavar="T", help="how long each bundle's gates may take (5m)"
    )


def _teardown(p: argparse.ArgumentParser) -> None:
    _compile_flags(p)
    _cluster_flags(p)
    p.add_argument("--dry-run", action="store_true", help="print the plan; touch no cluster")
    p.add_argument("--delete-data", action="store_true", help="also delete the claims (and their data)")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--timeout", type=_duration, metavar="T", help="how long each wait may take (the plan's: 300s)")
    p.add_argument("-o", "--output", choices=("text", "json"), default="text", help="with --dry-run: text or JSON")


def _status(p: argparse.ArgumentParser) -> None:
    _compile_flags(p)
    _cluster_flags(p)
    p.add_argument("-o", "--output", choices=("text", "json"), default="text", help="text for people, or JSON")
    p.add_argument(
        "--watch", action="store_true", help="redraw on each change until Ctrl-C (a line per change in a log)"
    )


def _logs(p: argparse.ArgumentParser) -> None:
    _compile_flags(p)
    _cluster_flags(p)
    p.add_argument("stage", help="the stage whose pods to show")
    p.add_argument("-f", "--follow", action="store_true", help="follow every pod's log until Ctrl-C")
    p.add_argument("--step", metavar="S", help="a later step of the stage (e.g. init), not its first")
    p.add_argument("--since", type=_duration, metavar="T", help="only lines of the last T (90s, 10m, 1h)")
    p.add_argument("--tail", type=int, metavar="N", help="only the last N lines of each container")


def _validate(p: argparse.ArgumentParser) -> None:
    _compile_flags(p)
    p.add_argument("more", nargs="*", metavar="SPEC", help="more specs, checked with the same flags")
    p.add_argument("--format", choices=("text", "json"), default="text")


def _graph(p: argparse.ArgumentParser) -> None:
    _compile_flags(p)
    p.add_argument("--format", choices=("mermaid", "dot"), default="mermaid")
    p.add_argument(
        "--network",
        action="store_true",
        help="who may talk to whom, on which port, as the compiled NetworkPolicies allow it",
    )


def _patterns(p: argparse.ArgumentParser) -> None:
    p.add_argument("--spec", metavar="FILE", help="also the patterns this spec's imports add")
    p.add_argument("--allow-outside", action="store_true", help="let the spec's imports leave its directory")


def _explain(p: argparse.ArgumentParser) -> None:
    p.add_argument("pattern")
    _patterns(p)


# Each command: what it does, and its flags.
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None] | None]] = {
    "compile": ("compile a spec into bundle files, or a YAML stream on stdout", _compile),
    "diff": ("compare the compiled plan with the cluster, or with DIR from an earlier compile", _diff),
    "apply": ("server-side apply, bundle by bundle, waiting on each bundle's gates", _apply),
    "teardown": ("run the teardown plan of a spec, or of DIR from an earlier 'kc compile -o DIR'", _teardown),
    "status": ("the live state of a spec's pipeline (or DIR's): each step's gate, its pods, what is missing", _status),
    "logs": ("the logs of a stage's pods, each line prefixed with its pod and container", _logs),
    "validate": ("report every diagnostic of one or more specs; write nothing", _validate),
    "graph": ("print the stage graph and its bundles, one edge per pair of steps labelled with why", _graph),
    "patterns": ("list the known patterns: the built-ins, and a spec's imports with --spec", _patterns),
    "explain": ("show a pattern's parameters, defaults, objects and steps", _explain),
    "schema": ("print the spec's JSON Schema (for editors)", None),
}


def command_in(argv: Sequence[str]) -> str | None:
    """The command ``argv`` runs, when its first word names one."""
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in COMMANDS else None


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line. Given the ``command`` about to run, only its flags are added, since only
    they are parsed (the others' cost a few milliseconds of every run); None adds every command's."""
    # argparse asks for the terminal's width once per option it adds; the width is asked here once.
    formatter = functools.partial(argparse.RawDescriptionHelpFormatter, width=_columns() - 2)
    top = argparse.ArgumentParser(
        prog="kc",
        description="Compile a pipeline spec into ordered Kubernetes bundles with a teardown plan.",
        epilog="exit codes: 0 ok, 1 differences or stale output, 2 invalid spec, 3 cluster error, "
        "4 gate timed out. Run 'kc COMMAND --help' for a command's options and examples.",
        formatter_class=formatter,
    )
    top.add_argument("--version", action=_Version)
    sub = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (help_text, flags) in COMMANDS.items():
        p = sub.add_parser(
            name, help=help_text, description=help_text, epilog=EXAMPLES.get(name), formatter_class=formatter
        )
        if flags is not None and command in (None, name):
            flags(p)
    return top
