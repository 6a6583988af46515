"""``kc graph``: one edge per pair of steps, labelled with why the later one waits."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import ROOT, compile_text
from kc.compiler import passes, source
from kc.targets import graph

SPEC = """\
kc: 1
pipeline: shop
flow: sequential
workspace: {data: {size: 1Gi}}
stages:
  db: {pattern: cockroachdb}
  migrate:
    pattern: job
    image: shop/migrate:1.0.0
    after: db
    env: {URL: "postgresql://${db.host}:${db.port}/shop"}
  ingest: {pattern: task, image: "shop/ingest:1.0.0", outputs: [records, extra]}
  load: {pattern: task, image: "shop/load:1.0.0", inputs: {raw: ingest.records, more: ingest.extra}}
"""


def test_one_labelled_edge_per_pair(tmp_path: Path) -> None:
    program = compile_text(SPEC, tmp_path)
    # migrate waits for db's last step for four reasons (after, two references, the flow): one arrow.
    assert graph.mermaid(program).splitlines()[-4:] == [
        "  s_db -->|step| s_db_init",
        "  s_db_init -->|after, reference, flow| s_migrate",
        "  s_migrate -->|flow| s_ingest",
        "  s_ingest -->|input, flow| s_load",
    ]
    assert graph.dot(program).splitlines()[-5:-1] == [
        '  "db" -> "db-init" [label="step"];',
        '  "db-init" -> "migrate" [label="after, reference, flow"];',
        '  "migrate" -> "ingest" [label="flow"];',
        '  "ingest" -> "load" [label="input, flow"];',
    ]


def test_the_language_reference_shows_what_kc_graph_prints() -> None:
    shown = re.search(r"```\n(flowchart TD\n.*?)```", (ROOT / "docs" / "language.md").read_text(), re.S)
    assert shown
    program = passes.run(source.load_file(str(ROOT / "examples" / "shop" / "pipeline.spec")))
    assert graph.mermaid(program) == shown.group(1)


def test_reading_a_generated_secret_orders_and_is_labelled_secret(tmp_path: Path) -> None:
    """A service reading a database's generated Secret waits for the database (its pod cannot start
    without the Secret), while one that only calls it (${db.host}) does not."""
    program = compile_text(
        """\
kc: 1
pipeline: shop
stages:
  db: {pattern: postgres}
  api:
    pattern: service
    image: shop/api:1.0.0
    env: {DB: "${db.host}", PASSWORD: {secret: db/password}}
  web: {pattern: service, image: "shop/web:1.0.0", env: {DB: "${db.host}"}}
""",
        tmp_path,
    )
    deps = {s.name: [(d.target, d.kind, d.why) for d in s.deps] for s in program.stages}
    assert deps["api"] == [("db", "secret", "secret: db/password")]
    assert deps["web"] == []
    assert "  s_db -->|secret| s_api" in graph.mermaid(program).splitlines()
