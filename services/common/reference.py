"""Reference data shared by every process: departments and categories (deploy/config), and
their names in other languages with the regions' place names (the releases' words).

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
# Names in another language: <table>.<language>.json, e.g. departments.zh-CN.json.
NAMED = ("departments", "categories", "regions")
TRANSLATION = re.compile(
    r"^(departments|categories|regions)\.([a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*)\.json$"
)

Names = Mapping[str, str]


@dataclass(frozen=True)
class Reference:
    """The deployment's departments and categories: code -> name (in English), in the files'
    order (a lookup is one dict probe: an import checks every record). translations:
    language -> table (departments, categories, regions) -> code -> name; regions are named
    only there (a place as a release in that language writes it, e.g. 330700 -> 浙江金华)."""

    departments: Mapping[str, str]
    categories: Mapping[str, str]
    translations: Mapping[str, Mapping[str, Names]] = field(default_factory=dict)

    def names(self, table: str, language: str) -> Names:
        """A table's names in a language: its own names where it has them, else the
        English ones (regions have none)."""
        english: Names = getattr(self, table, {}) if table != "regions" else {}
        own = self.translations.get(language, {}).get(table, {})
        return {**english, **own} if own else english


def _table(path: Path) -> dict[str, str]:
    table = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(table, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in table.items()
    ):
        raise ValueError(f"{path.name} must map codes to names")
    return dict(table)


def load(directory: Path) -> Reference:
    """Read departments.json and categories.json, and the names in other languages beside
    them (OSError or ValueError when unusable)."""
    departments, categories = (_table(directory / f"{n}.json") for n in NAMED[:2])
    known = {"departments": departments, "categories": categories}
    translations: dict[str, dict[str, Names]] = {}
    for path in sorted(directory.glob("*.*.json")):
        match = TRANSLATION.match(path.name)
        if not match:
            continue
        table, language = match.groups()
        names = _table(path)
        unknown = [
            code
            for code in names
            if (code not in known[table] if table in known else not is_region(code))
        ]
        if unknown:
            raise ValueError(f"{path.name} names codes that are not {table}: {unknown[:5]}")
        translations.setdefault(language, {})[table] = names
    return Reference(departments, categories, translations)


# Checked for every record of an import, over a few values that repeat: remembered.
@lru_cache(maxsize=4096)
def is_slug(value: str) -> bool:
    return bool(SLUG.match(value))


@lru_cache(maxsize=4096)
def is_region(value: str) -> bool:
    return bool(REGION.match(value))
