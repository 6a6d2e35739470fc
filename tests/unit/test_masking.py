"""Names of parties: the masked form others see, and real names found in text to publish."""

from __future__ import annotations

import pytest

from services.cases.domain import COMPOUND_SURNAMES, PartyKind, mask_name, real_name_in


@pytest.mark.parametrize(
    ("real", "masked"),
    [
        ("江伟", "江某某"),
        ("朱大伟", "朱某某"),
        ("王", "王某某"),
        ("  李四  ", "李某某"),
        ("欧阳娜娜", "欧阳某某"),  # a compound surname is kept whole
        ("司马光", "司马某某"),
        ("诸葛亮", "诸葛某某"),
        ("欧娜", "欧某某"),  # 欧 alone is a surname of its own
        ("Zhu Dawei", "Zhu XX"),
        ("Zhu  Da Wei", "Zhu XX"),
        ("Zhudawei", "Z XX"),  # no surname to keep apart: only the initial
        ("", ""),
        ("   ", ""),
    ],
)
def test_masked_suspect(real: str, masked: str) -> None:
    assert mask_name(real) == masked
    assert mask_name(real, PartyKind.SUSPECT) == masked


@pytest.mark.parametrize("surname", COMPOUND_SURNAMES)
def test_every_compound_surname_is_kept(surname: str) -> None:
    assert mask_name(surname + "明") == surname + "某某"


@pytest.mark.parametrize("name", ["杭州某某网络科技有限公司", "Example Media Ltd", " 某传媒 "])
def test_organisations_are_not_masked(name: str) -> None:
    assert mask_name(name, PartyKind.ORGANISATION) == name.strip()


def test_a_masked_name_gives_no_more_than_the_surname() -> None:
    for real in ("江伟", "欧阳娜娜", "Zhu Dawei"):
        masked = mask_name(real)
        given = real.split()[-1] if " " in real else real[2 if real.startswith("欧阳") else 1 :]
        assert given not in masked


TEXT = "summary"


@pytest.mark.parametrize(
    ("names", "text", "found"),
    [
        (["江伟"], "江伟 ran the site", True),
        (["江伟"], "the suspect 江某某 ran the site", False),
        (["江大伟"], "大伟 ran the site", True),  # the given name alone
        (["江伟"], "伟 alone", False),  # a one-character given name is too common to refuse
        (["欧阳娜娜"], "娜娜 ran it", True),
        (["欧阳娜娜"], "欧阳某某 ran it", False),
        (["Zhu Dawei"], "zhu dawei ran it", True),  # whatever the case
        (["Zhu Dawei"], "Zhu   Dawei ran it", True),  # whatever the spacing
        (["Zhu Dawei"], "ZhuDawei ran it", True),
        (["Zhu Dawei"], "Dawei ran it", True),  # the given name alone
        (["Zhu Dawei"], "Daweis ran it", False),  # whole words only
        (["Zhu Dawei"], "Zhu XX ran it", False),
        (["Zhu Li"], "Li ran it", False),  # a given name under three letters alone is not
        (["  "], "anything", False),
        ([], "anything", False),
        (["江伟", "Zhu Dawei"], "only Dawei", True),
    ],
)
def test_real_name_in_text(names: list[str], text: str, found: bool) -> None:
    assert real_name_in({TEXT: text}, names) == (TEXT if found else None)


def test_real_name_in_names_the_first_field_that_holds_it() -> None:
    texts = {"title": "a case in Jinhua", "summary": "江伟 ran it", "outcome": "江伟 sentenced"}
    assert real_name_in(texts, ["江伟"]) == "summary"
    assert real_name_in({"title": "clean"}, ["江伟"]) is None
