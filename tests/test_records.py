"""The plain check (kc.schemas.check) against pydantic (kc.schemas.models) over the same records:
whatever the plain check accepts, pydantic accepts as the very same record; whatever pydantic
refuses, the plain check leaves to it. A compile of a valid spec never imports pydantic."""

from __future__ import annotations

import os
import subprocess
import sys
import types
import typing
import zoneinfo
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kc.compiler import ir, source
from kc.compiler import passes as kc_passes
from kc.compiler.passes import validate
from kc.compiler.patterns import registry
from kc.schemas import check, models, record, shape, stage, values
from kc.schemas import pattern as pattern_schema
from kc.schemas import spec as spec_schema

EXAMPLES = sorted((ROOT / "examples").glob("*/pipeline.spec"))


def both(cls: type, data: Any) -> tuple[Any, Any]:
    """(plain result or None when unsure, pydantic result or None when refused)."""
    try:
        plain = check.build(cls, data)
    except check.Unsure:
        plain = None
    try:
        checked = models.validate(cls, data)
    except check.Refused:
        checked = None
    return plain, checked


def agree(cls: type, data: Any) -> Any:
    plain, checked = both(cls, data)
    if plain is not None:
        assert checked == plain, f"{cls.__name__}: the plain check and pydantic disagree on {data!r}"
    if checked is None:
        assert plain is None, f"{cls.__name__}: the plain check accepts what pydantic refuses: {data!r}"
    return plain


def _drafted(path: Path) -> ir.Draft:
    src = kc_passes.frontend.read(source.load_file(str(path)), ir.Options())
    for source_pass in kc_passes.SOURCE_PASSES:
        src = source_pass(src)
    draft = validate.validate(src)
    for check_pass in kc_passes.CHECK_PASSES:
        if check_pass.__name__ == "stages":
            break
        draft = check_pass(draft)
    return draft


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_every_example_passes_the_plain_check_as_pydantic_would(path: Path) -> None:
    draft = _drafted(path)
    assert agree(spec_schema.Spec, draft.doc.data) is not None, "the plain check should vouch for an example"
    for name, raw in draft.raw_stages.items():
        pattern = draft.library.get(str(raw.get("pattern")))
        assert pattern is not None
        data = {k: v for k, v in raw.items() if k not in pattern.manifest.omit}
        assert agree(pattern.record, data) is not None, f"stage {name}"


def test_every_built_in_manifest_passes_the_plain_check_as_pydantic_would() -> None:
    for name, folder in registry.builtins().items():
        doc = source.load_file(str(Path(folder) / registry.MANIFEST))
        assert agree(pattern_schema.PatternManifest, doc.data) is not None, name


@pytest.mark.parametrize(
    ("record", "data"),
    [
        (spec_schema.Quota, {"pods": "3"}),  # pydantic reads "3" as 3
        (spec_schema.Policy, {"max-replicas": 3.0}),
    ],
)
def test_what_pydantic_would_coerce_is_left_to_it(record: type, data: Any) -> None:
    plain, checked = both(record, data)
    assert plain is None
    assert checked is not None


@pytest.mark.parametrize(
    ("record", "data"),
    [
        (spec_schema.Spec, {"kc": True, "pipeline": "p", "stages": {}}),  # lax pydantic: true is 1
        (spec_schema.Quota, {"pods": True}),
        (spec_schema.Policy, {"max-replicas": False}),
        (spec_schema.Workspace, {"create": "yes"}),  # and "yes" is true
        (spec_schema.Policy, {"allow-root": 1}),
        (stage.ContainerStage, {"pattern": "p", "image": "a:1", "port": True}),
    ],
)
def test_booleans_are_not_numbers_nor_numbers_booleans(record: type, data: Any) -> None:
    assert both(record, data) == (None, None)


def test_text_with_a_newline_is_left_to_pydantic() -> None:
    # Python's "$" also matches before a final newline; pydantic's regular expressions do not.
    assert both(spec_schema.Workspace, {"namespace": "ok\n"}) == (None, None)


def test_a_record_and_its_model_have_the_same_fields_and_spellings() -> None:
    for cls in (spec_schema.Spec, spec_schema.Workspace, pattern_schema.PatternManifest):
        model = models.model_of(cls)
        spellings = [(f.name, f.alias) for f in shape.fields(cls)]
        assert [(n, f.alias) for n, f in model.model_fields.items()] == spellings


# --- generated input ---------------------------------------------------------------------------

_TEXT = st.sampled_from(
    ["a", "web", "a-b", "http", "A", "", "/data", "-x", "1Gi", "500m", "2", "nginx:1.27", "x y", "*/5 * * * *", "30m"]
)
_ANY = st.one_of(st.none(), st.booleans(), st.integers(-3, 70000), st.floats(allow_nan=False), _TEXT)


