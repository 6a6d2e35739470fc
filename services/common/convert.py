"""Protobuf helpers shared by servicers: timestamps, stats rows, audit entries, changes."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from netnet.common.v1 import common_pb2
from services.common import audit, changes, rollups
from services.common.clock import day_of
from services.common.errors import FieldViolation, InvalidArgument, Violations
from services.common.reference import Reference, is_slug

DIMENSIONS = {
    common_pb2.DIMENSION_DEPARTMENT: "department",
    common_pb2.DIMENSION_ACTION: "action",
    common_pb2.DIMENSION_CATEGORY: "category",
    common_pb2.DIMENSION_CAMPAIGN: "campaign_id",
    common_pb2.DIMENSION_SPECIAL_ACTION: "special_action",
    common_pb2.DIMENSION_DAY: "day",
}


# What google.protobuf.Timestamp allows: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
MIN_SECONDS, MAX_SECONDS = -62_135_596_800, 253_402_300_799
BAD_TIMESTAMP = "not a valid timestamp (years 1 to 9999, nanos 0 to 999,999,999)"


def valid_timestamp(ts: Timestamp) -> bool:
    return MIN_SECONDS <= ts.seconds <= MAX_SECONDS and 0 <= ts.nanos < 1_000_000_000


def to_us(ts: Timestamp, present: bool = True, field: str = "time") -> int | None:
    """Microseconds, or None for an unset timestamp. A caller's timestamp that no Timestamp
    may hold is INVALID_ARGUMENT naming field (an import refuses only its record)."""
    if not present or (ts.seconds == 0 and ts.nanos == 0):
        return None
    if not valid_timestamp(ts):
        raise InvalidArgument([FieldViolation(field, BAD_TIMESTAMP)])
    return ts.seconds * 1_000_000 + ts.nanos // 1000


# Bounds of a stats filter's lists: values per list, characters per value.
MAX_FILTER_VALUES = 100
MAX_FILTER_VALUE = 64


def checked_us(ts: Timestamp, present: bool, field: str, v: Violations) -> int | None:
    """A timestamp a caller sent, in microseconds (None when unset), or its violation noted
    under field when it lies outside the range a Timestamp may hold."""
    if not present:
        return None
    if not v.check(valid_timestamp(ts), field, BAD_TIMESTAMP):
        return None
    return to_us(ts)


def to_ts(us: int | None) -> Timestamp | None:
    if us is None:
        return None
    seconds, micros = divmod(us, 1_000_000)
    return Timestamp(seconds=seconds, nanos=micros * 1000)


def stats_query(
    f: common_pb2.StatsFilter,
    group_by: list[int],
    v: Violations,
    ref: Reference,
    prefix: str = "",
) -> rollups.StatsQuery:
    groups = []
    for i, g in enumerate(group_by):
        if v.check(g in DIMENSIONS, f"{prefix}group_by[{i}]", "unknown dimension"):
            v.check(DIMENSIONS[g] not in groups, f"{prefix}group_by[{i}]", "repeated dimension")
            groups.append(DIMENSIONS[g])
    start = checked_us(f.start_time, f.HasField("start_time"), f"{prefix}filter.start_time", v)
    end = checked_us(f.end_time, f.HasField("end_time"), f"{prefix}filter.end_time", v)
    for name, values, known in (
        ("departments", f.departments, ref.departments),
        ("categories", f.categories, ref.categories),
        ("actions", f.actions, None),
    ):
        field = f"{prefix}filter.{name}"
        if v.check(len(values) <= MAX_FILTER_VALUES, field, f"at most {MAX_FILTER_VALUES} values"):
            for i, value in enumerate(values):
                if known is not None:
                    v.check(value in known, f"{field}[{i}]", "unknown value")
                else:
                    v.check(
                        0 < len(value) <= MAX_FILTER_VALUE,
                        f"{field}[{i}]",
                        f"1 to {MAX_FILTER_VALUE} characters",
                    )
    for name in ("campaign_id", "special_action"):
        value = getattr(f, name)
        v.check(not value or is_slug(value), f"{prefix}filter.{name}", "must be a slug")
    v.check(
        start is None or end is None or start < end,
        f"{prefix}filter.end_time",
        "must be after start_time",
    )
    return rollups.StatsQuery(
        departments=tuple(f.departments),
        actions=tuple(f.actions),
        categories=tuple(f.categories),
        campaign_id=f.campaign_id,
        special_action=f.special_action,
        start_day=day_of(start) if start is not None else "",
        end_day=day_of(end) if end is not None else "",
        group_by=tuple(groups),
    )


def stats_row(row: rollups.StatsRow) -> common_pb2.StatsRow:
    pb = common_pb2.StatsRow(count=row.count, **row.keys)
    if row.distinct is not None:
        pb.distinct_subjects = row.distinct
    return pb


def audit_entry(e: audit.Entry) -> common_pb2.AuditEntry:
    return common_pb2.AuditEntry(
        seq=e.seq,
        time=to_ts(e.time_us),
        operator=e.operator,
        department=e.department,
        method=e.method,
        resource=e.resource,
        request_id=e.request_id,
        outcome=e.outcome,
        prev_hash=e.prev_hash,
        hash=e.hash,
        data=e.data,
        data_hash=e.data_hash,
        token_id=e.token_id,
    )


def verification(r: audit.Verification) -> common_pb2.AuditVerification:
    return common_pb2.AuditVerification(
        ok=r.ok,
        entries_checked=r.checked,
        first_bad_seq=r.first_bad_seq,
        problem=r.problem,
        data_rows_checked=r.rows_checked,
        checkpoints_checked=r.checkpoints_checked,
        newest_checkpoint_seq=r.newest_checkpoint_seq,
        head_seq=r.head_seq,
        keyed_from_seq=r.keyed_from,
    )


def checkpoint(c: common_pb2.AuditCheckpoint) -> audit.Checkpoint:
    return audit.Checkpoint(
        c.service, c.seq, c.hash, c.keyed_from_seq, c.time.ToMicroseconds(), c.mac
    )


def change_event(c: changes.Change) -> common_pb2.ChangeEvent:
    return common_pb2.ChangeEvent(
        seq=c.seq,
        time=to_ts(c.time_us or None),  # a withheld change has no time
        kind=c.kind,  # type: ignore[arg-type]
        resource=c.resource,
        department=c.department,
        campaign_id=c.campaign_id,
        count=c.count,
    )
