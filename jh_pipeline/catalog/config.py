"""`class.yaml` (build settings) and `condarc` (channels), with file:line errors."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from jh_pipeline.catalog.findings import Finding, error

DEFAULT_CHANNELS = ("conda-forge",)
# libyaml's loader when PyYAML has it: the catalog is read at every code location load.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


class Target(StrEnum):
    BASE = "base"
    R_LANG = "r_lang"
    R_JULIA = "r_julia"

    @property
    def uses_r(self) -> bool:
        return self is not Target.BASE

    @property
    def uses_julia(self) -> bool:
        return self is Target.R_JULIA


class ClassConfig(BaseModel):
    """Build settings of one class."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: Target
    python_version: str = Field(pattern=r"^3\.\d+(\.\d+)?$")
    mysql: bool = False
    sqlite: bool = False
    semester: str | None = Field(default=None, pattern=r"^(spring|summer|fall)-\d{4}$")
    image_size_budget: int | None = Field(default=None, description="bytes; '8GB' and '7.5GiB' are accepted")
    display_name: str | None = None
    owners: list[str] = Field(default_factory=list)

    @field_validator("python_version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        # YAML reads an unquoted 3.10 as the float 3.1: refuse rather than guess.
        if isinstance(value, float):
            raise ValueError(f"write the version as a quoted string (\"{value}\" may have lost a trailing zero)")
        return value

    @field_validator("image_size_budget", mode="before")
    @classmethod
    def _parse_size(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = _SIZE.match(value)
            if not match:
                raise ValueError(f"'{value}' is not a size such as 8GB or 7.5GiB")
            number, unit = float(match.group(1)), (match.group(2) or "").upper()
            base = 1024 if "I" in unit else 1000
            power = "BKMGT".index(unit[0]) if unit else 0
            return int(number * base**power)
        return value


def _key_lines(text: str) -> dict[str, int]:
    """Line of each top-level key, so schema errors point at the right line."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return {}
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {key.value: key.start_mark.line + 1 for key, _ in node.value}


def _yaml_error(path: Path, exc: yaml.YAMLError, rule: str) -> Finding:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else 1
    problem = getattr(exc, "problem", None) or str(exc)
    return error(path, line, rule, f"invalid YAML: {problem}")


def parse_class_config(text: str, path: Path) -> tuple[ClassConfig | None, list[Finding]]:
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        return None, [_yaml_error(path, exc, "class-yaml")]
    if not isinstance(data, dict):
        return None, [error(path, 1, "class-yaml", "class.yaml must be a mapping of settings")]
    try:
        return ClassConfig.model_validate(data), []
    except ValidationError as exc:
        lines = _key_lines(text)
        findings = []
        for problem in exc.errors():
            key = str(problem["loc"][0]) if problem["loc"] else ""
            rule, message = "class-yaml", problem["msg"]
            if problem["type"] == "extra_forbidden":
                message = f"unknown setting '{key}'"
            elif problem["type"] == "missing":
                message = f"missing setting '{key}'"
            elif key == "target":
                rule = "unknown-target"
                message = f"unknown target '{data.get('target')}' (expected one of: {', '.join(Target)})"
            else:
                message = f"{key}: {message.removeprefix('Value error, ')}"
            findings.append(error(path, lines.get(key, 1), rule, message))
        return None, findings


def _channel_lines(text: str) -> list[int]:
    """Line of each item of the top-level `channels:` list, in order."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return []
    if not isinstance(node, yaml.MappingNode):
        return []
    for key, value in node.value:
        if key.value == "channels" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*):")
_WINDOWS_PATH = re.compile(r"^[A-Za-z]:[\\/]")
# conda's channel names, with optional label paths (`nvidia/label/cuda-12.1.0`).
_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$")


def channel_kind(channel: str) -> str:
    """'name', 'http' (an http(s) URL), 'local' (a path or another URL scheme), or 'invalid'."""
    if _WINDOWS_PATH.match(channel) or channel.startswith(("/", ".", "~", "\\")):
        return "local"
    scheme = _SCHEME.match(channel)
    if scheme:
        return "http" if scheme.group("scheme").lower() in ("http", "https") else "local"
    return "name" if _CHANNEL_NAME.match(channel) else "invalid"


def parse_condarc(
    text: str, path: Path, *, allow_local_channels: bool = False
) -> tuple[tuple[str, ...], list[Finding]]:
    try:
        data = yaml.load(text, Loader=_Loader) or {}  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        return DEFAULT_CHANNELS, [_yaml_error(path, exc, "condarc")]
    channels = data.get("channels") if isinstance(data, dict) else None
    if channels is None:
        return DEFAULT_CHANNELS, []
    if not isinstance(channels, list) or not all(isinstance(c, str) and c.strip() for c in channels):
        return DEFAULT_CHANNELS, [error(path, _key_lines(text).get("channels", 1), "condarc", "channels must be a list of names or URLs")]
    channels = [c.strip() for c in channels]
    lines = _channel_lines(text)
    findings = []
    for index, channel in enumerate(channels):
        line = lines[index] if index < len(lines) else _key_lines(text).get("channels", 1)
        kind = channel_kind(channel)
        if kind == "local" and not allow_local_channels:
            findings.append(error(
                path, line, "local-channel",
                f"channel '{channel}' is a local path or a non-http(s) URL, which the build cannot use and "
                "validation will not read; use a channel name or an https URL "
                "(a site with local channels sets `catalog: {allow_local_channels: true}` in jh_pipeline.yaml)",
            ))
        elif kind == "invalid":
            findings.append(error(path, line, "condarc", f"'{channel}' is neither a channel name nor a URL"))
    return tuple(channels), findings


def key_line(text: str, key: str) -> int:
    """Line of a top-level key of a YAML mapping (1 when it cannot be found)."""
    return _key_lines(text).get(key, 1)
