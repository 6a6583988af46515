"""What kc says about a value it refuses: what the value should look like, in words and in its
own case (never a regular expression lower-cased), a guess at what was meant, and the right rule
for each kind of name (a port name is at most 15 characters; env names are UPPER_CASE)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import errors_of

STAGE = """\
    kc: 1
    pipeline: shop
    stages:
      api:
        pattern: service
        image: shop/api:1.0.0
        {field}
    """


def one_error(tmp_path: Path, field: str) -> tuple[str, str, str]:
    (found,) = errors_of(STAGE.format(field=field), tmp_path)
    return found.code, found.message, found.hint


@pytest.mark.parametrize(
    ("field", "said", "hint"),
    [
        ("resources: {cpu: 1, memory: 10GB}", "'10GB' is not a quantity", "did you mean '10Gi'?"),
        ("resources: {cpu: 1, memory: 512mb}", "'512mb' is not a quantity", "did you mean '512Mi'?"),
        ("resources: {cpu: 1, memory: 2 Gi}", "'2 Gi' is not a quantity", "did you mean '2Gi'?"),
        ("resources: {cpu: 1, memory: lots}", "'lots' is not a quantity", "such as 250m (CPU), 2, 512Mi or 10Gi"),
        ("mounts: {cfg: etc/app}", "'etc/app' is not an absolute path", "did you mean '/etc/app'?"),
        ("health: healthz", "'healthz' is not an absolute path", "did you mean '/healthz'?"),
        ("env: {X: {secret: nokey}}", "'nokey' is not a key reference", "such as db-creds/password"),
    ],
)
def test_a_value_that_does_not_match_says_what_it_should_be(tmp_path: Path, field: str, said: str, hint: str) -> None:
    found = [d for d in errors_of(STAGE.format(field=field), tmp_path) if d.code == "KC106"]
    assert len(found) == 1 and said in found[0].message and hint in found[0].hint
    assert "pattern" not in found[0].message and "[" not in found[0].message


def test_a_duration_written_in_words(tmp_path: Path) -> None:
    text = STAGE.replace("pattern: service", "pattern: job").format(field="timeout: 90 minutes")
    (found,) = errors_of(text, tmp_path)
    assert "'90 minutes' is not a duration" in found.message and found.hint.startswith("did you mean '90m'?")


def test_allowed_values_keep_their_case(tmp_path: Path) -> None:
    code, message, hint = one_error(tmp_path, "pull-policy: always")
    assert code == "KC106" and "'Always', 'IfNotPresent' or 'Never'" in message and hint == "did you mean 'Always'?"


def test_a_pattern_kc_has_no_words_for_is_printed_as_written(tmp_path: Path) -> None:
    from kc.compiler import expected

    what, hint = expected.explain(r"^[A-Z][a-zA-Z]+$", "x")
    assert what == "'x' does not match the pattern ^[A-Z][a-zA-Z]+$" and hint == ""


def test_a_port_name_is_at_most_15_characters(tmp_path: Path) -> None:
    code, message, hint = one_error(tmp_path, "ports: {metrics-endpoint: 9090}")
    assert code == "KC105" and "'metrics-endpoint' is not a valid port name" in message
    assert "at most 15 characters" in hint and "63" not in hint


def test_a_port_name_in_upper_case(tmp_path: Path) -> None:
    code, _, hint = one_error(tmp_path, "ports: {Web: 8080}")
    assert code == "KC105" and hint.startswith("did you mean 'web'?")


def test_env_names_are_upper_case_with_underscores(tmp_path: Path) -> None:
    code, message, hint = one_error(tmp_path, 'env: {"log level": debug}')
    assert code == "KC105" and "environment variable name" in message
    assert hint.startswith("did you mean 'LOG_LEVEL'?") and "UPPER_CASE" in hint and "lower-case" not in hint


def test_a_stage_name_keeps_the_dns_label_rule(tmp_path: Path) -> None:
    text = STAGE.replace("  api:", "  Api_Server:").format(field="")
    found = errors_of(text, tmp_path)
    assert [d.code for d in found] == ["KC105"]
    assert found[0].hint.startswith("did you mean 'api-server'?") and "at most 63 characters" in found[0].hint
