"""Loading YAML into plain data plus a map from each path in the document to its position.

libyaml (through PyYAML) composes the node graph in C with a line and column on every node;
building plain data from it here is about twenty times faster than a pure-Python round-trip
loader, which matters at a thousand stages (see docs/performance.md). Aliases stay references
until they are expanded here, so an alias bomb is caught by counting, not by running out of memory.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from typing import Any

import yaml
from kc.compiler import diagnostics as diag
from kc.compiler.diagnostics import Pos
from kc.schemas import record
from kc.schemas.record import Record, param

MAX_BYTES = 4 * 1024 * 1024
MAX_NODES = 500_000
MAX_DEPTH = 200

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_constructor = yaml.constructor.SafeConstructor()  # keeps nothing once a document is made

Path = tuple[str | int, ...]

# Text as it is: strings, and dates and a lone "=", which kc never interprets.
_TEXT_TAGS = {"tag:yaml.org,2002:str", "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value"}
_SCALAR_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("null", "bool", "int", "float")}


# A position as the loader found it: the file, and libyaml's mark of the node. It becomes a Pos
# when asked for; a thousand-stage spec has tens of thousands of positions and asks for a few.
Where = Pos | tuple[str, Any]


_CONTAINERS = frozenset({dict, list})


def copied(value: Any) -> Any:
    """Plain data's own copy: mappings and lists anew; text, numbers and dates, which cannot
    change, shared. ``copy.deepcopy`` takes three times as long for the same result."""
    kind = type(value)
    if kind is dict:
        return {k: copied(v) if type(v) in _CONTAINERS else v for k, v in value.items()}
    if kind is list:
        return [copied(v) if type(v) in _CONTAINERS else v for v in value]
    return value


class Document(Record, kw_only=False):
    """Plain data with positions: ``values[path]`` is where a value starts, ``keys[path]`` its
    key. Read them with ``pos``; a pass may copy entries between paths as they are."""

    file: str
    text: str
    data: Any
    values: dict[Path, Where] = param(factory=dict)
    keys: dict[Path, Where] = param(factory=dict)

    def copy(self) -> Document:
        """A copy a pass may change: its data and positions are its own; the text is shared."""
        return Document(self.file, self.text, copied(self.data), dict(self.values), dict(self.keys))

    @functools.cached_property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    def pos(self, path: Path, key: bool = False) -> Pos:
        """The position of ``path``, or of its nearest ancestor that has one."""
        table = self.keys if key else self.values
        while True:
            found = table.get(path) or self.values.get(path)
            if found is not None:
                return found if isinstance(found, Pos) else _pos(found)
            if not path:
                return Pos(self.file, 1, 1)
            path = path[:-1]


def _pos(where: tuple[str, Any]) -> Pos:
    file, mark = where
    return Pos(file, mark.line + 1, mark.column + 1)


class _Builder:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.count = 0
        self.active: set[int] = set()
        self.errors: list[diag.Diagnostic] = []

    def pos(self, node: yaml.Node) -> Pos:
        mark = node.start_mark
        return Pos(self.doc.file, mark.line + 1, mark.column + 1)

    def build(self, node: yaml.Node, path: Path, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_NODES or depth > MAX_DEPTH:
            what = "nodes" if self.count > MAX_NODES else "levels of nesting"
            limit = MAX_NODES if self.count > MAX_NODES else MAX_DEPTH
            raise diag.CompileError(
                [
                    diag.error(
                        "KC007",
                        self.pos(node),
                        f"the document expands to more than {limit} {what}",
                        "aliases that repeat large anchors multiply; write the data out",
                    )
                ]
            )
        self.doc.values[path] = (self.doc.file, node.start_mark)
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if id(node) in self.active:
            raise diag.CompileError([diag.error("KC004", self.pos(node), "recursive alias")])
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
            assert isinstance(node, yaml.MappingNode)
            return self.mapping(node, path, depth)
        finally:
            self.active.discard(id(node))

    def scalar(self, node: yaml.ScalarNode) -> Any:
        tag = node.tag
        if tag in _TEXT_TAGS:
            return node.value
        if tag not in _SCALAR_TAGS:
            self.errors.append(diag.error("KC102", self.pos(node), f"unsupported YAML tag {tag}"))
            return node.value
        try:
            return _constructor.yaml_constructors[tag](_constructor, node)
        except (ValueError, KeyError, yaml.YAMLError):  # an explicit tag on text it cannot read
            self.errors.append(diag.error("KC102", self.pos(node), f"'{node.value}' is not a valid {tag[18:]}"))
            return node.value

    def mapping(self, node: yaml.MappingNode, path: Path, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                own = self.doc.values[path]
                for merged in self.merge_sources(value_node, path, depth):
                    for k, v in merged.items():
                        out.setdefault(k, v)
                self.doc.values[path] = own
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.errors.append(diag.error("KC102", self.pos(key_node), "mapping keys must be plain text"))
                continue
            key = str(key_node.value)
            if key in seen:
                line = seen[key].start_mark.line + 1
                self.errors.append(
                    diag.error("KC006", self.pos(key_node), f"duplicate key '{key}'", f"first defined at line {line}")
                )
                continue
            seen[key] = key_node
            self.doc.keys[(*path, key)] = (self.doc.file, key_node.start_mark)
            out[key] = self.build(value_node, (*path, key), depth + 1)
        return out

    def merge_sources(self, node: yaml.Node, path: Path, depth: int) -> Iterator[dict[str, Any]]:
        nodes = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for n in nodes:
            value = self.build(n, path, depth + 1)
            if not isinstance(value, dict):
                self.errors.append(diag.error("KC102", self.pos(n), "a merge key ('<<') needs a mapping"))
                continue
            yield value


def _decode(file: str, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise diag.CompileError(
            [
                diag.error(
                    "KC002",
                    Pos(file, line, col),
                    f"invalid UTF-8 byte 0x{raw[exc.start]:02x}",
                    "save the file as UTF-8",
                )
            ]
        ) from None


def _tab_indent(file: str, text: str, line: int) -> diag.Diagnostic | None:
    """libyaml's message for a tab is obscure; name it when the failing line is tab-indented."""
    lines = text.splitlines()
    for number in (line, line - 1):
        if 0 < number <= len(lines):
            body = lines[number - 1]
            indent = body[: len(body) - len(body.lstrip(" \t"))]
            if "\t" in indent:
                return diag.error(
                    "KC005",
                    Pos(file, number, indent.index("\t") + 1),
                    "tab character in indentation",
                    "YAML indents with spaces only",
                )
    return None


