"""Finding and loading patterns: a pattern is a folder with ``pattern.yaml`` and its templates.

The built-in patterns live in ``library/``; a folder named in a spec's ``imports`` adds more (one
sub-folder per pattern, or a pattern folder itself). Loading is cached per folder, so a spec with a
thousand stages compiles each template once.
"""

from __future__ import annotations

import functools
import os

import yaml
from kc.compiler import diagnostics as diag
from kc.compiler import source
from kc.compiler.diagnostics import Pos
from kc.compiler.patterns import templates as compiled_templates
from kc.schemas import check
from kc.schemas import params as params_schema
from kc.schemas import pattern as pattern_schema
from kc.schemas.record import Record, param

LIBRARY = os.path.join(os.path.dirname(__file__), "library")
MANIFEST = "pattern.yaml"
WORKSPACE = "workspace"  # the internal pattern that renders bundle 0
IMAGES = os.path.join(os.path.dirname(__file__), "images.yaml")


class StepTemplates(Record, kw_only=False):
    decl: pattern_schema.StepDecl
    templates: tuple[tuple[str, compiled_templates.Template], ...]  # (path, compiled template)


class Pattern(Record, kw_only=False):
    name: str
    folder: str
    manifest: pattern_schema.PatternManifest
    record: type  # what a stage of this pattern is checked against (kc.schemas.params)
    steps: tuple[StepTemplates, ...]
    # Each declared warning with its compiled condition and where the condition is written.
    warnings: tuple[tuple[pattern_schema.WarningDecl, compiled_templates.Condition, Pos], ...] = ()

    @property
    def builtin(self) -> bool:
        return is_builtin(self.folder)


def is_builtin(folder: str) -> bool:
    return os.path.dirname(folder) == LIBRARY


class ImageFacts(Record, kw_only=False):
    """What kc knows about a widely used image (``images.yaml``)."""

    port: int | None = None
    writable: tuple[str, ...] = ()


@functools.cache
def known_images() -> dict[str, ImageFacts]:
    """Repository (``docker.io/library/nginx``) -> what kc knows of the image."""
    with open(IMAGES, encoding="utf-8") as f:
        table = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return {repo: ImageFacts(e.get("port"), tuple(e.get("writable", ()))) for repo, e in table.items()}


def repository(image: str) -> str:
    """An image reference's repository as a registry serves it: ``nginx:1.27.3`` is
    ``docker.io/library/nginx``, ``ghcr.io/acme/api@sha256:…`` is ``ghcr.io/acme/api``."""
    name = image.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    first, _, rest = name.partition("/")
    if not rest or not ("." in first or ":" in first or first == "localhost"):
        name = f"docker.io/{name}"
    host, _, path = name.partition("/")
    return f"{host}/library/{path}" if host == "docker.io" and "/" not in path else name


class Library(Record, kw_only=False):
    """The patterns a spec can name (built-ins, and those its imports add), and, loaded, the ones
    it does name. The front end fills it, so the passes read no pattern folder themselves."""

    folders: dict[str, str] = param(factory=dict)  # every known name -> its folder
    loaded: dict[str, Pattern] = param(factory=dict)
    images: dict[str, ImageFacts] = param(factory=dict)  # by repository

    def get(self, name: str) -> Pattern | None:
        return self.loaded.get(name)

    def __getitem__(self, name: str) -> Pattern:
        return self.loaded[name]


def _manifest_errors(doc: source.Document, refused: check.Refused) -> list[diag.Diagnostic]:
    return [
        diag.error("KC501", doc.pos(tuple(e["loc"])), f"pattern.yaml: {'.'.join(map(str, e['loc']))}: {e['msg']}")
        for e in refused.error.errors()
    ]


@functools.cache
def load(folder: str) -> Pattern:
    """Load one pattern folder; problems in it are errors at the pattern file's lines."""
    name = os.path.basename(folder.rstrip(os.sep))
    path = os.path.join(folder, MANIFEST)
    doc = source.load_file(path)
    try:
        manifest = check.validate(pattern_schema.PatternManifest, doc.data)
    except check.Refused as refused:
        raise diag.CompileError(_manifest_errors(doc, refused)) from None
    try:
        stage_record = params_schema.stage_record(name, manifest.container, manifest.parameters, list(manifest.omit))
    except (params_schema.ParamError, TypeError) as exc:
        where = doc.pos(exc.path, key=True) if isinstance(exc, params_schema.ParamError) else doc.pos(("parameters",))
        raise diag.CompileError([diag.error("KC501", where, f"pattern '{name}': {exc}")]) from None
    steps = []
    for decl in manifest.steps:
        compiled = []
        for template in decl.templates:
            try:
                compiled.append((os.path.join(folder, template), compiled_templates.template(folder, template)))
            except compiled_templates.BadSyntax as exc:
                pos = Pos(exc.filename or os.path.join(folder, template), exc.lineno, 1)
                raise diag.CompileError([diag.error("KC502", pos, f"template syntax error: {exc.message}")]) from None
            except compiled_templates.NotFound:
                raise diag.CompileError(
                    [diag.error("KC501", doc.pos(("steps",)), f"pattern '{name}': no template '{template}'")]
                ) from None
        steps.append(StepTemplates(decl, tuple(compiled)))
    warnings = []
    for index, warning in enumerate(manifest.warnings):
        pos = doc.pos(("warnings", index, "when"))
        try:
            warnings.append((warning, compiled_templates.condition(folder, warning.when), pos))
        except compiled_templates.BadSyntax as exc:
            raise diag.CompileError([diag.error("KC501", pos, f"pattern '{name}': warning: {exc.message}")]) from None
    return Pattern(name, folder, manifest, stage_record, tuple(steps), tuple(warnings))


def pattern_folders(root: str) -> list[str]:
    """The pattern folders of an imported folder: itself, when it holds pattern.yaml, or its
    sub-folders that do."""
    if os.path.isfile(os.path.join(root, MANIFEST)):
        return [root]
    return sorted(
        os.path.join(root, entry) for entry in os.listdir(root) if os.path.isfile(os.path.join(root, entry, MANIFEST))
    )


def builtins() -> dict[str, str]:
    """Built-in pattern names and their folders; patterns load only when a spec uses them."""
    return {os.path.basename(f): f for f in pattern_folders(LIBRARY)}


def with_imports(folders: list[tuple[str, Pos]]) -> tuple[dict[str, str], list[diag.Diagnostic]]:
    """The built-ins plus the patterns in imported folders; a user's pattern shadows a built-in
    only when its manifest says ``override: true``."""
    known = builtins()
    errors: list[diag.Diagnostic] = []
    for folder, pos in folders:
        for sub in pattern_folders(folder):
            name = os.path.basename(sub)
            if name in known and not load(sub).manifest.override:
                errors.append(
                    diag.error(
                        "KC501",
                        pos,
                        f"pattern '{name}' in {sub} shadows a pattern of the same name",
                        "rename it, or set 'override: true' in its pattern.yaml",
                    )
                )
                continue
            known[name] = sub
    return known, errors
