"""Patch mechanics: JSON merge patch, and the field paths server-side apply tracks."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

Path = tuple[str, ...]


def leaf_paths(obj: dict[str, Any]) -> set[Path]:
    """Field paths an object sets, as server-side apply tracks ownership.

    Lists are atomic (one leaf); maps are walked. Server-set fields and status are excluded.
    """
    paths: set[Path] = set()

    def walk(value: Any, path: Path) -> None:
        if isinstance(value, dict) and value:
            for key, child in value.items():
                walk(child, (*path, key))
        else:
            paths.add(path)

    for key, value in obj.items():
        if key in ("apiVersion", "kind", "status"):
            continue
        if key == "metadata":
            for meta_key in ("labels", "annotations"):
                for label, label_value in (value.get(meta_key) or {}).items():
                    walk(label_value, ("metadata", meta_key, label))
            continue
        walk(value, (key,))
    return paths


MISSING = object()


def get_path(obj: Any, path: Path) -> Any:
    """The value at a field path, or ``MISSING``."""
    for part in path:
        if not isinstance(obj, dict) or part not in obj:
            return MISSING
        obj = obj[part]
    return obj


def delete_path(obj: dict[str, Any], path: Path) -> None:
    """Remove the field at a path, and maps left empty by that, in place."""
    parents: list[tuple[dict[str, Any], str]] = []
    current: Any = obj
    for part in path[:-1]:
        if not isinstance(current, dict) or part not in current:
            return
        parents.append((current, part))
        current = current[part]
    if isinstance(current, dict):
        current.pop(path[-1], None)
    # Remove maps left empty by the deletion, as apply does.
    for parent, part in reversed(parents):
        if parent[part] == {}:
            del parent[part]
        else:
            break


def deep_merge(target: dict[str, Any], source: dict[str, Any]) -> None:
    """Merge ``source`` into ``target``: maps recursively, everything else replaced."""
    for key, value in source.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            deep_merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (also used for strategic merge patch on these objects)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def fields_v1(paths: Iterable[Path]) -> dict[str, Any]:
    """Field paths in the ``fieldsV1`` format of ``metadata.managedFields``."""
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for part in path:
            node = node.setdefault(f"f:{part}", {})
    return tree
