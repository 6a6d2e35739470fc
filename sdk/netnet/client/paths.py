"""Resource names (AIP-122) of every Net Net resource: `case_path(7)` is "cases/7", and
`parse_case_path("cases/7")` is {"case": "7"} ({} when the name is not of that pattern)."""

from __future__ import annotations

import re


def _format(pattern: str, **ids: int | str) -> str:
    for key, value in ids.items():
        text = str(value)
        if not text or "/" in text:
            raise ValueError(f"{key} must be a non-empty id without '/': {value!r}")
    return pattern.format(**{k: str(v) for k, v in ids.items()})


def _parse(pattern: str, name: str) -> dict[str, str]:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
    match = re.fullmatch(regex, name)
    return match.groupdict() if match else {}


def account_path(account: int | str) -> str:
    """accounts/{account}"""
    return _format("accounts/{account}", account=account)


def parse_account_path(name: str) -> dict[str, str]:
    """The ids in a name of the form accounts/{account}."""
    return _parse("accounts/{account}", name)


def account_action_path(account: int | str, action: int | str) -> str:
    """accounts/{account}/actions/{action}"""
    return _format("accounts/{account}/actions/{action}", account=account, action=action)


def parse_account_action_path(name: str) -> dict[str, str]:
    """The ids in a name of the form accounts/{account}/actions/{action}."""
    return _parse("accounts/{account}/actions/{action}", name)


def site_path(site: int | str) -> str:
    """sites/{site}"""
    return _format("sites/{site}", site=site)


def parse_site_path(name: str) -> dict[str, str]:
    """The ids in a name of the form sites/{site}."""
    return _parse("sites/{site}", name)


def site_action_path(site: int | str, action: int | str) -> str:
    """sites/{site}/actions/{action}"""
    return _format("sites/{site}/actions/{action}", site=site, action=action)


def parse_site_action_path(name: str) -> dict[str, str]:
    """The ids in a name of the form sites/{site}/actions/{action}."""
    return _parse("sites/{site}/actions/{action}", name)


def disposition_path(site: int | str, disposition: int | str) -> str:
    """sites/{site}/dispositions/{disposition}"""
    return _format("sites/{site}/dispositions/{disposition}", site=site, disposition=disposition)


def parse_disposition_path(name: str) -> dict[str, str]:
    """The ids in a name of the form sites/{site}/dispositions/{disposition}."""
    return _parse("sites/{site}/dispositions/{disposition}", name)


def notice_batch_path(notice_batch: int | str) -> str:
    """noticeBatches/{notice_batch}"""
    return _format("noticeBatches/{notice_batch}", notice_batch=notice_batch)


def parse_notice_batch_path(name: str) -> dict[str, str]:
    """The ids in a name of the form noticeBatches/{notice_batch}."""
    return _parse("noticeBatches/{notice_batch}", name)


def campaign_path(campaign: int | str) -> str:
    """campaigns/{campaign}"""
    return _format("campaigns/{campaign}", campaign=campaign)


def parse_campaign_path(name: str) -> dict[str, str]:
    """The ids in a name of the form campaigns/{campaign}."""
    return _parse("campaigns/{campaign}", name)


def case_path(case: int | str) -> str:
    """cases/{case}"""
    return _format("cases/{case}", case=case)


def parse_case_path(name: str) -> dict[str, str]:
    """The ids in a name of the form cases/{case}."""
    return _parse("cases/{case}", name)


def party_path(case: int | str, party: int | str) -> str:
    """cases/{case}/parties/{party}"""
    return _format("cases/{case}/parties/{party}", case=case, party=party)


def parse_party_path(name: str) -> dict[str, str]:
    """The ids in a name of the form cases/{case}/parties/{party}."""
    return _parse("cases/{case}/parties/{party}", name)


def case_event_path(case: int | str, event: int | str) -> str:
    """cases/{case}/events/{event}"""
    return _format("cases/{case}/events/{event}", case=case, event=event)


def parse_case_event_path(name: str) -> dict[str, str]:
    """The ids in a name of the form cases/{case}/events/{event}."""
    return _parse("cases/{case}/events/{event}", name)


def clue_path(clue: int | str) -> str:
    """clues/{clue}"""
    return _format("clues/{clue}", clue=clue)


def parse_clue_path(name: str) -> dict[str, str]:
    """The ids in a name of the form clues/{clue}."""
    return _parse("clues/{clue}", name)


def handover_path(clue: int | str, handover: int | str) -> str:
    """clues/{clue}/handovers/{handover}"""
    return _format("clues/{clue}/handovers/{handover}", clue=clue, handover=handover)


def parse_handover_path(name: str) -> dict[str, str]:
    """The ids in a name of the form clues/{clue}/handovers/{handover}."""
    return _parse("clues/{clue}/handovers/{handover}", name)


def typical_case_path(typical_case: int | str) -> str:
    """typicalCases/{typical_case}"""
    return _format("typicalCases/{typical_case}", typical_case=typical_case)


def parse_typical_case_path(name: str) -> dict[str, str]:
    """The ids in a name of the form typicalCases/{typical_case}."""
    return _parse("typicalCases/{typical_case}", name)


__all__ = [
    "account_action_path",
    "account_path",
    "campaign_path",
    "case_event_path",
    "case_path",
    "clue_path",
    "disposition_path",
    "handover_path",
    "notice_batch_path",
    "parse_account_action_path",
    "parse_account_path",
    "parse_campaign_path",
    "parse_case_event_path",
    "parse_case_path",
    "parse_clue_path",
    "parse_disposition_path",
    "parse_handover_path",
    "parse_notice_batch_path",
    "parse_party_path",
    "parse_site_action_path",
    "parse_site_path",
    "parse_typical_case_path",
    "party_path",
    "site_action_path",
    "site_path",
    "typical_case_path",
]
