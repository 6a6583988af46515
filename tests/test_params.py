"""Run parameters: ``params``, ``${params.NAME}``, profiles' values and ``--param``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import codes, compile_text, errors_of
from kc.compiler import ir, pods
from kc.targets import plan

SPEC = """\
    kc: 1
    pipeline: greet
    params: {greeting: hello, times: 3, shout: false, ratio: 0.5, tag: "1.36.1"}
    defaults: {env: {FROM_DEFAULTS: "${params.greeting}"}}
    stages:
      words: {pattern: config, data: {text: "${params.greeting}"}}
      say:
        pattern: job
        image: "busybox:${params.tag}"
        args: ["${params.greeting} x${params.times}", "$${params.greeting}"]
        env: {SHOUT: "${params.shout}", RATIO: "${params.ratio}"}
        mounts: {words: /words}
      api: {pattern: service, image: "shop/api:1.0.0", port: 8080, env: {G: "${params.greeting}"}}
    profiles:
      once: {params: {times: 1}}
      typo: {params: {tims: 1}}
    """


def manifest(program: ir.Program, kind: str) -> dict[str, Any]:
    (found,) = [o.manifest for o in program.objects if o.kind == kind]
    return found


def container(program: ir.Program, kind: str) -> dict[str, Any]:
    return next(pods.containers(next(pods.specs(manifest(program, kind)))))


def env(program: ir.Program, kind: str) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(program, kind)["env"] if "value" in e}


def test_a_parameter_is_text_in_place_of_its_reference(tmp_path: Path) -> None:
    program = compile_text(SPEC, tmp_path)
    say = container(program, "Job")
    assert say["image"] == "busybox:1.36.1"  # checked as an image once in place
    assert say["args"] == ["hello x3", "${params.greeting}"]  # $${ stays a literal ${
    # Booleans as YAML writes them, numbers as written, also through the defaults block.
    assert env(program, "Job") | {"FROM_DEFAULTS": env(program, "Job")["FROM_DEFAULTS"]} == {
        "SHOUT": "false",
        "RATIO": "0.5",
        "FROM_DEFAULTS": "hello",
    }
    assert manifest(program, "ConfigMap")["data"] == {"text": "hello"}


def test_profiles_then_the_command_line_set_the_values(tmp_path: Path) -> None:
    program = compile_text(SPEC, tmp_path, profiles=("once",), params=("greeting=bonjour", "tag=1.37.0"))
    say = container(program, "Job")
    assert say["args"][0] == "bonjour x1" and say["image"].endswith("busybox:1.37.0")
    assert plan.plan(program)["params"] == {
        "greeting": "bonjour",
        "times": "1",
        "shout": "false",
        "ratio": "0.5",
        "tag": "1.37.0",
    }
    # A value from the command line is text as given; the last one given wins.
    program = compile_text(SPEC, tmp_path, params=("times=007", "times=08"))
    assert container(program, "Job")["args"][0] == "hello x08"


def test_a_plan_without_parameters_says_nothing_of_them(tmp_path: Path) -> None:
    program = compile_text('kc: 1\npipeline: p\nstages:\n  a: {pattern: job, image: "a:1.0.0"}\n', tmp_path)
    assert "params" not in plan.plan(program)


def test_a_changed_value_is_a_new_config_and_a_new_job(tmp_path: Path) -> None:
    before = compile_text(SPEC, tmp_path)
    after = compile_text(SPEC, tmp_path, params=("greeting=salut",))
    for kind in ("ConfigMap", "Job"):
        assert manifest(before, kind)["metadata"]["name"] != manifest(after, kind)["metadata"]["name"]
    assert manifest(after, "ConfigMap")["data"] == {"text": "salut"}
    # The job mounts the config by its new name.
    volumes = manifest(after, "Job")["spec"]["template"]["spec"]["volumes"]
    assert manifest(after, "ConfigMap")["metadata"]["name"] in str(volumes)


def test_a_value_never_becomes_a_reference(tmp_path: Path) -> None:
    program = compile_text(SPEC, tmp_path, params=("greeting=${api.host} $${x}",))
    assert env(program, "Deployment")["G"] == "${api.host} $${x}"
    assert manifest(program, "ConfigMap")["data"] == {"text": "${api.host} $${x}"}


def test_a_parameter_orders_nothing_and_opens_no_network_path(tmp_path: Path) -> None:
    program = compile_text(SPEC, tmp_path)
    stages = {s.name: s for s in program.stages}
    assert [d.target for d in stages["say"].deps] == ["words"]  # the mount, not the parameters
    assert stages["api"].deps == () and stages["api"].reads == ()
    assert all(target != "params" for s in program.stages for target, _ in s.reads)


def test_an_unknown_reference_is_an_error_at_its_column(tmp_path: Path) -> None:
    text = SPEC.replace('G: "${params.greeting}"', 'G: "${params.greting}"')
    (found,) = errors_of(text, tmp_path)
    assert (found.code, found.pos.line, found.pos.col) == ("KC302", 13, 74)
    assert found.hint == "did you mean 'greeting'? the spec declares: greeting, times, shout, ratio, tag"
    (found,) = errors_of(SPEC.replace("${params.tag}", "${params}"), tmp_path)
    assert found.code == "KC302" and "names no parameter" in found.message


def test_a_reference_without_a_params_block(tmp_path: Path) -> None:
    text = 'kc: 1\npipeline: p\nstages:\n  a: {pattern: job, image: "a:1.0.0", args: ["${params.x}"]}\n'
    (found,) = errors_of(text, tmp_path)
    assert found.code == "KC302" and found.hint == "the spec declares no parameters: add them under 'params:'"


def test_reference_errors_come_together_with_other_reference_errors(tmp_path: Path) -> None:
    text = SPEC.replace('G: "${params.greeting}"', 'G: "${params.nope} ${nosuch.host}"')
    assert codes(errors_of(text, tmp_path)) == ["KC301", "KC302"]


def test_a_broken_top_level_does_not_misjudge_a_stage_that_uses_a_parameter(tmp_path: Path) -> None:
    # The image is checked with the parameter in place, not as the text '${params.tag}'.
    found = errors_of(SPEC.replace("pipeline: greet", "pipeline: greet\n    workspce: {}"), tmp_path)
    assert [(d.code, d.pos.line) for d in found] == [("KC101", 3)]


@pytest.mark.parametrize(
    "item,message,hint",
    [
        ("tims=1", "--param sets parameter 'tims'", "did you mean 'times'?"),
        ("times", "expected --param NAME=VALUE", ""),
        ("=1", "expected --param NAME=VALUE", ""),
    ],
)
def test_param_errors_name_the_argument(item: str, message: str, hint: str, tmp_path: Path) -> None:
    (found,) = errors_of(SPEC, tmp_path, params=(item,))
    assert (found.code, found.pos.file) == ("KC212", f"--param {item}")
    assert message in found.message and hint in found.hint


def test_a_profile_sets_only_declared_parameters(tmp_path: Path) -> None:
    (found,) = errors_of(SPEC, tmp_path, profiles=("typo",))
    assert (found.code, found.pos.line) == ("KC212", 16)
    assert found.hint.startswith("did you mean 'times'?")


def test_set_does_not_reach_parameters(tmp_path: Path) -> None:
    (found,) = errors_of(SPEC, tmp_path, sets=(("params.times", "4"),))
    assert found.code == "KC206" and found.hint == "use --param times=4"


@pytest.mark.parametrize(
    "params,code",
    [
        ("{Text: a}", "KC105"),
        ("{2nd: a}", "KC105"),
        ("{text: [a]}", "KC102"),
        ("{text: {a: b}}", "KC102"),
        ("{text: }", "KC102"),
        ("[text]", "KC102"),
    ],
)
def test_bad_params(params: str, code: str, tmp_path: Path) -> None:
    text = f'kc: 1\npipeline: p\nparams: {params}\nstages:\n  a: {{pattern: job, image: "a:1.0.0"}}\n'
    found = errors_of(text, tmp_path)
    assert [(d.code, d.pos.line) for d in found] == [(code, 3)]


def test_a_profile_value_is_checked_like_a_default(tmp_path: Path) -> None:
    text = SPEC.replace("once: {params: {times: 1}}", "once: {params: {times: [1]}}")
    (found,) = errors_of(text, tmp_path, profiles=("once",))
    assert (found.code, found.pos.line) == ("KC102", 15)


def test_the_language_reference_example_compiles(tmp_path: Path) -> None:
    from conftest import ROOT

    section = (ROOT / "docs" / "language.md").read_text().split("## Run parameters", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    program = compile_text(example, tmp_path, instance="run-42", params=("top=5",))
    assert container(program, "Job")["command"][-1] == "5"
    assert {o.namespace for o in program.objects if o.namespace} == {"run-42"}
