"""Canonical YAML: ``apiVersion, kind, metadata`` first, labels and annotations sorted, other keys
in the order the patterns build them; LF endings, a final newline, libyaml's C emitter."""

from __future__ import annotations

from typing import Any

import yaml

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_FIRST = ("apiVersion", "kind", "metadata")
_META_FIRST = ("name", "namespace", "labels", "annotations")


class _Dumper_(_Dumper):  # type: ignore[valid-type,misc]
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Multi-line text (config files, scripts) reads best as a literal block.
    style = "|" if "\n" in value and not value.startswith((" ", "\n")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper_.add_representer(str, _str)


def _metadata(meta: dict[str, Any]) -> dict[str, Any]:
    out = {k: meta[k] for k in _META_FIRST if k in meta}
    for key in ("labels", "annotations"):
        if key in out:
            out[key] = dict(sorted(out[key].items()))
    out.update((k, v) for k, v in meta.items() if k not in out)
    return out


def canonical(manifest: dict[str, Any]) -> dict[str, Any]:
    out = {k: manifest[k] for k in _FIRST if k in manifest}
    if "metadata" in out:
        out["metadata"] = _metadata(out["metadata"])
    out.update((k, v) for k, v in manifest.items() if k not in out)
    return out


def dump(manifests: list[dict[str, Any]]) -> str:
    """Documents separated by ``---``."""
    text: str = yaml.dump_all(
        [canonical(m) for m in manifests],
        Dumper=_Dumper_,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 16,
        explicit_start=True,
    )
    return text
