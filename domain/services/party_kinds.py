"""The kind of each party named by id, to give every party id in the API the global-id type of its kind.

This reads no row a caller could not otherwise learn about: it is asked only for ids the caller was already given
(in rule legs, allocations, postings, events), and it answers a kind, nothing else. The party itself is still read
through auth/scoping.py."""

from __future__ import annotations

from domain.models import Party
from domain.parties import PartyKind


async def kinds_of(party_ids: list[int]) -> dict[int, PartyKind]:
    rows = await Party.filter(id__in=party_ids).values_list("id", "kind")
    return {party_id: PartyKind(kind) for party_id, kind in rows}
