"""Class folder names -> Dagster asset key parts (`[a-z0-9_]+`)."""

import re

_INVALID = re.compile(r"[^a-z0-9_]+")


def class_key(folder_name: str) -> str:
    """Normalise a class folder name into a valid asset key part.

    Lowercase, and every run of other characters becomes one `_`, so
    `CS-101.spring` -> `cs_101_spring`.
    """
    key = _INVALID.sub("_", folder_name.strip().lower()).strip("_")
    return key or "_"


def is_class_key(name: str) -> bool:
    return class_key(name) == name
