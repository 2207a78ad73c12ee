"""Per-request data loaders: related rows load in one query per kind, whatever the page size."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from strawberry.dataloader import DataLoader

from auth.principal import Principal
from domain.services import parties


class Loaders:
    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self.party: DataLoader[int, Any] = DataLoader(load_fn=self._load_parties)

    async def _load_parties(self, ids: Sequence[int]) -> list[Any]:
        found = await parties.parties_by_ids(self.principal, list(ids))
        return [found.get(party_id) for party_id in ids]
