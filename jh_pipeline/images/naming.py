"""Image names (pure): where a class's images live in the registry."""

from __future__ import annotations


def image_repository(registry: str, class_key: str) -> str:
    return f"{registry.rstrip('/')}/{class_key}" if registry else class_key


__all__ = ["image_repository"]
