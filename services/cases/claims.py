"""The figures a typical case's text states (illegal gains, items, customers, victims,
sentences), read in Chinese or English, against what its case records.

A plain check, not a parser of prose: a figure counts only where it stands in one of the
shapes below, next to its words ("非法获利3万余元", "淫秽视频8000余部", "800余款正版游戏",
"判处有期徒刑3年", "illegal gains of more than 2 million yuan", "more than 8,000 obscene
videos", "6 years' imprisonment"). Its range is what the words state (services.common.numerals:
"余"/"more than" a lower bound up to one more in its last place, "约"/"about" a place either
way, a plain figure rounded to its place). A fact the case does not record (zero, no such
item, no sentence) is not contradicted by anything. Funds involved (涉案资金) are not illegal
gains and are not compared with them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from services.cases.domain import Facts
from services.common.errors import FieldViolation
from services.common.numerals import Range, read, small

NUM = r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
ZH_BEFORE = r"(?P<q>超过|超|逾|约|近|达|共计|共|累计|合计)?\s*"
ZH_AFTER = r"\s*(?P<m1>余|多)?\s*(?P<mult>千|万|亿)?\s*(?P<m2>余|多)?"
EN_BEFORE = (
    r"(?:(?P<q>more than|over|exceeded|exceeding|above|about|around|approximately|nearly"
    r"|almost|some)\s+)?"
)
EN_AFTER = r"(?:\s+(?P<mult>thousand|million|billion))?"
ZH_GAP = r"[^，。；！？、,.;\d]"  # within one clause, no other figure between
MEASURE = r"(?:个|部|张|款|条|段|幅|件|套|人|名|位|GB|G)(?!月|小时)"
EN_WORDS = {
    w: i
    for i, w in enumerate(
        "one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split(),
        start=1,
    )
}
ZH_SMALL = r"\d+|[一二两三四五六七八九十]+"
EN_SMALL = r"\d+|" + "|".join(EN_WORDS)

# What a case's facts count, and the words a text counts it with: (Chinese, English).
COUNTED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "video": (("视频",), ("videos?",)),
    "picture": (("图片", "照片"), ("pictures?", "photos?", "images?")),
    "game": (("游戏",), ("games?",)),
    "account": (("账号", "帐号"), ("accounts?",)),
    "website": (("网站",), ("websites?",)),
    "app": (("App", "APP", "应用程序"), ("apps?",)),
    "group": (("群组",), ("groups?",)),
    "customers": (("受众", "客户", "顾客", "传播人数"), ("customers?", "clients?", "buyers?")),
    "victims": (("受害人", "被害人", "受害者"), ("victims?",)),
}


def _zh_count(nouns: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The noun then its figure ("淫秽视频8000余部"), or the figure then its noun ("800余款
    正版游戏")."""
    words = "|".join(nouns)
    return (
        re.compile(rf"(?:{words}){ZH_GAP}{{0,3}}?{ZH_BEFORE}{NUM}{ZH_AFTER}\s*{MEASURE}"),
        re.compile(rf"{ZH_BEFORE}{NUM}{ZH_AFTER}\s*{MEASURE}{ZH_GAP}{{0,6}}?(?:{words})"),
    )


def _en_count(nouns: tuple[str, ...]) -> re.Pattern[str]:
    words = "|".join(nouns)
    return re.compile(
        rf"\b{EN_BEFORE}{NUM}{EN_AFTER}(?:\s+[A-Za-z-]+){{0,2}}?\s+(?:{words})\b", re.I
    )


