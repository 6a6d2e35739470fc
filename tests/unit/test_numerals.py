"""Figures written as the seed's Chinese release writes them ("822起", "40余万条", "4800余个",
"15万余条", "800余万个", "2000余万条", "3600余万元", "5万余张"), and any written figure read
back as the range it states: a figure written here always states the value it was made from."""

from __future__ import annotations

import random
import re

import pytest

from gateway.bulletin import people_number
from services.common.numerals import Range, read, small, zh_number


@pytest.mark.parametrize(
    ("n", "written"),
    [
        # The seed's figures (June to August 2021), each from a count that gives it.
        (822, "822"),  # 查处涉网行政和刑事案件822起
        (403_215, "40余万"),  # 处置低俗有害信息40余万条
        (4_812, "4800余"),  # 关闭网站4800余个
        (20_345_678, "2000余万"),  # 督促网站平台清理低俗有害信息2000余万条
        (8_012_345, "800余万"),  # 处置违法违规账号800余万个
        (153_210, "15万余"),  # 清理有害信息15万余条
        (4_012, "4000余"),  # 处置违规账号4000余个
        (1_312, "1300余"),  # 关闭问题群组1300余个
        (8_012, "8000余"),  # 淫秽视频8000余部
        (50_321, "5万余"),  # 淫秽图片5万余张
        (36_123_456, "3600余万"),  # 涉案资金3600余万元
        (2_012_345, "200余万"),  # 非法获利200余万元
        # Exact below 1,000, and where nothing is cut off.
        (0, "0"),
        (6, "6"),
        (250, "250"),
        (999, "999"),
        (1_000, "1000"),
        (4_800, "4800"),
        (10_000, "1万"),
        (400_000, "40万"),
        (20_000_000, "2000万"),
        # Two significant digits: a decimal in 万 or 亿 where the second digit falls there.
        (53_210, "5.3万余"),
        (8_123_456, "810余万"),
        (100_321, "10余万"),
        (123_456_789, "1.2亿余"),
        (1_000_000_000, "10亿"),
        (2_000_000_001, "20余亿"),
        (15_000_000_000, "150亿"),
        (15_600_000_000, "150余亿"),
    ],
)
def test_zh_number(n: int, written: str) -> None:
    assert zh_number(n) == written


ZH = re.compile(r"^(\d+(?:\.\d+)?)(余)?(万|亿)?(余)?$")


def _read_zh(written: str) -> Range:
    number, before, unit, after = ZH.fullmatch(written).groups()  # type: ignore[union-attr]
    return read(number, unit or "", before or after or "")


def test_a_written_figure_states_the_value_it_was_written_from() -> None:
    rng = random.Random(2021)
    values = [*range(0, 2_000), *(int(10 ** rng.uniform(3, 11)) for _ in range(5_000))]
    values += [10**k + d for k in range(3, 12) for d in (-1, 0, 1)]
    for n in values:
        assert _read_zh(zh_number(n)).holds(n), (n, zh_number(n))


@pytest.mark.parametrize(
    ("number", "multiplier", "qualifier", "low", "high"),
    [
        ("40", "万", "余", 400_000, 500_000),
        ("15", "万", "余", 150_000, 160_000),
        ("4800", "", "余", 4_800, 4_900),
        ("5.3", "万", "余", 53_000, 54_000),
        ("822", "", "", 822, 823),
        ("1200", "", "", 1_150, 1_250),
        ("8,000", "", "more than", 8_000, 9_000),
        ("8.1", "million", "more than", 8_100_000, 8_200_000),
        ("36", "million", "exceeded", 36_000_000, 37_000_000),
        ("2", "million", "", 1_500_000, 2_500_000),
        ("3", "万", "约", 20_000, 40_000),
        ("0", "", "", 0, 1),
    ],
)
def test_read(number: str, multiplier: str, qualifier: str, low: int, high: int) -> None:
    assert read(number, multiplier, qualifier) == Range(low, high)


def test_read_in_fen() -> None:
    assert read("3", "万", "余", scale=100) == Range(3_000_000, 4_000_000)
    assert read("3", "万", "余", scale=100).describe(100) == "30,000 to 39,999.99"
    assert read("822", scale=100).describe(100) == "821.50 to 822.49"  # to the yuan
    assert read("822").describe() == "822"


def test_people_number_reads_back_too() -> None:
    english = re.compile(r"^(more than )?([\d,.]+)( million)?$")
    rng = random.Random(7)
    for n in [*range(0, 1_500), *(int(10 ** rng.uniform(3, 10)) for _ in range(2_000))]:
        more, number, million = english.fullmatch(people_number(n)).groups()  # type: ignore[union-attr]
        assert read(number, (million or "").strip(), (more or "").strip()).holds(n), n


@pytest.mark.parametrize(
    ("word", "value"), [("6", 6), ("六", 6), ("两", 2), ("十", 10), ("十二", 12), ("二十", 20)]
)
def test_small(word: str, value: int) -> None:
    assert small(word) == value


@pytest.mark.parametrize("word", ["", "六六", "十十", "一百", "x"])
def test_not_small(word: str) -> None:
    with pytest.raises(ValueError):
        small(word)


def test_not_a_number() -> None:
    with pytest.raises(ValueError):
        read("1.2.3")
    with pytest.raises(ValueError):
        zh_number(-1)
