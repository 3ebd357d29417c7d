"""The `catalog:` section of `jh_pipeline.yaml` (repository root): site choices that change validation."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jh_pipeline.catalog.findings import Finding, error

SETTINGS_FILE = "jh_pipeline.yaml"
SECTION = "catalog"


class CatalogSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    allow_local_channels: bool = Field(
        False, description="allow condarc channels that are local paths or non-http(s) URLs (file://...)"
    )


def load_catalog_settings(repo_root: Path) -> tuple[CatalogSettings, list[Finding]]:
    """`catalog:` of `<repo_root>/jh_pipeline.yaml`; defaults when the file or section is absent.

    A broken section is an error finding on the file (and the defaults apply), never an exception.
    """
    path = Path(repo_root) / SETTINGS_FILE
    if not path.is_file():
        return CatalogSettings(), []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (yaml.YAMLError, UnicodeDecodeError, OSError):
        return CatalogSettings(), [error(path, 1, "settings", "not a readable YAML file")]
    section = data.get(SECTION) if isinstance(data, dict) else None
    if section is None:
        return CatalogSettings(), []
    line = _section_line(path)
    if not isinstance(section, dict):
        return CatalogSettings(), [error(path, line, "settings", f"`{SECTION}:` must be a mapping of settings")]
    try:
        return CatalogSettings.model_validate(section), []
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in exc.errors())
        return CatalogSettings(), [error(path, line, "settings", f"`{SECTION}:` {problems}")]


def _section_line(path: Path) -> int:
    try:
        node = yaml.compose(path.read_text(encoding="utf-8-sig"))
    except (yaml.YAMLError, UnicodeDecodeError, OSError):
        return 1
    if isinstance(node, yaml.MappingNode):
        for key, _ in node.value:
            if key.value == SECTION:
                return key.start_mark.line + 1
    return 1