COUNT_PATTERNS = {what: (*_zh_count(zh), _en_count(en)) for what, (zh, en) in COUNTED.items()}
GAINS = (
    re.compile(
        rf"(?:非法获利|违法所得|非法所得|非法收入|获利|牟利)"
        rf"{ZH_GAP}{{0,8}}?{ZH_BEFORE}{NUM}{ZH_AFTER}\s*元"
    ),
    re.compile(
        r"illegal (?:gains|profits?|benefits|income|proceeds)"
        rf"\b[^.;\d]{{0,40}}?{EN_BEFORE}{NUM}{EN_AFTER}\s*(?:yuan|RMB)",
        re.I,
    ),
)
SENTENCES = (
    re.compile(
        rf"有期徒刑\s*(?:(?P<years>{ZH_SMALL})\s*年(?:\s*(?P<months>{ZH_SMALL})\s*个月)?"
        rf"|(?P<only>{ZH_SMALL})\s*个月)"
    ),
    re.compile(
        rf"\b(?:(?P<years>{EN_SMALL})[ -]years?['’]?(?:\s+and\s+(?P<months>{EN_SMALL})"
        rf"[ -]months?['’]?)?|(?P<only>{EN_SMALL})[ -]months?['’]?)"
        r"\s+(?:of\s+)?(?:imprisonment|in prison|prison term)",
        re.I,
    ),
)
YUAN = 100  # fen


@dataclass(frozen=True)
class Stated:
    """A figure a text states: its words, what it counts, and the values it allows."""

    words: str
    what: str
    values: Range


def _range(m: re.Match[str], scale: int = 1) -> Range:
    groups = m.groupdict()
    qualifier = groups.get("q") or groups.get("m1") or groups.get("m2") or ""
    return read(m.group("num"), groups.get("mult") or "", qualifier, scale)


def _small(word: str) -> int:
    return EN_WORDS.get(word.lower()) or small(word)


def stated_gains(text: str) -> Iterator[Stated]:
    for pattern in GAINS:
        for m in pattern.finditer(text):
            yield Stated(m.group(0), "illegal gains", _range(m, YUAN))


def stated_counts(text: str, what: str) -> Iterator[Stated]:
    for pattern in COUNT_PATTERNS[what]:
        for m in pattern.finditer(text):
            yield Stated(m.group(0), what, _range(m))


def stated_sentences(text: str) -> Iterator[tuple[str, int]]:
    """Each prison term the text states, in months."""
    for pattern in SENTENCES:
        for m in pattern.finditer(text):
            years, months, only = m.group("years"), m.group("months"), m.group("only")
            term = _small(only) if only else 12 * _small(years) + (_small(months) if months else 0)
            yield m.group(0), term


def _recorded_counts(facts: Facts) -> dict[str, int]:
    counts: dict[str, int] = {}
    for kind, n in facts.items:
        key = kind.strip().lower()
        key = key if key in COUNTED else key.removesuffix("s")
        if key in COUNTED:
            counts[key] = counts.get(key, 0) + n
    counts["customers"] = facts.customers
    counts["victims"] = facts.victim_count
    return {k: n for k, n in counts.items() if n > 0}


def contradictions(
    texts: dict[str, str], facts: Facts, sentences: list[int]
) -> list[FieldViolation]:
    """Every figure of the texts (field -> text) that the recorded facts contradict, as a
    violation of its field naming both; sentences: the terms recorded, in months."""
    out: list[FieldViolation] = []
    counts = _recorded_counts(facts)
    for field, text in texts.items():
        if not text:
            continue
        if facts.illegal_gains_fen > 0:
            for s in stated_gains(text):
                if not s.values.holds(facts.illegal_gains_fen):
                    out.append(
                        FieldViolation(
                            field,
                            f"says “{s.words}” ({s.values.describe(YUAN)} yuan); the case "
                            f"records illegal gains of {facts.illegal_gains_fen / YUAN:,.2f} yuan",
                        )
                    )
        for what, recorded in counts.items():
            for s in stated_counts(text, what):
                if not s.values.holds(recorded):
                    out.append(
                        FieldViolation(
                            field,
                            f"says “{s.words}” ({s.values.describe()} {what}); the case "
                            f"records {recorded:,} {what}",
                        )
                    )
        if sentences:
            for words, months in stated_sentences(text):
                if months not in sentences:
                    terms = ", ".join(f"{m} months" for m in sorted(set(sentences)))
                    out.append(
                        FieldViolation(
                            field,
                            f"says “{words}” ({months} months); the case records sentences "
                            f"of {terms}",
                        )
                    )
    return out
