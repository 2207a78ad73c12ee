"""Global ids (Relay) to database ids, for arguments and inputs."""

from __future__ import annotations

from strawberry import relay

from domain.errors import InvalidInput, NotFound

# Database ids start at 1: filtering on this matches nothing.
NO_SUCH_ID = -1


MAX_ID_DIGITS = 18  # database ids are PostgreSQL bigints: 18 digits always fit


def is_database_id(text: str) -> bool:
    """ASCII digits only (int() would take "٣" or " 5 "), and small enough for a bigint (a number past int64 is a
    driver error)."""
    return text.isascii() and text.isdigit() and len(text) <= MAX_ID_DIGITS


def database_id(text: object, field: str, what: str = "id") -> int:
    """A database id from client text; a malformed one is INVALID_ID naming the field, never a driver error."""
    value = str(text)
    if not is_database_id(value):
        raise InvalidInput("INVALID_ID", f"{field} is not a valid {what}", field=field)
    return int(value)


def global_id_to_int(global_id: relay.GlobalID, type_name: str, field: str = "id") -> int | None:
    """The database id behind a global id of `type_name`; None when it names another type."""
    if global_id.type_name != type_name:
        return None
    return database_id(global_id.node_id, field, f"{type_name} id")


def required_id(global_id: relay.GlobalID, type_name: str, what: str, field: str = "id") -> int:
    """The database id behind a global id that must name a `type_name`; NotFound (naming `what`) otherwise."""
    row_id = global_id_to_int(global_id, type_name, field)
    if row_id is None:
        raise NotFound(what, field=field)
    return row_id
