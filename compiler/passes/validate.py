"""validate: the top level against the spec's schema, the organisation's policy, and imports;
what validates becomes the ``Draft`` the factoring passes work on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kc.compiler import diagnostics as diag
from kc.compiler import ir, model_errors, source
from kc.compiler.diagnostics import Pos
from kc.compiler.passes import parameters
from kc.compiler.passes import stages as checks
from kc.compiler.patterns import registry
from kc.schemas import check, egress, record, shape, types
from kc.schemas import spec as spec_schema

# For each policy key: is the spec's value at least as strict as the organisation's?
_TIGHTER: dict[str, Callable[[Any, Any], bool]] = {
    "max_replicas": lambda spec, org: spec <= org,
    "max_parallelism": lambda spec, org: spec <= org,
    "allow_latest_tag": lambda spec, org: org or not spec,
    "allow_privileged": lambda spec, org: org or not spec,
    "allow_host_paths": lambda spec, org: org or not spec,
    "allow_root": lambda spec, org: org or not spec,
    "allow_unconfined": lambda spec, org: org or not spec,
    "allow_volume_types": lambda spec, org: org or not spec,
    "require_health": lambda spec, org: spec or not org,
    "data": lambda spec, org: spec == org or org == "delete",
    "allow_egress_anywhere": lambda spec, org: org or not spec,
    "egress_cidrs": lambda spec, org: org is None or (spec is not None and all(egress.within(c, org) for c in spec)),
    # Where the cluster's DNS and API server are is the organisation's to say, once it says it.
    "dns_namespace": lambda spec, org: spec == org,
    "dns_labels": lambda spec, org: spec == org,
    "api_server": lambda spec, org: org is None or spec == org,
}


def _org_policy(doc: source.Document) -> spec_schema.Policy:
    data = doc.data.get("policy", doc.data) if isinstance(doc.data, dict) else doc.data
    base = ("policy",) if isinstance(doc.data, dict) and "policy" in doc.data else ()
    try:
        return check.validate(spec_schema.Policy, data)
    except check.Refused as refused:
        raise diag.CompileError(
            model_errors.diagnostics(refused.error, doc, base, refused.model, " in the policy file")
        ) from None


def _effective_policy(
    spec: spec_schema.Spec, org_doc: source.Document | None, doc: source.Document
) -> tuple[spec_schema.Policy, list[diag.Diagnostic]]:
    if org_doc is None:
        return spec.policy, []
    org = _org_policy(org_doc)
    errors = []
    tightened = {}
    for field in _given(spec_schema.Policy, doc.data.get("policy")):
        key, alias = field.name, field.alias
        mine, theirs = getattr(spec.policy, key), getattr(org, key)
        if _TIGHTER[key](mine, theirs):
            tightened[key] = mine
        else:
            errors.append(
                diag.error(
                    "KC407",
                    doc.pos(("policy", alias)),
                    f"policy '{alias}: {_text(mine)}' loosens the organisation's '{alias}: {_text(theirs)}' "
                    f"({org_doc.file})",
                    "a spec may tighten the organisation's policy, never loosen it",
                )
            )
    return record.replace(org, **tightened), errors


def _text(value: Any) -> str:
    """A policy value as a spec writes it (``[10.0.0.0/8]``, ``{k8s-app: kube-dns}``)."""
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    return "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _given(cls: type, raw: Any) -> list[shape.Field]:
    """The fields of ``cls`` that ``raw`` (as the spec wrote it) sets, in field order."""
    keys = set(raw) if isinstance(raw, dict) else set()
    return [f for f in shape.fields(cls) if f.alias in keys or f.name in keys]


def validate(program: ir.Source) -> ir.Draft:
    doc, library = program.doc, program.inputs.library
    try:
        spec = check.validate(spec_schema.Spec, doc.data)
    except check.Refused as refused:
        errors = model_errors.diagnostics(refused.error, doc, (), refused.model, "")
        raise diag.CompileError(errors + _stage_errors(doc, library)) from None
    if program.options.instance is not None:
        _check_instance(program.options.instance)
    diag.raise_if_errors(
        diag.error(
            "KC105",
            doc.pos(("stages", name), key=True),
            f"'{name}' is reserved and cannot name a stage",
            "bundle 0 is the workspace, ${pipeline.…} refers to the pipeline and ${params.…} to its parameters",
        )
        for name in sorted(spec_schema.RESERVED_STAGES & set(spec.stages))
    )
    policy, errors = _effective_policy(spec, program.inputs.policy_file, doc)
    diag.raise_if_errors(errors + list(program.inputs.problems))
    raw = {name: stage for name, stage in doc.data["stages"].items()}
    draft = ir.Draft(doc, program.options, spec, policy, library, raw)
    return record.replace(draft, warnings=tuple(_namespace_of_another(spec, program.options, doc)))


def _namespace_of_another(spec: spec_schema.Spec, options: ir.Options, doc: source.Document) -> list[diag.Diagnostic]:
    """A warning when ``--instance`` puts an instance into a namespace another instance owns: one
    the spec or a profile names (so the pipeline's own instance, compiled with the same profiles,
    takes it too), or the pipeline's own name. Each would create the namespace and own it, and a
    teardown of one deletes the other with it."""
    instance, namespace = options.instance, spec.workspace.namespace
    if instance in (None, spec.pipeline) or namespace in (None, instance) or not spec.workspace.create:
        return []
    pos = doc.pos(("workspace", "namespace"))
    if pos.file != doc.file and namespace != spec.pipeline:
        return []  # named for this instance alone, on the command line
    path = ("workspace", "namespace")
    setting = [p for p in options.profiles if ("profiles", p, *path) in doc.values]
    setting = [p for p in setting if doc.pos(("profiles", p, *path)) == pos]
    where = f" (with profile '{setting[-1]}', which sets it)" if setting else ""
    where = where or (" (the spec sets it)" if pos.file == doc.file else "")
    owner = f"instance '{spec.pipeline}'{where}"
    return [
        diag.warning(
            "KC214",
            pos,
            f"instance '{instance}' goes into namespace '{namespace}', which {owner} owns as well: each creates "
            "it as its own, so applying one meets the other's namespace, and tearing one down deletes both",
            f"give the instance a namespace of its own (--set workspace.namespace={instance}), or leave "
            "workspace.namespace unset so that it follows the instance",
        )
    ]


def _stage_errors(doc: source.Document, library: registry.Library) -> list[diag.Diagnostic]:
    """With the top level broken, still check each stage against the built-in patterns, so one
    run reports the stages' errors too."""
    stages = doc.data.get("stages")
    if not isinstance(stages, dict):
        return []
    known = registry.Library(
        {n: f for n, f in library.folders.items() if registry.is_builtin(f)},
        {n: p for n, p in library.loaded.items() if p.builtin},
    )
    replacements = parameters.literal(_usable_params(doc.data.get("params")))
    out: list[diag.Diagnostic] = []
    for name, raw in stages.items():
        # Without imports every pattern must be a built-in; with them, unknown names may be theirs.
        if isinstance(raw, dict) and ("imports" not in doc.data or str(raw.get("pattern")) in known.loaded):
            resolved, unknown = parameters.resolved(raw, replacements)
            if not unknown:  # else its text is not what it will be: checked once the parameters are
                out.extend(checks.check_stage(doc, known, name, resolved)[2])
    return out


def _usable_params(given: Any) -> dict[str, str]:
    """The parameters whose values are good, when the top level is not: a stage that uses one is
    checked with its value, not with the reference's text."""
    out: dict[str, str] = {}
    for name, value in given.items() if isinstance(given, dict) else ():
        try:
            out[str(name)] = spec_schema.param_text(value)
        except shape.Invalid:
            continue
    return out


def _check_instance(name: str) -> None:
    if len(name) > 40 or not name or not types.re_instance.match(name):
        raise diag.CompileError(
            [
                diag.error(
                    "KC105",
                    Pos("--instance"),
                    f"'{name}' is not a valid instance name",
                    "use lower-case letters, digits and '-', starting with a letter, at most 40 characters",
                )
            ]
        )
