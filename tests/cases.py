"""The golden cases: every example, compiled as a user would, with the flags each case names,
and a spec of the tests' own for what no example shows (run parameters).

Regenerate with ``pytest tests/test_golden.py --update-goldens`` and read the diff before
committing it.
"""

from __future__ import annotations

CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "shop": ("examples/shop/pipeline.spec", ()),
    "shop-prod": ("examples/shop/pipeline.spec", ("--profile", "prod")),
    "shop-canary": (
        "examples/shop/pipeline.spec",
        (
            "--profile",
            "prod,debug",
            "--instance",
            "shop-canary",
            "--set",
            "workspace.namespace=shop-canary",  # prod's namespace is prod's own
            "--ordering-annotations",
            "argocd",
        ),
    ),
    "cockroach": ("examples/cockroach/pipeline.spec", ()),
    "cockroach-secure": ("examples/cockroach/pipeline.spec", ("--profile", "secure")),
    "etl": ("examples/etl/pipeline.spec", ()),
    "linecount": ("examples/linecount/pipeline.spec", ()),
    "crontab": ("examples/crontab/pipeline.spec", ()),
    # Run parameters: a spec of the tests', not an example.
    "params": ("tests/params/pipeline.spec", ()),
    "params-run": (
        "tests/params/pipeline.spec",
        ("--instance", "greet-run-42", "--profile", "once", "--param", "greeting=bonjour"),
    ),
    "wordfreq": ("examples/wordfreq/pipeline.spec", ()),
}
