"""Reference data shared by every process: departments and categories (deploy/config).

Read once at start into the settings (services/common/config.py, from NETNET_CONFIG_DIR) and
handed to what checks records against it; nothing here reads the environment."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
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


def load(directory: Path) -> Reference:
    """Read departments.json and categories.json (OSError or ValueError when unusable)."""
    found = []
    for name in ("departments", "categories"):
        table = json.loads((directory / f"{name}.json").read_text())
        if not isinstance(table, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in table.items()
        ):
            raise ValueError(f"{name}.json must map codes to names")
        found.append(dict(table))
    return Reference(*found)


# Checked for every record of an import, over a few values that repeat: remembered.
@lru_cache(maxsize=4096)
def is_slug(value: str) -> bool:
    return bool(SLUG.match(value))


@lru_cache(maxsize=4096)
def is_region(value: str) -> bool:
    return bool(REGION.match(value))
