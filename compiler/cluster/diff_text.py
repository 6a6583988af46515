"""A diff report as text for people (colour only on a terminal) or JSON for machines. Secret
data never appears in either: the comparison already dropped the values (``redacted``)."""

from __future__ import annotations

import json
from typing import Any

from kc.cluster import diff, essence, runs
from kc.compiler import contract

_COLOR = {"+": "32", "~": "33", "-": "31", "!": "1;35", "note": "2"}


def _paint(text: str, code: str, color: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


def change_text(change: essence.Change) -> str:
    if change.redacted:
        return f"{change.text}: {change.op} (value hidden)"
    if change.op == "added":
        return f"{change.text}: added {essence.value_text(change.after)}"
    if change.op == "removed":
        return f"{change.text}: removed (was {essence.value_text(change.before)})"
    return f"{change.text}: {essence.value_text(change.before)} -> {essence.value_text(change.after)}"


def summary(report: diff.Report) -> str:
    counts = [
        f"{len(report.create)} to create",
        f"{len(report.change)} to change",
        f"{len(report.orphaned)} orphaned",
        f"{len(report.conflicts)} conflict{'' if len(report.conflicts) == 1 else 's'}",
        f"{len(report.unchanged)} unchanged",
    ]
    return ", ".join(counts) + f" (against {report.target})"


def text(report: diff.Report, color: bool = False) -> str:
    lines = []

    def head(symbol: str, entry: diff.Entry, tail: str) -> None:
        lines.append(_paint(f"{symbol} {entry.ref.text}", _COLOR[symbol], color) + tail)

    for entry in report.create:
        tail = (f"  ({entry.ref.source})" if entry.ref.source else "") + (f"  {entry.run.text}" if entry.run else "")
        head("+", entry, tail)
    for entry in report.change:
        head("~", entry, f"  ({entry.ref.source})" if entry.ref.source else "")
        lines.extend(f"    {change_text(c)}" for c in entry.changes)
        if entry.note:
            lines.append(f"    {entry.note}")
    for entry in report.orphaned:
        head("-", entry, f"  orphaned: {entry.note}")
    for entry in report.conflicts:
        head("!", entry, f"  conflict: {entry.note}; kc will not adopt it")
    lines.append(summary(report))
    return "\n".join(lines) + "\n"


def _ref(ref: contract.Ref) -> dict[str, Any]:
    return {
        "apiVersion": ref.api_version,
        "kind": ref.kind,
        "namespace": ref.namespace,
        "name": ref.name,
        "source": ref.source,
    }


def _field(change: essence.Change, source: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"path": change.text, "op": change.op}
    if change.redacted:
        out["redacted"] = True
    else:
        if change.before is not essence.ABSENT:
            out["before"] = change.before
        if change.after is not essence.ABSENT:
            out["after"] = change.after
    out["source"] = source
    return out


def _run(run: runs.Run) -> dict[str, Any]:
    return {"stage": run.stage, "reason": run.reason, "upstream": list(run.upstream), "text": run.text}


def as_dict(report: diff.Report) -> dict[str, Any]:
    return {
        "target": report.target,
        "differences": report.differences,
        "summary": {
            "create": len(report.create),
            "change": len(report.change),
            "orphaned": len(report.orphaned),
            "conflicts": len(report.conflicts),
            "unchanged": len(report.unchanged),
        },
        "create": [{**_ref(e.ref), **({"run": _run(e.run)} if e.run else {})} for e in report.create],
        "change": [
            {**_ref(e.ref), "fields": [_field(c, e.ref.source) for c in e.changes], "note": e.note or None}
            for e in report.change
        ],
        "orphaned": [{**_ref(e.ref), "note": e.note} for e in report.orphaned],
        "conflicts": [{**_ref(e.ref), "reason": e.note} for e in report.conflicts],
        "unchanged": [_ref(e.ref) for e in report.unchanged],
        "notes": list(report.notes),
    }


def json_text(report: diff.Report) -> str:
    return json.dumps(as_dict(report), indent=2, ensure_ascii=False) + "\n"
