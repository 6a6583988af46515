"""The teardown plan: generated from the same compiled bundles that are applied (docs/teardown.md), as plain
frozen data that the script renderer (``kc.targets.teardown_text``) and the executor both consume.

    teardown.plan(program, delete_data=False) -> TeardownPlan   from a compiled program
    teardown.load(directory, delete_data=False) -> TeardownPlan  from an earlier ``kc compile -o``

A ``TeardownPlan`` is an ordered tuple of ``Step``s, each one kubectl command with its exact argv,
so a script and an executor built from the same plan cannot drift apart. ``model`` holds the data
and its file form, ``build`` the order and rules (docs/teardown.md), ``files`` the loading.
"""

from __future__ import annotations

from kc.compiler.teardown import build, files, model

Step = model.Step
TeardownPlan = model.TeardownPlan
plan = build.plan
load = files.load
deleting_data = model.deleting_data
as_dict = model.as_dict
