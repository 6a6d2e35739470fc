"""Import files (CSV or JSON lines) read into protobuf records, one bad row at a time."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.sites.v1 import sites_pb2 as spb


class RowError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


@dataclass
class Row:
    line: int
    values: dict[str, str]
    raw: str


def read_rows(path: Path) -> Iterator[Row | RowError]:
    """Rows of a .csv (header line) or .jsonl file, with their line numbers."""
    suffix = path.suffix.lower()
    with path.open(newline="", encoding="utf-8") as f:
        if suffix == ".csv":
            reader = csv.DictReader(f)
            for values in reader:
                line = reader.line_num
                extra = values.pop(None, None)  # type: ignore[call-overload]
                if extra:
                    yield RowError(f"line {line}", "more values than columns")
                    continue
                clean = {k.strip(): (v or "").strip() for k, v in values.items() if k}
                yield Row(line, clean, json.dumps(clean, sort_keys=True))
        elif suffix in (".jsonl", ".ndjson", ".json"):
            for line, text in enumerate(f, start=1):
                if not text.strip():
                    continue
                try:
                    data = json.loads(text)
                    if not isinstance(data, dict):
                        raise ValueError("not an object")
                except ValueError as e:
                    yield RowError(f"line {line}", f"not a JSON object ({e})")
                    continue
                clean = {str(k): "" if v is None else str(v).strip() for k, v in data.items()}
                yield Row(line, clean, json.dumps(clean, sort_keys=True))
        else:
            raise ValueError(f"{path}: use a .csv or .jsonl file")


def _enum(enum: Any, prefix: str, field: str, value: str, required: bool = True) -> int:
    if not value:
        if required:
            raise RowError(field, "required")
        return 0
    name = prefix + value.strip().upper().replace("-", "_").replace(" ", "_")
    try:
        return int(enum.Value(name))
    except ValueError:
        choices = ", ".join(
            n.removeprefix(prefix).lower() for n in enum.keys() if not n.endswith("UNSPECIFIED")
        )
        raise RowError(field, f"{value!r} is not one of {choices}") from None


def _time(field: str, value: str) -> Timestamp | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RowError(field, f"{value!r} is not an ISO 8601 time") from None
    ts = Timestamp()
    ts.FromDatetime(when if when.tzinfo else when.replace(tzinfo=UTC))
    return ts


def _request_id(row: Row) -> str:
    """The row's own request_id, else one derived from its content: a re-run adds nothing."""
    return (
        row.values.get("request_id") or "row-" + hashlib.sha256(row.raw.encode()).hexdigest()[:24]
    )


def account_action(row: Row) -> apb.ActionInput:
    v = row.values
    action = apb.ActionInput(
        request_id=_request_id(row),
        account=apb.AccountRef(
            platform=v.get("platform", ""),
            platform_uid=v.get("platform_uid", ""),
            kind=_enum(apb.AccountKind, "ACCOUNT_KIND_", "kind", v.get("kind", "")),  # type: ignore[arg-type]
            handle=v.get("handle", ""),
        ),
        action=_enum(apb.ActionType, "ACTION_TYPE_", "action", v.get("action", "")),  # type: ignore[arg-type]
        category=v.get("category", ""),
        legal_basis=v.get("legal_basis", ""),
        department=v.get("department", ""),
        region=v.get("region", ""),
        campaign_id=v.get("campaign_id", ""),
        special_action=v.get("special_action", ""),
        case=v.get("case", ""),
    )
    for field in ("effective_time", "suspend_until"):
        ts = _time(field, v.get(field, ""))
        if ts is not None:
            getattr(action, field).CopyFrom(ts)
    return action


def content_disposition(row: Row) -> spb.DispositionInput:
    v = row.values
    item = spb.DispositionInput(
        request_id=_request_id(row),
        site=spb.SiteRef(
            kind=_enum(
                spb.SiteKind,
                "SITE_KIND_",
                "site_kind",  # type: ignore[arg-type]
                v.get("site_kind", "") or "website",
            ),
            identifier=v.get("site", ""),
        ),
        locator=v.get("locator", ""),
        content_sha256=v.get("content_sha256", "").lower(),
        perceptual_hash=v.get("perceptual_hash", "").lower(),
        category=v.get("category", ""),
        measure=_enum(spb.Measure, "MEASURE_", "measure", v.get("measure", "")),  # type: ignore[arg-type]
        handler=_enum(spb.Handler, "HANDLER_", "handler", v.get("handler", "")),  # type: ignore[arg-type]
        department=v.get("department", ""),
        campaign_id=v.get("campaign_id", ""),
        special_action=v.get("special_action", ""),
    )
    ts = _time("effective_time", v.get("effective_time", ""))
    if ts is not None:
        item.effective_time.CopyFrom(ts)
    return item