def _compose(file: str, raw: bytes, many: bool) -> tuple[str, list[yaml.Node | None]]:
    """The text and its node graphs (one, or one per document); problems become diagnostics."""
    if len(raw) > MAX_BYTES:
        raise diag.CompileError([diag.error("KC007", Pos(file), f"file is {len(raw)} bytes; the limit is {MAX_BYTES}")])
    text = _decode(file, raw).removeprefix("\ufeff")
    try:
        nodes: list[yaml.Node | None] = (
            list(yaml.compose_all(text, Loader=_Loader)) if many else [yaml.compose(text, Loader=_Loader)]
        )
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Pos(file, mark.line + 1, mark.column + 1) if mark else Pos(file, 1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.context_mark and exc.problem:
            problem += f" ({exc.context} at line {exc.context_mark.line + 1})"
        tab = _tab_indent(file, text, pos.line)
        if tab is not None:
            raise diag.CompileError([tab]) from None
        raise diag.CompileError([diag.error("KC004", pos, f"YAML syntax error: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise diag.CompileError([diag.error("KC004", Pos(file, 1, 1), f"YAML error: {exc}")]) from None
    except RecursionError:
        raise diag.CompileError([diag.error("KC007", Pos(file, 1, 1), "the document nests too deeply")]) from None
    return text, nodes


def load_all_file(path: str, display: str | None = None) -> list[Document]:
    """Every document of a multi-document YAML file (Kubernetes manifests), each with positions;
    empty documents are left out."""
    name = display or path
    text, nodes = _compose(name, _read(path, name), many=True)
    docs = []
    for node in nodes:
        if node is None:
            continue
        builder = _Builder(Document(name, text, None))
        doc = record.replace(builder.doc, data=builder.build(node, ()))  # the positions are shared
        diag.raise_if_errors(builder.errors)
        if doc.data is not None:  # an explicit empty document, as a trailing "---" makes
            docs.append(doc)
    return docs


def load_bytes(file: str, raw: bytes) -> Document:
    """Parse one YAML document; every problem becomes a positioned diagnostic."""
    text, (node,) = _compose(file, raw, many=False)
    if node is None:
        raise diag.CompileError(
            [
                diag.error(
                    "KC003",
                    Pos(file, 1, 1),
                    "the spec is empty",
                    "start with 'kc: 1', 'pipeline: NAME' and 'stages:'",
                )
            ]
        )
    builder = _Builder(Document(file, text, None))
    doc = record.replace(builder.doc, data=builder.build(node, ()))  # the positions are shared
    diag.raise_if_errors(builder.errors)
    return doc


# A spec named "-" is read from standard input and named "<stdin>" in positions; its imports are
# relative to the current directory.
STDIN_PATH, STDIN = "-", "<stdin>"
_stdin: dict[int, bytes] = {}  # standard input can be read once: by id of the stream it came from


def _read(path: str, name: str) -> bytes:
    try:
        if path == STDIN_PATH:
            stream = sys.stdin.buffer
            if id(stream) not in _stdin:
                _stdin.clear()
                _stdin[id(stream)] = stream.read(MAX_BYTES + 1)
            return _stdin[id(stream)]
        with open(path, "rb") as f:
            return f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise diag.CompileError([diag.error("KC001", Pos(name), f"cannot read: {exc.strerror}")]) from None


def stdin_text() -> str | None:
    """The text of a spec read from standard input, for the excerpts of its diagnostics; None
    when none was read (or it is not UTF-8)."""
    stream = getattr(sys.stdin, "buffer", None)
    raw = _stdin.get(id(stream))
    try:
        return None if raw is None else raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return None


def load_file(path: str, display: str | None = None) -> Document:
    """The YAML document in ``path``; ``-`` is standard input, named ``<stdin>``."""
    name = display or (STDIN if path == STDIN_PATH else path)
    return load_bytes(name, _read(path, name))
