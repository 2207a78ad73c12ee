"""Global ids (Relay) to database ids, for arguments and inputs."""

from __future__ import annotations

from strawberry import relay

from domain.errors import InvalidInput, NotFound

# Database ids start at 1: filtering on this matches nothing.
NO_SUCH_ID = -1


def global_id_to_int(global_id: relay.GlobalID, type_name: str, field: str = "id") -> int | None:
    """The database id behind a global id of `type_name`; None when it names another type."""
    if global_id.type_name != type_name:
        return None
    try:
        return int(global_id.node_id)
    except ValueError:
        raise InvalidInput("INVALID_ID", f"{field} is not a valid {type_name} id", field=field) from None


def required_id(global_id: relay.GlobalID, type_name: str, what: str, field: str = "id") -> int:
    """The database id behind a global id that must name a `type_name`; NotFound (naming `what`) otherwise."""
    row_id = global_id_to_int(global_id, type_name, field)
    if row_id is None:
        raise NotFound(what, field=field)
    return row_id
