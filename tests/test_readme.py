"""The README's opening example is what kc writes for it."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from conftest import ROOT
from kc.compiler import cli

# How the listing names kinds.
WORDS = {
    "Namespace": "Namespace",
    "quota": "ResourceQuota",
    "network policies": "NetworkPolicy",
    "service account": "ServiceAccount",
    "Service": "Service",
    "StatefulSet": "StatefulSet",
    "Job": "Job",
    "Deployment": "Deployment",
    "Ingress": "Ingress",
}


def test_the_readme_lists_the_bundles_kc_writes(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    spec = re.search(r"```yaml\n(.*?)```", readme, re.S)
    listing = re.search(r"writes:\n\n```\n(.*?)```", readme, re.S)
    assert spec and listing
    (tmp_path / "shop.spec").write_text(spec.group(1))
    assert cli.main(["compile", str(tmp_path / "shop.spec"), "-o", str(tmp_path / "out")]) == 0
    written = {str(p.relative_to(tmp_path)) for p in (tmp_path / "out").rglob("*") if p.is_file()}
    shown = {line.split()[0]: line for line in listing.group(1).splitlines()}
    assert set(shown) == written
    for name, line in shown.items():
        if name.endswith(".yaml") and "/kc/" not in name:
            text = (tmp_path / name).read_text()
            kinds = {doc["kind"] for doc in yaml.safe_load_all(text) if doc}
            described = line.split("gate:")[0]
            assert {kind for word, kind in WORDS.items() if re.search(rf"\b{word}\b", described)} == kinds, line
            heading = text.splitlines()[0]  # "# bundle 01: db (gate: db: all replicas ready)"
            gate = re.search(r"\(gate: (?:[\w-]+: )?(.*)\)$", heading)
            assert gate, heading
            assert line.endswith(f"gate: {gate.group(1)}") or (gate.group(1) == "none" and "gate:" not in line)


def test_the_readme_installs_kc_as_a_user_would() -> None:
    """Not editable: the editable finder's import hook makes every start of kc slower."""
    readme = (ROOT / "README.md").read_text()
    (first,) = re.findall(r"^python3 -m venv .*$", readme, re.M)
    assert "pip install -q . &&" in first and " -e " not in first
