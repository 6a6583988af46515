"""The command line: exit codes, the output directory's rules, the stdout stream, quiet success."""

from __future__ import annotations

import errno
import gc
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from kc.compiler import cli, commands, output, passes

SHOP = str(ROOT / "examples" / "shop" / "pipeline.spec")


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_compile_to_directory_is_quiet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["compile", SHOP, "-o", str(tmp_path / "out")], capsys)
    assert (code, out, err) == (0, "", "")
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == [
        "00-workspace.yaml",
        "01-db-creds.yaml",
        "02-db.yaml",
        "03-migrate.yaml",
        "04-api.yaml",
        "05-report.yaml",
        "kc",
    ]


def test_stream_without_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["compile", SHOP], capsys)
    assert code == 0
    headers = [line for line in out.splitlines() if line.startswith("# bundle")]
    assert headers[0] == "# bundle 00: workspace (gate: none)"
    assert headers[3] == "# bundle 03: migrate (gate: migrate: job complete)"
    kinds = [d["kind"] for d in yaml.safe_load_all(out) if d]
    assert kinds[0] == "Namespace" and kinds[-1] == "CronJob"


def test_refuses_foreign_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    code, _, err = run(["compile", SHOP, "-o", str(tmp_path)], capsys)
    assert code == 2 and "[KC601]" in err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_failed_compile_leaves_output_untouched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert run(["compile", SHOP, "-o", str(out)], capsys)[0] == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    bad = tmp_path / "bad.spec"
    bad.write_text(Path(SHOP).read_text().replace("replicas: 2", "replicas: two"))
    code, _, err = run(["compile", str(bad), "-o", str(out)], capsys)
    assert code == 2 and "[KC102]" in err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_output_that_fails_while_written_leaves_the_old_files(tmp_path: Path) -> None:
    """The files are written one at a time; until the last is, none replaces an old one."""
    out = tmp_path / "out"
    output.write(str(out), [("01-a.yaml", "a: 1\n"), ("kc/plan.json", "{}\n")])
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def failing() -> Iterator[tuple[str, str]]:
        yield "01-a.yaml", "a: 2\n"
        yield "02-b.yaml", "b: 2\n"
        raise MemoryError

    with pytest.raises(MemoryError):
        output.write(str(out), failing())
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    output.write(str(out), [("02-b.yaml", "b: 2\n"), ("kc/plan.json", "{}\n")])
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "02-b.yaml",
        "kc/plan.json",
    ]


def test_output_through_a_file_is_an_error_not_a_crash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("not a directory")
    out = tmp_path / "file" / "out"
    code, stdout, err = run(["compile", SHOP, "-o", str(out)], capsys)
    assert (code, stdout) == (2, "")
    assert err.startswith(f"{out}: error: cannot write the output directory: Not a directory [KC604]")
    assert "a part of the path is a file" in err and "internal error" not in err


@pytest.mark.parametrize("number", [errno.EACCES, errno.EPERM, errno.EROFS])
def test_a_read_only_output_is_an_error_not_a_crash(
    number: int, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(path: str, *args: object, **kwargs: object) -> None:
        raise OSError(number, os.strerror(number), path)

    monkeypatch.setattr(os, "makedirs", refused)  # as a read-only or immutable parent answers, even to root
    out = tmp_path / "out"
    code, _, err = run(["compile", SHOP, "-o", str(out)], capsys)
    assert code == 2 and "[KC604]" in err and "read-only or immutable" in err and not out.exists()


def test_an_immutable_output_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    if subprocess.run(["chattr", "+i", str(out)], capture_output=True, check=False).returncode != 0:
        pytest.skip("chattr +i needs root and a file system that has it")
    try:
        code, _, err = run(["compile", SHOP, "-o", str(out / "sub")], capsys)
    finally:
        subprocess.run(["chattr", "-i", str(out)], check=True)
    assert code == 2 and f"{out / 'sub'}: error: cannot write the output directory" in err and "[KC604]" in err


def _kc(args: list[str], stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "kc.compiler.cli", *args], input=stdin, capture_output=True)


def test_a_spec_from_standard_input(tmp_path: Path) -> None:
    """``-`` is standard input: the same objects as the file, with the source named <stdin>."""
    piped = _kc(["compile", "-"], Path(SHOP).read_bytes())
    assert piped.returncode == 0 and piped.stderr == b""
    from_file = _kc(["compile", SHOP], b"").stdout.decode().splitlines()
    lines = piped.stdout.decode().splitlines()
    assert [line for line in lines if "kc.dev/source" not in line] == [
        line for line in from_file if "kc.dev/source" not in line
    ]
    sources = [line.split(": ", 1)[1] for line in lines if "kc.dev/source" in line]
    assert sources and all(s.startswith('"<stdin>:') for s in sources)


def test_an_error_in_a_spec_from_standard_input_shows_its_line(tmp_path: Path) -> None:
    text = b"kc: 1\npipeline: shop\nstages:\n  api: {pattern: service, image: a:1, replica: 2}\n"
    piped = _kc(["validate", "-"], text)
    assert piped.returncode == 2
    err = piped.stderr.decode()
    assert err.startswith("<stdin>:4:39: error: unknown field 'replica' in stage 'api' [KC101]\n")
    assert "    4 |   api: {pattern: service, image: a:1, replica: 2}\n" in err and "did you mean 'replicas'" in err


