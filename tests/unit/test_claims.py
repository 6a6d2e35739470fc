"""The figures a typical case's text states, read in the shapes releases write them in, and
nothing else: a figure of something the case does not count is not read as one it does."""

from __future__ import annotations

import pytest

from services.cases.claims import (
    COUNTED,
    contradictions,
    stated_counts,
    stated_gains,
    stated_sentences,
)
from services.cases.domain import Facts
from services.common.numerals import Range


def _counts(text: str) -> list[tuple[str, str, Range]]:
    return [(s.what, s.words, s.values) for w in COUNTED for s in stated_counts(text, w)]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("涉案淫秽视频8000余部", [("video", "视频8000余部", Range(8_000, 9_000))]),
        ("淫秽图片5万余张", [("picture", "图片5万余张", Range(50_000, 60_000))]),
        ("下载800余款正版游戏", [("game", "800余款正版游戏", Range(800, 900))]),
        ("传播受众10万余人", [("customers", "受众10万余人", Range(100_000, 200_000))]),
        ("涉案账号1200个", [("account", "账号1200个", Range(1_150, 1_250))]),
        ("受害人共计12名", [("victims", "受害人共计12名", Range(12, 13))]),
        (
            "More than 8,000 obscene videos",
            [("video", "More than 8,000 obscene videos", Range(8_000, 9_000))],
        ),
        ("about 300 victims", [("victims", "about 300 victims", Range(200, 400))]),
        # Not counts of what a case records.
        ("3个月内传播视频", []),
        ("police went to 7 provinces and cities", []),
        ("In 3 months the funds involved exceeded 36 million yuan", []),
        ("抓获犯罪嫌疑人107名", []),
    ],
)
def test_counts(text: str, found: list[tuple[str, str, Range]]) -> None:
    assert _counts(text) == found


def test_gains_and_sentences() -> None:
    text = (
        "非法获利200余万元，违法涉案资金3600余万元；with illegal gains of more than 2 million "
        "yuan. 主犯被判处有期徒刑6年，另1人被判处有期徒刑三年六个月、1人有期徒刑10个月；"
        "sentenced to six years in prison and 3 years and 6 months' imprisonment, "
        "suspended for 4 years."
    )
    assert [(s.words, s.values) for s in stated_gains(text)] == [
        ("非法获利200余万元", Range(200_000_000, 300_000_000)),  # in fen
        ("illegal gains of more than 2 million yuan", Range(200_000_000, 300_000_000)),
    ]
    assert [m for _, m in stated_sentences(text)] == [72, 42, 10, 72, 42]


def test_unrecorded_facts_are_not_contradicted() -> None:
    text = "非法获利3万余元，涉案视频8000余部，被判处有期徒刑3年。"
    assert contradictions({"summary": text}, Facts(), []) == []
    bad = contradictions(
        {"summary": text}, Facts(illegal_gains_fen=100, items=[("videos", 7)]), [12]
    )
    assert [v.field for v in bad] == ["summary"] * 3
