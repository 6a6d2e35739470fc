"""Reference data is read once, into the settings, from NETNET_CONFIG_DIR; a directory that
holds none stops the process with a message naming the variable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.common.config import ConfigError, load_settings
from services.common.reference import DEFAULT_CONFIG_DIR


def _env(config_dir: Path | None = None) -> dict[str, str]:
    env = {"NETNET_DATA_DIR": "/tmp/netnet-reference-test"}
    if config_dir is not None:
        env["NETNET_CONFIG_DIR"] = str(config_dir)
    return env


def test_settings_hold_the_deployment_reference_data(tmp_path: Path) -> None:
    default = load_settings("accounts", _env()).reference
    assert default.departments == json.loads((DEFAULT_CONFIG_DIR / "departments.json").read_text())
    assert default.categories == json.loads((DEFAULT_CONFIG_DIR / "categories.json").read_text())
    (tmp_path / "departments.json").write_text(json.dumps({"cac": "CAC", "office": "Office"}))
    (tmp_path / "categories.json").write_text(json.dumps({"fraud": "Fraud"}))
    ours = load_settings("accounts", _env(tmp_path)).reference
    assert list(ours.departments) == ["cac", "office"] and dict(ours.categories) == {
        "fraud": "Fraud"
    }
    # Chinese names beside the file, in its shape: every default department has one.
    zh = default.names("departments", "zh-CN")
    assert set(zh) == set(default.departments) and zh != default.departments
    assert ours.names("departments", "zh-CN") == ours.departments  # none: the English ones
    (tmp_path / "departments.zh-CN.json").write_text(json.dumps({"mps": "公安"}))
    with pytest.raises(ConfigError, match=r"NETNET_CONFIG_DIR.*not departments"):
        load_settings("accounts", _env(tmp_path))


@pytest.mark.parametrize(
    ("departments", "categories"),
    [
        (None, {"fraud": "Fraud"}),  # a file missing
        ("not json", {"fraud": "Fraud"}),
        (["cac"], {"fraud": "Fraud"}),  # not a table of codes to names
        ({"cac": "CAC"}, {"fraud": 3}),
    ],
)
def test_unusable_reference_data_stops_the_start_naming_the_variable(
    tmp_path: Path, departments: object, categories: object
) -> None:
    for name, content in (("departments", departments), ("categories", categories)):
        if content is not None:
            text = content if isinstance(content, str) else json.dumps(content)
            (tmp_path / f"{name}.json").write_text(text)
    with pytest.raises(ConfigError, match="NETNET_CONFIG_DIR"):
        load_settings("accounts", _env(tmp_path))