def _mostly(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Values of the right type three times in four, anything else the fourth."""
    return st.one_of(good, good, good, _ANY)


def _values(tp: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of ``tp``, right and wrong, for the two checks to judge."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return _values(args[0], depth)
    if record.is_record(tp):
        return _mappings(tp, depth + 1) if depth < 3 else st.just({})
    if origin is typing.Literal:
        return _mostly(st.sampled_from(args))
    if origin is typing.Union or isinstance(tp, types.UnionType):
        return st.one_of(*(_values(a, depth) for a in args))
    if origin is list:
        return _mostly(st.lists(_values(args[0], depth + 1), max_size=3))
    if origin is dict:
        return _mostly(st.dictionaries(_TEXT, _values(args[1], depth + 1), max_size=3))
    simple = {str: _TEXT, int: st.integers(-1, 70000), bool: st.booleans(), float: st.floats(allow_nan=False)}
    if tp is type(None):
        return st.none()
    return _mostly(simple[tp]) if tp in simple else _ANY


def _mappings(record: type, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """Mappings for ``record``: its required fields mostly there, others now and then, and now
    and then a key it does not have."""
    fields = shape.fields(record)
    required = {f.alias: _values(f.type, depth) for f in fields if f.required}
    optional = {f.alias: _values(f.type, depth) for f in fields if not f.required}
    complete = st.fixed_dictionaries(required, optional=optional)
    return st.one_of(complete, complete, complete, st.fixed_dictionaries({}, optional={**required, "unknown": _ANY}))


@pytest.mark.parametrize("pattern", ["service", "cron", "postgres", "task", "config"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_generated_stages_are_judged_alike(pattern: str, data: st.DataObject) -> None:
    record = registry.load(registry.builtins()[pattern]).record
    value = data.draw(_mappings(record))
    value["pattern"] = pattern
    agree(record, value)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(value=_mappings(spec_schema.Workspace))
def test_generated_workspaces_are_judged_alike(value: dict[str, Any]) -> None:
    agree(spec_schema.Workspace, value)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(value=_mappings(spec_schema.Profile))
def test_generated_profiles_and_their_parameters_are_judged_alike(value: dict[str, Any]) -> None:
    agree(spec_schema.Profile, value)


def test_compiling_a_valid_spec_imports_neither_pydantic_nor_the_models(tmp_path: Path) -> None:
    spec, out = str(ROOT / "examples/shop/pipeline.spec"), str(tmp_path / "out")
    probe = (
        "import sys\nfrom kc.compiler import cli\n"
        f"code = cli.main(['compile', {spec!r}, '-o', {out!r}])\n"
        "print(code, sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic' or m == 'kc.schemas.models'))\n"
    )
    printed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert printed.split() == ["0", "[]"]


def test_a_time_zone_found_on_disk_is_one_zoneinfo_lists(tmp_path: Path) -> None:
    # A database of its own, with what available_timezones leaves out: a linked folder, right/,
    # posix/, posixrules, a file that is no zone; and on this machine's own database too.
    zone = b"TZif" + bytes(40)
    for name, body in {"Zone/A": zone, "right/A": zone, "posix/A": zone, "posixrules": zone, "notes": b"text"}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(body)
    (tmp_path / "Linked").symlink_to(tmp_path / "Zone")
    names = {"Zone/A", "Linked/A", "right/A", "posix/A", "posixrules", "notes", "Zone", "Zone//A", "Zone/../Zone/A", ""}
    try:
        for roots in ([str(tmp_path)], None):
            zoneinfo.reset_tzpath(roots)
            values._on_disk.cache_clear()
            listed = zoneinfo.available_timezones()
            on_disk = set()
            for root in zoneinfo.TZPATH:
                for folder, _, files in os.walk(root):
                    on_disk.update(os.path.relpath(os.path.join(folder, f), root) for f in files)
            for name in sorted(names | on_disk):
                assert values._on_disk(name) == (name in listed and name != "localtime"), name
    finally:
        zoneinfo.reset_tzpath()
        values._on_disk.cache_clear()


def test_a_changed_copy_works_out_its_cached_properties_again() -> None:
    doc = source.Document("a.spec", "a: 1\n", {"a": 1})
    assert doc.lines == ["a: 1"]
    changed = record.replace(doc, text="a: 1\nb: 2\n")
    assert changed.lines == ["a: 1", "b: 2"]
    assert record.replace(doc, data={"a": 2}).data == {"a": 2}
    assert doc.data == {"a": 1}


class _Point(record.Record, kw_only=False):
    x: int
    y: int = 0
    tags: list[str] = record.param(factory=list)


def test_a_record_takes_its_fields_in_order_then_by_name() -> None:
    assert _Point(1).__dict__ == {"x": 1, "y": 0, "tags": []}
    assert _Point(1, tags=["a"]).__dict__ == {"x": 1, "y": 0, "tags": ["a"]}
    assert _Point(1, 2, ["b"]) == _Point(x=1, y=2, tags=["b"])
    assert _Point(1).tags is not _Point(1).tags  # a factory's value is each record's own
    for args, kwargs, message in [
        ((1,), {"x": 2}, "'x' given twice"),
        ((1, 2, [], 4), {}, "takes its fields by name"),
        ((1,), {"z": 3}, "unknown field 'z'"),
        ((), {"y": 3}, "missing field 'x'"),
    ]:
        with pytest.raises(TypeError, match=message):
            _Point(*args, **kwargs)
