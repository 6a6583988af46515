"""The contract between compile and the cluster commands (compiler/contract.py): kc/plan.json as
its one writer writes it reads back through its one reader, and every command that reads an
output directory refuses a plan of another format in the same way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT
from kc.cluster import diff
from kc.compiler import arguments, cli, commands, contract, diagnostics, teardown

SHOP = str(ROOT / "examples" / "shop" / "pipeline.spec")


@pytest.fixture
def out(tmp_path: Path) -> Path:
    assert cli.main(["compile", SHOP, "-o", str(tmp_path / "out")]) == 0
    return tmp_path / "out"


def test_a_written_plan_reads_back(out: Path) -> None:
    program = commands.build(arguments.parser().parse_args(["compile", SHOP]))
    compiled = contract.read_plan(str(out))
    assert json.loads((out / contract.PLAN).read_text())["format"] == contract.PLAN_FORMAT
    assert (compiled.pipeline, compiled.instance, compiled.namespace, compiled.revision) == (
        "shop",
        program.instance,
        program.namespace,
        program.revision,
    )
    assert [b.index for b in compiled.bundles] == [b.index for b in program.bundles]
    read = [(o.manifest, o.stage, o.step) for b in compiled.bundles for o in b.objects]
    assert read == [(o.manifest, o.stage, o.step) for b in program.bundles for o in b.objects]


def test_the_writer_puts_the_format_first() -> None:
    text = contract.plan_text({"pipeline": "p", "bundles": []})
    assert list(json.loads(text)) == ["format", "pipeline", "bundles"]
    assert text.endswith("}\n")


def refusals(out: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The KC603 message of each reader path: the reader itself, kc diff --against, kc teardown."""
    messages = []
    with pytest.raises(diagnostics.CompileError) as caught:
        contract.read_plan(str(out))
    messages.append(caught.value.diagnostics[0].message)
    with pytest.raises(diagnostics.CompileError) as caught:
        diff.offline_diff(commands.build(arguments.parser().parse_args(["compile", SHOP])), str(out))
    messages.append(caught.value.diagnostics[0].message)
    (out / contract.TEARDOWN).unlink(missing_ok=True)  # so that teardown reads kc/plan.json
    with pytest.raises(diagnostics.CompileError) as caught:
        teardown.load(str(out))
    messages.append(caught.value.diagnostics[0].message)
    for command in (["diff", SHOP, "--against", str(out)], ["teardown", "--dry-run", str(out)]):
        assert cli.main(command) == 2
        assert "[KC603]" in capsys.readouterr().err
    return messages


def test_a_plan_of_another_format_is_refused_everywhere(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    index = json.loads((out / contract.PLAN).read_text())
    (out / contract.PLAN).write_text(json.dumps({**index, "format": contract.PLAN_FORMAT + 1}))
    assert set(refusals(out, capsys)) == {f"plan format {contract.PLAN_FORMAT + 1} is not {contract.PLAN_FORMAT}"}


def test_a_bundle_file_the_index_does_not_describe_is_refused_everywhere(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = sorted(out.glob("*.yaml"))[0]
    first.write_text(first.read_text() + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: stray}\n")
    assert {m.split(":")[0] for m in refusals(out, capsys)} == {"not a plan kc wrote"}


def test_a_directory_without_a_plan_is_not_an_output_directory(tmp_path: Path) -> None:
    with pytest.raises(diagnostics.CompileError) as caught:
        contract.read_plan(str(tmp_path))
    assert caught.value.diagnostics[0].code == "KC603"
    assert "not a kc output directory" in caught.value.diagnostics[0].message


def test_objects_are_named_one_way() -> None:
    manifest = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}}
    assert contract.Ref.of(manifest).text == "Deployment shop/web"
    assert contract.Ref("v1", "Namespace", None, "shop").text == "Namespace shop"


def test_ownership_selects_by_kcs_own_label() -> None:
    assert contract.ownership_text("shop") == "kc.dev/instance=shop"
    labelled = {"metadata": {"labels": {contract.OWNER: "shop", contract.STAGE: "db"}}}
    assert contract.carries(labelled, contract.ownership_selector("shop"))
    assert not contract.carries(labelled, contract.ownership("other"))


@pytest.mark.parametrize(
    ("flags", "hint"),
    [
        (["--instance", "shop-canary"], "compile without --instance"),
        (["--instance", "shop-b", "--profile", "prod"], "compile without --instance"),
    ],
)
def test_diff_against_another_instance_is_refused(
    out: Path, flags: list[str], hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every object of one instance would look like an orphan of the other, for --prune to delete."""
    assert cli.main(["diff", SHOP, "--against", str(out), *flags]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "orphaned" not in captured.err
    assert f"{out / contract.PLAN}: error: {out} holds instance 'shop' of pipeline 'shop'" in captured.err
    assert "[KC605]" in captured.err and hint in captured.err


def test_diff_of_the_instance_against_its_own_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    canary = ["--instance", "shop-canary", "--set", "workspace.namespace=shop-canary"]
    assert cli.main(["compile", SHOP, "-o", str(tmp_path / "canary"), *canary]) == 0
    assert cli.main(["diff", SHOP, "--against", str(tmp_path / "canary"), *canary]) == 0
    capsys.readouterr()
    assert cli.main(["diff", SHOP, "--against", str(tmp_path / "canary")]) == 2
    assert "add --instance shop-canary" in capsys.readouterr().err


def test_diff_against_another_pipeline_is_refused(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = str(ROOT / "examples" / "wordfreq" / "pipeline.spec")
    assert cli.main(["diff", other, "--against", str(out)]) == 2
    err = capsys.readouterr().err
    assert "the spec compiles instance 'wordfreq' of pipeline 'wordfreq'" in err and "[KC605]" in err
