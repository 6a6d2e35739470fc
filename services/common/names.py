"""Resource names (collection/{id}/...) to integer ids and back."""

from __future__ import annotations

from services.common.errors import FieldViolation, InvalidArgument


def parse(name: str, field: str, *collections: str) -> tuple[int, ...]:
    """'accounts/7/actions/9' with ('accounts', 'actions') -> (7, 9); else INVALID_ARGUMENT."""
    parts = name.split("/")
    pattern = "/".join(f"{c}/{{id}}" for c in collections)
    if len(parts) != 2 * len(collections) or parts[0::2] != list(collections):
        raise InvalidArgument([FieldViolation(field, f"must look like {pattern}")])
    ids = []
    for part in parts[1::2]:
        if not part.isdigit() or not 0 < int(part) < 2**63:
            raise InvalidArgument([FieldViolation(field, f"must look like {pattern}")])
        ids.append(int(part))
    return tuple(ids)