def test_removes_own_stale_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert run(["compile", SHOP, "-o", str(out)], capsys)[0] == 0
    (out / "README.md").write_text("kept: kc did not write it")
    smaller = tmp_path / "pipeline.spec"
    text = Path(SHOP).read_text()
    smaller.write_text(text[: text.index("  report:")] + text[text.index("profiles:") :])
    assert run(["compile", str(smaller), "-o", str(out)], capsys)[0] == 0
    assert not (out / "05-report.yaml").exists()
    assert (out / "README.md").exists() and (out / "04-api.yaml").exists()


def test_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert run(["compile", SHOP, "-o", str(out), "--check"], capsys)[0] == 1
    assert run(["compile", SHOP, "-o", str(out)], capsys)[0] == 0
    assert run(["compile", SHOP, "-o", str(out), "--check"], capsys)[:2] == (0, "")
    code, _, err = run(["compile", SHOP, "-o", str(out), "--check", "--set", "api.replicas=3"], capsys)
    assert code == 1 and "04-api.yaml: stale" in err


def test_set_and_profile(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["compile", SHOP, "--profile", "prod", "--set", "api.replicas=5"], capsys)
    assert code == 0
    deployment = next(d for d in yaml.safe_load_all(out) if d and d["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 5
    assert deployment["metadata"]["namespace"] == "shop-prod"


def test_instance_is_an_independent_copy(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["compile", SHOP, "--instance", "shop-b"], capsys)
    assert code == 0
    docs = [d for d in yaml.safe_load_all(out) if d]
    assert {d["metadata"].get("namespace", d["metadata"]["name"]) for d in docs} == {"shop-b"}
    assert all(d["metadata"]["labels"]["app.kubernetes.io/instance"] == "shop-b" for d in docs)
    assert all(d["metadata"]["name"].startswith("shop-b") for d in docs)


GREET = str(ROOT / "tests" / "params" / "pipeline.spec")


def test_param_changes_the_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, plain, _ = run(["compile", GREET], capsys)
    assert code == 0 and "greeting: hello, greet\n" in plain
    code, out, err = run(["compile", GREET, "--param", "greeting=hi", "--param", "times=2"], capsys)
    assert (code, err) == (0, "")
    assert "greeting: hi, greet\n" in out and 'value: "2"' in out
    # validate, graph and an offline diff take it too; a stale directory is told by --check.
    for command in (["validate"], ["graph"], ["compile", "-o", str(tmp_path / "out")]):
        assert run([command[0], GREET, *command[1:], "--param", "greeting=hi"], capsys)[0] == 0
    code, out, _ = run(["diff", GREET, "--against", str(tmp_path / "out"), "--param", "greeting=hey"], capsys)
    assert code == 1 and "ConfigMap greet/greet-words-" in out
    check = ["compile", GREET, "-o", str(tmp_path / "out"), "--check"]
    assert run([*check, "--param", "greeting=hi"], capsys)[0] == 0
    assert run(check, capsys)[0] == 1
    plan = json.loads((tmp_path / "out" / "kc" / "plan.json").read_text())
    assert plan["params"] == {"greeting": "hi", "times": "3", "shout": "false", "busybox": "1.36.1"}


def test_an_unknown_param_lists_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["compile", GREET, "--param", "greting=hi"], capsys)
    assert (code, out) == (2, "")
    assert err.startswith(
        "--param greting=hi: error: --param sets parameter 'greting', which the spec does not declare"
    )
    assert "= hint: did you mean 'greeting'? the spec declares: greeting, times, shout, busybox" in err


def test_param_applies_to_a_spec_not_to_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["compile", GREET, "-o", str(tmp_path)], capsys)[0] == 0
    for command in ("apply", "diff", "status"):
        code, _, err = run([command, str(tmp_path), "--param", "greeting=hi"], capsys)
        assert code == 2 and "--param" in err and "not to DIR" in err
    code, _, err = run(["teardown", "--dry-run", str(tmp_path), "--param", "greeting=hi"], capsys)
    assert code == 2 and "--param" in err and "not to DIR" in err


def test_validate_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["validate", SHOP, "--format", "json"], capsys)
    assert code == 0 and json.loads(out) == {"diagnostics": [], "pending": []}
    assert run(["validate", SHOP], capsys) == (0, "", "")


@pytest.mark.parametrize("fmt,start", [("mermaid", "flowchart TD"), ("dot", "digraph kc {")])
def test_graph(fmt: str, start: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["graph", SHOP, "--format", fmt], capsys)
    assert code == 0 and out.startswith(start)
    edge = "s_migrate -->|after| s_api" if fmt == "mermaid" else '"migrate" -> "api" [label="after"]'
    assert edge in out


