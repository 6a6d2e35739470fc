"""Reference data shared by every process: departments and categories (deploy/config)."""

from __future__ import annotations

import json
import os
import re
from functools import cache, lru_cache
from pathlib import Path

DEFAULT_CONFIG_DIR = Path(__file__).resolve().parents[2] / "deploy" / "config"
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
REGION = re.compile(r"^[1-9][0-9]{5}$")
COORDINATING_OFFICE = "office"


def _config_dir() -> Path:
    return Path(os.environ.get("NETNET_CONFIG_DIR") or DEFAULT_CONFIG_DIR)


@cache
def departments() -> dict[str, str]:
    return dict(json.loads((_config_dir() / "departments.json").read_text()))


@cache
def categories() -> dict[str, str]:
    return dict(json.loads((_config_dir() / "categories.json").read_text()))


# Checked for every record of an import, over a few values that repeat: remembered.
@lru_cache(maxsize=4096)
def is_slug(value: str) -> bool:
    return bool(SLUG.match(value))


@lru_cache(maxsize=4096)
def is_region(value: str) -> bool:
    return bool(REGION.match(value))
