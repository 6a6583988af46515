"""Diagnostics: an error is data (code, position, message, hint), rendered like a compiler's."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Literal

from kc.schemas.record import Record

Severity = Literal["error", "warning"]

# Stable codes: tests and scripts match these, never the wording.
CODES: dict[str, str] = {
    "KC001": "unreadable-file",
    "KC002": "invalid-utf8",
    "KC003": "empty-spec",
    "KC004": "yaml-syntax",
    "KC005": "tab-indent",
    "KC006": "duplicate-key",
    "KC007": "document-too-large",
    "KC101": "unknown-field",
    "KC102": "wrong-type",
    "KC103": "out-of-range",
    "KC104": "missing-field",
    "KC105": "invalid-name",
    "KC106": "invalid-value",
    "KC107": "invalid-schedule",
    "KC108": "invalid-image",
    "KC109": "invalid-manifest",
    "KC201": "unknown-pattern",
    "KC202": "unknown-dependency",
    "KC203": "self-dependency",
    "KC204": "dependency-cycle",
    "KC205": "unknown-profile",
    "KC206": "invalid-set",
    "KC207": "import-outside",
    "KC208": "import-not-found",
    "KC209": "duplicate-object",
    "KC210": "unknown-stage",
    "KC211": "duplicate-stage",
    "KC212": "unknown-param",
    "KC213": "finally-dependency",
    "KC214": "namespace-of-another-instance",
    "KC301": "unknown-reference",
    "KC302": "unknown-reference-field",
    "KC303": "no-data-claim",
    "KC401": "policy-max-replicas",
    "KC402": "policy-max-parallelism",
    "KC403": "policy-image-tag",
    "KC404": "policy-privileged",
    "KC405": "policy-host-path",
    "KC406": "policy-require-health",
    "KC407": "policy-loosened",
    "KC408": "insecure-mode",
    "KC409": "policy-data",
    "KC410": "kubernetes-limit",
    "KC411": "policy-root",
    "KC412": "policy-unconfined",
    "KC413": "policy-volume-type",
    "KC414": "quota-too-small",
    "KC415": "policy-egress",
    "KC501": "pattern-invalid",
    "KC502": "template-error",
    "KC503": "pattern-warning",
    "KC504": "unknown-image-port",
    "KC601": "output-not-owned",
    "KC603": "plan-unreadable",
    "KC604": "output-unwritable",
    "KC605": "plan-of-another-instance",
}


class Pos(Record, kw_only=False):
    """A position in a source file; line and column count from 1 (0 means unknown)."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.col}"


class Note(Record, kw_only=False):
    """A second place that explains a diagnostic: the other field of a conflict."""

    pos: Pos
    message: str


class Diagnostic(Record, kw_only=False):
    code: str
    pos: Pos
    message: str
    hint: str = ""
    severity: Severity = "error"
    notes: tuple[Note, ...] = ()

    @property
    def name(self) -> str:
        return CODES[self.code]

    def as_dict(self) -> dict[str, object]:
        return {
            "severity": self.severity,
            "code": self.code,
            "name": self.name,
            "file": self.pos.file,
            "line": self.pos.line,
            "column": self.pos.col,
            "message": self.message,
            "hint": self.hint,
            "notes": [
                {"file": n.pos.file, "line": n.pos.line, "column": n.pos.col, "message": n.message} for n in self.notes
            ],
        }


class CompileError(Exception):
    """Raised at a pass boundary when a pass found errors; carries all of them. ``pending``
    names the checks that did not run because they need these errors fixed first."""

    def __init__(self, diagnostics: Iterable[Diagnostic], pending: str = "") -> None:
        self.diagnostics = tuple(diagnostics)
        self.pending = pending
        super().__init__("; ".join(f"{d.pos}: {d.message}" for d in self.diagnostics))


def error(code: str, pos: Pos, message: str, hint: str = "", notes: tuple[Note, ...] = ()) -> Diagnostic:
    return Diagnostic(code, pos, message, hint, "error", notes)


def warning(code: str, pos: Pos, message: str, hint: str = "") -> Diagnostic:
    return Diagnostic(code, pos, message, hint, "warning")


def raise_if_errors(diagnostics: Iterable[Diagnostic]) -> None:
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors:
        raise CompileError(errors)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A "did you mean" hint for a misspelt name, or "" when nothing is close."""
    import difflib  # only when there is an error to help with

    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    return (d.pos.file, d.pos.line, d.pos.col, d.code)


_NOTE_COLOR = "\033[1;36mnote\033[0m"


def render_text(diagnostics: Iterable[Diagnostic], sources: Mapping[str, str], color: bool = False) -> str:
    """file:line:col: severity: message [code], then the source line and a caret."""
    out: list[str] = []
    for d in sorted(diagnostics, key=sort_key):
        label: str = d.severity
        if color:
            label = ("\033[1;31m" if d.severity == "error" else "\033[1;35m") + label + "\033[0m"
        first, _, rest = d.message.partition("\n")
        out.append(f"{d.pos}: {label}: {first} [{d.code}]" + (f"\n{rest}" if rest else ""))
        out.extend(_excerpt(d.pos, sources))
        if d.hint:
            out.append(f"      = hint: {d.hint}")
        for note in d.notes:
            out.append(f"{note.pos}: {_NOTE_COLOR if color else 'note'}: {note.message}")
            out.extend(_excerpt(note.pos, sources))
    return "\n".join(out) + ("\n" if out else "")


def _excerpt(pos: Pos, sources: Mapping[str, str]) -> list[str]:
    """The source line of ``pos`` and a caret under its column, when the file is at hand."""
    text = sources.get(pos.file)
    if text is None or not pos.line:
        return []
    lines = text.splitlines()
    if pos.line > len(lines):
        return []
    gutter = f"{pos.line:>5} | "
    caret = " " * (len(gutter) - 2) + "| " + " " * max(pos.col - 1, 0) + "^"
    return [gutter + lines[pos.line - 1].replace("\t", " "), caret]


def render_json(diagnostics: Iterable[Diagnostic], pending: str = "") -> str:
    """``pending``: the checks that did not run (``[]`` when every check ran)."""
    items = [d.as_dict() for d in sorted(diagnostics, key=sort_key)]
    later = pending.split(", ") if pending else []
    return json.dumps({"diagnostics": items, "pending": later}, indent=2) + "\n"
