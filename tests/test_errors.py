"""Bad input: every spec in tests/errors/ fails with the diagnostics its ``# expect: CODE LINE``
comments name, through the real command line, with exit 2 and no traceback."""

from __future__ import annotations

import json
import re
import textwrap
import time
from pathlib import Path

import pytest
from conftest import codes, errors_of
from kc.compiler import cli, commands

CORPUS = Path(__file__).parent / "errors"
EXPECT = re.compile(r"^# expect: (KC\d{3}) (\d+)$", re.MULTILINE)


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("spec", sorted(CORPUS.glob("*.spec")), ids=lambda p: p.stem)
def test_corpus(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expected = {(code, int(line)) for code, line in EXPECT.findall(spec.read_text())}
    assert expected, f"{spec.name} has no '# expect:' line"
    code, out, err = run_cli(["validate", str(spec), "--format", "json"], capsys)
    assert code == commands.EXIT_INVALID
    got = json.loads(out)["diagnostics"]
    found = {(d["code"], d["line"]) for d in got}
    assert expected <= found, f"expected {sorted(expected)}, got {sorted(found)}"
    assert all(d["file"] == str(spec) for d in got if d["code"] not in ("KC205", "KC206"))
    code, out, err = run_cli(["compile", str(spec)], capsys)
    assert code == commands.EXIT_INVALID and out == ""
    assert "Traceback" not in err
    for want_code, line in expected:
        assert re.search(rf"^{re.escape(str(spec))}:{line}:\d+: error: .*\[{want_code}\]$", err, re.MULTILINE), err


def write(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "pipeline.spec"
    path.write_bytes(data)
    return str(path)


def test_invalid_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write(tmp_path, b"kc: 1\npipeline: caf\xe9\n")
    code, _, err = run_cli(["compile", spec], capsys)
    assert code == 2 and f"{spec}:2:14: error: invalid UTF-8" in err


def test_binary_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write(tmp_path, bytes(range(256)))
    code, _, err = run_cli(["compile", spec], capsys)
    assert code == 2 and "[KC002]" in err


def test_alias_bomb_is_bounded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    spec = write(tmp_path, ("\n".join(lines) + "\nkc: 1\n").encode())
    started = time.monotonic()
    code, _, err = run_cli(["compile", spec], capsys)
    assert code == 2 and "[KC007]" in err
    assert time.monotonic() - started < 10


def test_deep_nesting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write(tmp_path, b"kc: " + b"[" * 5000 + b"]" * 5000 + b"\n")
    code, _, err = run_cli(["compile", spec], capsys)
    assert code == 2 and ("[KC007]" in err or "nesting depth" in err)


def test_oversized_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write(tmp_path, b"kc: 1\n" + b"# padding\n" * 500_000)
    code, _, err = run_cli(["compile", spec], capsys)
    assert code == 2 and "[KC007]" in err and "limit" in err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["compile", str(tmp_path / "nope.spec")], capsys)
    assert code == 2 and "[KC001]" in err


SIMPLE = """\
    kc: 1
    pipeline: shop
    stages:
      api:
        pattern: service
        image: shop/api:1.0.0
    profiles:
      prod: {stages: {api: {replicas: 3}}}
    """


def test_unknown_profile(tmp_path: Path) -> None:
    found = errors_of(SIMPLE, tmp_path, profiles=("prdo",))
    assert codes(found) == ["KC205"] and found[0].hint == "did you mean 'prod'?"


def test_profile_naming_unknown_stage(tmp_path: Path) -> None:
    text = SIMPLE.replace("{api: {replicas: 3}}", "{apii: {replicas: 3}}")
    found = errors_of(text, tmp_path, profiles=("prod",))
    assert codes(found) == ["KC210"] and found[0].pos.line == 8


def test_set_of_unknown_field(tmp_path: Path) -> None:
    found = errors_of(SIMPLE, tmp_path, sets=(("api.replica", "3"),))
    assert codes(found) == ["KC101"] and found[0].pos.file == "--set api.replica=3"


def test_set_of_unknown_stage(tmp_path: Path) -> None:
    assert codes(errors_of(SIMPLE, tmp_path, sets=(("web.replicas", "3"),))) == ["KC206"]


def test_set_value_out_of_range(tmp_path: Path) -> None:
    assert codes(errors_of(SIMPLE, tmp_path, sets=(("api.replicas", "50"),))) == ["KC401"]


def test_invalid_instance(tmp_path: Path) -> None:
    assert codes(errors_of(SIMPLE, tmp_path, instance="Not Valid")) == ["KC105"]


def test_policy_file_cannot_be_loosened(tmp_path: Path) -> None:
    org = tmp_path / "org.yaml"
    org.write_text("policy:\n  max-replicas: 5\n  allow-latest-tag: false\n")
    text = SIMPLE + "policy: {max-replicas: 8, allow-latest-tag: true}\n"
    found = errors_of(text, tmp_path, policy_file=str(org))
    assert codes(found) == ["KC407", "KC407"]


def test_policy_file_applies_when_spec_is_silent(tmp_path: Path) -> None:
    org = tmp_path / "org.yaml"
    org.write_text("max-replicas: 2\n")
    found = errors_of(SIMPLE, tmp_path, policy_file=str(org), profiles=("prod",))
    assert codes(found) == ["KC401"] and found[0].pos.line == 8


def test_all_errors_of_a_pass_together(tmp_path: Path) -> None:
    text = """\
        kc: 1
        pipeline: shop
        stages:
          a: {pattern: service, image: "a:1", replica: 2}
          b: {pattern: cron, image: "b:1", schedule: "* * *"}
          c: {pattern: sevice, image: "c:1"}
        """
    assert codes(errors_of(text, tmp_path)) == ["KC101", "KC107", "KC201"]


def test_top_level_and_stage_errors_together(tmp_path: Path) -> None:
    text = """\
        kc: 1
        pipeline: shop
        workspce: {}
        stages:
          a: {pattern: service, image: "a:1", replica: 2}
          b: {pattern: sevice, image: "b:1"}
        """
    found = errors_of(text, tmp_path)
    assert sorted((d.code, d.pos.line) for d in found) == [("KC101", 3), ("KC101", 5), ("KC201", 6)]


@pytest.mark.parametrize(
    "stage,code",
    [
        ('{pattern: worker, image: "a:1.0.0", enabled: "false"}', "KC102"),
        ('{pattern: worker, image: "a:1.0.0", replicas: !!int many}', "KC102"),
        ('{pattern: worker, image: "a:1.0.0", patch: {Deployment: {spec: 5}}}', "KC106"),
        ('{pattern: worker, image: "a:1.0.0", patch: {Deployment: {metadata: {name: null}}}}', "KC106"),
        ('{pattern: service, image: "a:1.0.0", port: 80, ports: {http: 8080}}', "KC106"),
        ('{pattern: service, image: "a:1.0.0", ports: {"80": 80}}', "KC106"),
    ],
)
def test_hostile_stage_values(stage: str, code: str, tmp_path: Path) -> None:
    found = errors_of(f"kc: 1\npipeline: shop\nstages:\n  api: {stage}\n", tmp_path)
    assert [(d.code, d.pos.line) for d in found] == [(code, 4)]


@pytest.mark.parametrize("name", ["workspace", "pipeline", "params"])
def test_reserved_stage_names(name: str, tmp_path: Path) -> None:
    assert codes(errors_of(f"kc: 1\npipeline: shop\nstages:\n  {name}: worker a:1.0.0\n", tmp_path)) == ["KC105"]


def test_step_names_cannot_clash_with_stages(tmp_path: Path) -> None:
    text = "kc: 1\npipeline: shop\nstages:\n  db: {pattern: cockroachdb}\n  db-init: {pattern: volume}\n"
    assert codes(errors_of(text, tmp_path)) == ["KC211"]


def test_set_through_a_value_that_is_not_a_mapping(tmp_path: Path) -> None:
    text = 'kc: 1\npipeline: shop\nstages:\n  api: {pattern: job, image: "a:1.0.0", args: [x]}\n'
    found = errors_of(text, tmp_path, sets=(("api.args.0", "y"),))
    assert codes(found) == ["KC206"] and "'api.args' is not a mapping" in found[0].message


def test_pipeline_names_start_with_a_letter(tmp_path: Path) -> None:
    # Every object name starts with it, and Service names must start with a letter.
    assert codes(errors_of("kc: 1\npipeline: 1shop\nstages:\n  a: worker a:1.0.0\n", tmp_path)) == ["KC105"]


def test_check_needs_an_output_directory(capsys: pytest.CaptureFixture[str]) -> None:
    spec = str(CORPUS.parent.parent / "examples" / "shop" / "pipeline.spec")
    code, _, err = run_cli(["compile", spec, "--check"], capsys)
    assert code == commands.EXIT_INVALID and "--check needs -o DIR" in err


def test_reference_errors_come_with_the_stage_errors(tmp_path: Path) -> None:
    text = """\
        kc: 1
        pipeline: shop
        stages:
          api: {pattern: service, port: 8080}
          job:
            pattern: job
            image: busybox:1.36.1
            env: {X: "${nosuch.host}", Y: "${api.nofield}", Z: "${api.host}"}
        """
    found = errors_of(text, tmp_path)
    assert codes(found) == ["KC104", "KC301", "KC302"]  # ${api.host} waits until api is whole


def test_validate_says_which_checks_did_not_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "pipeline.spec"
    spec.write_text("kc: 1\npipeline: shop\nstages:\n  api: {pattern: service, port: 8080}\n")
    assert cli.main(["validate", str(spec)]) == 2
    assert "note: more checks (expand, naming, labels" in capsys.readouterr().err
    assert cli.main(["validate", str(spec), "--format", "json"]) == 2
    assert "references" in json.loads(capsys.readouterr().out)["pending"]
    spec.write_text("kc: 1\npipeline: shop\nstages:\n  api: {pattern: service, image: 'a:1.0.0', port: 8080}\n")
    assert cli.main(["validate", str(spec), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"diagnostics": [], "pending": []}


def test_every_code_is_documented_with_its_name() -> None:
    from kc.compiler import diagnostics as diag

    table = (CORPUS.parent.parent / "docs" / "diagnostics.md").read_text()
    documented = dict(re.findall(r"^\| (KC\d{3}) \| ([a-z0-9-]+) \|", table, re.MULTILINE))
    assert documented == diag.CODES


def test_param_errors_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    spec = str(CORPUS.parent / "params" / "pipeline.spec")
    code, out, _ = run_cli(["validate", spec, "--format", "json", "--param", "greting=hi"], capsys)
    (found,) = json.loads(out)["diagnostics"]
    assert code == 2 and (found["code"], found["name"], found["file"]) == (
        "KC212",
        "unknown-param",
        "--param greting=hi",
    )


TWO_FIELDS = """\
    kc: 1
    pipeline: shop
    stages:
      api:
        pattern: service
        image: shop/api:1.0.0
        port: 8080
        replicas: 2
        ports: {metrics: 9090, http: 8081}
    profiles:
      elastic: {stages: {api: {autoscale: {max: 5}}}}
    """


def test_two_fields_point_at_the_later_one_with_the_other_as_a_note(tmp_path: Path) -> None:
    (found,) = errors_of(TWO_FIELDS, tmp_path)
    assert (found.code, found.pos.line, found.pos.col) == ("KC106", 9, 28)  # ports.http
    assert [(n.pos.line, n.pos.col, n.message) for n in found.notes] == [(7, 5, "'port' is given here")]


def test_a_conflict_a_profile_makes_points_at_the_profile(tmp_path: Path) -> None:
    text = TWO_FIELDS.replace("        ports: {metrics: 9090, http: 8081}\n", "")
    (found,) = errors_of(text, tmp_path, profiles=("elastic",))
    assert (found.code, found.pos.line) == ("KC106", 10)  # autoscale, in the profile
    assert [(n.pos.line, n.message) for n in found.notes] == [(8, "'replicas' is given here")]


def test_a_note_is_printed_with_its_line_and_in_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write(tmp_path, textwrap.dedent(TWO_FIELDS).encode())
    code, _, err = run_cli(["compile", spec], capsys)
    assert code == 2
    assert f"{spec}:9:28: error: 'port' and 'ports.http' both name the http port" in err
    assert f"{spec}:7:5: note: 'port' is given here\n    7 |     port: 8080\n      |     ^\n" in err
    code, out, _ = run_cli(["validate", spec, "--format", "json"], capsys)
    (found,) = json.loads(out)["diagnostics"]
    assert found["notes"] == [{"file": spec, "line": 7, "column": 5, "message": "'port' is given here"}]


def test_a_health_path_without_a_port_points_at_health(tmp_path: Path) -> None:
    text = "kc: 1\npipeline: shop\nstages:\n  w:\n    pattern: worker\n    image: a:1\n    health: /healthz\n"
    (found,) = errors_of(text, tmp_path)
    assert (found.code, found.pos.line) == ("KC106", 7)
