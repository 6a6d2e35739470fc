"""Names in other languages beside the reference data (<table>.<language>.json): the Chinese
departments and places of the releases, read once with the rest; a file naming codes the
deployment does not have stops the start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.common.config import ConfigError, load_settings
from services.common.reference import DEFAULT_CONFIG_DIR, load


def test_the_default_reference_names_departments_and_places_in_chinese() -> None:
    ref = load(DEFAULT_CONFIG_DIR)
    zh = ref.names("departments", "zh-CN")
    assert set(zh) == set(ref.departments)
    assert zh["cac"] == "网信部门" and zh["miit"] == "工业和信息化部"
    assert ref.names("regions", "zh-CN")["330700"] == "浙江金华"
    # A language without names of its own: English departments, no places.
    assert ref.names("departments", "en") == ref.departments
    assert ref.names("regions", "en") == {}


def _config(tmp_path: Path, **files: object) -> Path:
    (tmp_path / "departments.json").write_text(json.dumps({"cac": "CAC", "office": "Office"}))
    (tmp_path / "categories.json").write_text(json.dumps({"fraud": "Fraud"}))
    for name, content in files.items():
        (tmp_path / name.replace("_", ".")).write_text(json.dumps(content))
    return tmp_path


def test_a_missing_name_falls_back_to_english(tmp_path: Path) -> None:
    ref = load(_config(tmp_path, **{"departments_zh-CN_json": {"cac": "网信部门"}}))
    assert ref.names("departments", "zh-CN") == {"cac": "网信部门", "office": "Office"}


@pytest.mark.parametrize(
    "files",
    [
        {"departments_zh-CN_json": {"mps": "公安部门"}},  # not a department here
        {"regions_zh-CN_json": {"Jinhua": "浙江金华"}},  # not a region code
        {"regions_zh-CN_json": ["330700"]},
    ],
)
def test_unusable_names_stop_the_start(tmp_path: Path, files: dict[str, object]) -> None:
    env = {"NETNET_DATA_DIR": str(tmp_path), "NETNET_CONFIG_DIR": str(_config(tmp_path, **files))}
    with pytest.raises(ConfigError, match="NETNET_CONFIG_DIR"):
        load_settings("gateway", env)
