"""The layers of docs/design.md, enforced: a module imports only its own layer and the ones below
it; only the cluster client imports the Kubernetes client."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGES = {
    "kc.compiler": "compiler",
    "kc.cluster": "compiler/cluster",
    "kc.schemas": "schemas",
    "kc.targets": "targets",
}
# Lowest first. docs/design.md draws the same order.
LAYERS = (
    ("schemas", ("kc.schemas",)),
    ("core", ("kc.compiler",)),  # source, diagnostics, kinds, pods, names, …: the rest of kc.compiler
    ("patterns", ("kc.compiler.patterns",)),
    ("ir", ("kc.compiler.ir",)),  # holds the loaded patterns
    ("frontend", ("kc.compiler.frontend",)),  # all of a compile's reading from disk
    ("passes", ("kc.compiler.passes",)),
    ("outputs", ("kc.compiler.teardown", "kc.targets")),
    ("cluster", ("kc.cluster",)),
    (
        "cli",
        (
            "kc.compiler.cli",
            "kc.compiler.arguments",
            "kc.compiler.commands",
            "kc.compiler.cluster_commands",
            "kc.compiler.validation",
        ),
    ),
)
CLIENT = "kc.cluster.client"


def modules() -> dict[str, Path]:
    found = {}
    folders = [ROOT / f for f in PACKAGES.values()]
    for package, folder in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            # compiler/cluster/ is kc.cluster, not part of kc.compiler: the deepest folder owns a file.
            if max((f for f in folders if f in path.parents), key=lambda f: len(f.parts)) != ROOT / folder:
                continue
            parts = [p for p in path.relative_to(ROOT / folder).with_suffix("").parts if p != "__init__"]
            found[".".join([package, *parts])] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """Every module ``path`` imports, at any depth of the file (lazy imports count too)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                out.add(full if full in known else node.module)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            out.update(str(arg.value) for arg in node.args[:1] if isinstance(arg, ast.Constant))
    return out


def layer(module: str) -> int:
    best = max(((i, p) for i, (_, ps) in enumerate(LAYERS) for p in ps if module == p or module.startswith(p + ".")),
               key=lambda ip: len(ip[1]))  # fmt: skip
    return best[0]


def test_no_module_imports_a_layer_above_its_own() -> None:
    known = modules()
    upward = {
        (module, target)
        for module, path in known.items()
        for target in imports(path, known)
        if target.startswith("kc.") and layer(target) > layer(module)
    }
    assert upward == set(), "imports against the layers"


def test_only_the_cluster_client_imports_the_kubernetes_client() -> None:
    known = modules()
    users = {
        module
        for module, path in known.items()
        if any(t.split(".")[0] in ("kubernetes", "urllib3") for t in imports(path, known))
    }
    assert users == {CLIENT}


def test_compile_side_modules_never_import_the_cluster_package() -> None:
    known = modules()
    cluster = dict(LAYERS)["cluster"][0]
    users = {
        module
        for module, path in known.items()
        if not module.startswith(cluster) and any(t.startswith(cluster) for t in imports(path, known))
    }
    assert users == {"kc.compiler.cluster_commands"}, "only the CLI's cluster commands reach them (lazily)"