PROFILED = """\
kc: 1
pipeline: shop
stages:
  api: {pattern: service, image: "shop/api:1.0.0", port: 8080}
profiles:
  prod:
    stages:
      api: {replica: 4, size: huge}
  big:
    stages:
      api: {replicas: 50}
  ok:
    stages:
      api: {replicas: 2}
"""


def test_validate_checks_every_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "pipeline.spec"
    spec.write_text(PROFILED)
    assert run(["compile", str(spec)], capsys)[0] == 0  # no profile selected: nothing wrong
    code, out, _ = run(["validate", str(spec), "--format", "json"], capsys)
    found = [
        (d["code"], d["line"], [(n["line"], n["message"]) for n in d["notes"]]) for d in json.loads(out)["diagnostics"]
    ]
    assert code == 2 and found == [
        ("KC101", 8, [(6, "with --profile prod")]),
        ("KC106", 8, [(6, "with --profile prod")]),
        ("KC401", 11, [(9, "with --profile big")]),
    ]
    # Profiles named on the command line: that combination alone.
    assert run(["validate", str(spec), "--profile", "ok"], capsys)[:2] == (0, "")
    code, _, err = run(["validate", str(spec), "--profile", "big,ok"], capsys)
    assert code == 0 and err == ""  # ok's replicas win over big's


def test_patterns_and_explain(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["patterns"], capsys)
    listed = [line.split()[0] for line in out.splitlines()]
    assert code == 0 and {"service", "job", "cron", "stateful", "volume", "config", "worker"} <= set(listed)
    assert "workspace" not in listed
    code, out, _ = run(["explain", "cron"], capsys)
    assert code == 0 and "schedule" in out and "CronJob" in out and "required" in out
    code, _, err = run(["explain", "crno"], capsys)
    assert code == 2 and "did you mean 'cron'" in err


@pytest.mark.parametrize("pattern", ["job", "cron", "task"])
def test_explain_lists_no_health_for_what_runs_to_completion(pattern: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["explain", pattern], capsys)
    assert code == 0 and "image" in out and "health" not in out.split("steps")[0].split("parameters:")[1]


def test_schema_is_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["schema"], capsys)
    schema = json.loads(out)
    assert code == 0 and "pipeline" in schema["required"]
    assert schema["properties"]["stages"]["additionalProperties"] == {"$ref": "#/$defs/Stage"}


def test_committed_schema_is_current(capsys: pytest.CaptureFixture[str]) -> None:
    run(["schema"], capsys)
    # regenerate with: kc schema > schemas/kc-spec.schema.json
    assert (ROOT / "schemas" / "kc-spec.schema.json").read_text() == run(["schema"], capsys)[1]


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("kc ")
    with pytest.raises(SystemExit):
        cli.main(["compile", "--help"])
    assert "examples:" in capsys.readouterr().out


def test_compile_never_imports_the_cluster_client(tmp_path: Path) -> None:
    probe = (
        "import sys; from kc.compiler import cli; "
        f"code = cli.main(['compile', {SHOP!r}, '-o', {str(tmp_path / 'out')!r}]); "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('kubernetes', 'urllib3', 'deepdiff')]; "
        "print(code, bad)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "0 []"


def test_color_only_on_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    assert commands.use_color(Tty())
    assert not commands.use_color(sys.stdout if not sys.stdout.isatty() else object())
    monkeypatch.setenv("NO_COLOR", "")
    assert not commands.use_color(Tty())


def test_a_hundred_bundles_still_sort_in_apply_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "long.spec"
    stages = "".join(f"  s{i}: worker acme/w:1.0.{i}\n" for i in range(105))
    spec.write_text(f"kc: 1\npipeline: long\nflow: sequential\nstages:\n{stages}")
    assert run(["compile", str(spec), "-o", str(tmp_path / "out")], capsys)[0] == 0
    files = sorted(p.name for p in (tmp_path / "out").glob("*.yaml"))
    assert files[0] == "000-workspace.yaml" and files[-1] == "105-s104.yaml"
    assert [int(f.split("-")[0]) for f in files] == list(range(106))
    spec.write_text("kc: 1\npipeline: long\nstages:\n  s0: worker acme/w:1.0.0\n")
    assert run(["compile", str(spec), "-o", str(tmp_path / "out")], capsys)[0] == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.yaml")) == ["00-workspace.yaml", "01-s0.yaml"]


def test_validate_takes_several_specs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.spec"
    bad.write_text("kc: 1\npipeline: shop\nstages:\n  api: {pattern: service, image: 'a:1.0.0', replica: 2}\n")
    code, _, err = run(["validate", SHOP, str(bad)], capsys)
    assert code == 2 and f"{bad}:4:" in err and "KC101" in err
    assert run(["validate", SHOP, SHOP], capsys)[0] == 0


def test_a_compile_runs_without_the_cycle_collector_and_gives_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    run = passes.run
    monkeypatch.setattr(passes, "run", lambda *a, **k: seen.append(gc.isenabled()) or run(*a, **k))
    assert cli.main(["compile", str(ROOT / "examples/shop/pipeline.spec"), "-o", str(tmp_path / "out")]) == 0
    assert seen == [False]
    assert gc.isenabled()
