"""Reference data shared by every process: departments and categories (deploy/config).

Read once at start into the settings (services/common/config.py, from NETNET_CONFIG_DIR) and
handed to what checks records against it; nothing here reads the environment."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

DEFAULT_CONFIG_DIR = Path(__file__).resolve().parents[2] / "deploy" / "config"
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
REGION = re.compile(r"^[1-9][0-9]{5}$")
COORDINATING_OFFICE = "office"


@dataclass(frozen=True)
class Reference:
    """The deployment's departments and categories: code -> name, in the files' order (a
    lookup is one dict probe: an import checks every record)."""

    departments: Mapping[str, str]
    categories: Mapping[str, str]
    # The departments' names in Chinese, where departments.zh-CN.json gives them (the
    # dashboard's labels); the same shape as departments.json, so its readers are unchanged.
    departments_zh: Mapping[str, str] = field(default_factory=dict)


def _table(path: Path) -> dict[str, str]:
    table = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(table, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in table.items()
    ):
        raise ValueError(f"{path.name} must map codes to names")
    return dict(table)


def load(directory: Path) -> Reference:
    """Read departments.json and categories.json, and departments.zh-CN.json where there is
    one (OSError or ValueError when unusable)."""
    departments, categories = (
        _table(directory / f"{n}.json") for n in ("departments", "categories")
    )
    zh = directory / "departments.zh-CN.json"
    departments_zh = _table(zh) if zh.exists() else {}
    unknown = set(departments_zh) - set(departments)
    if unknown:
        raise ValueError(f"{zh.name} names unknown departments: {', '.join(sorted(unknown))}")
    return Reference(departments, categories, departments_zh)


# Checked for every record of an import, over a few values that repeat: remembered.
@lru_cache(maxsize=4096)
def is_slug(value: str) -> bool:
    return bool(SLUG.match(value))


@lru_cache(maxsize=4096)
def is_region(value: str) -> bool:
    return bool(REGION.match(value))
