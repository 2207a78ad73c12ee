"""Per-request data loaders: related rows load in one query per kind, whatever the page size."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from strawberry.dataloader import DataLoader

from auth.principal import Principal
from domain.services import disputes, ledger, parties, party_kinds, payment_reads, refunds, rules, settlement_reads


class Loaders:
    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self.party: DataLoader[int, Any] = DataLoader(load_fn=self._load_parties)
        self.party_kind: DataLoader[int, Any] = DataLoader(load_fn=self._load_party_kinds)
        self.allocations: DataLoader[int, list[Any]] = DataLoader(load_fn=self._grouped(payment_reads.allocations_of))
        self.payment_lines: DataLoader[int, list[Any]] = DataLoader(load_fn=self._grouped(payment_reads.lines_of))
        self.rule_versions: DataLoader[int, list[Any]] = DataLoader(load_fn=self._grouped(rules.versions_of))
        self.postings: DataLoader[int, list[Any]] = DataLoader(load_fn=self._grouped(ledger.postings_of))
        self.releases: DataLoader[int, list[Any]] = DataLoader(load_fn=self._grouped(settlement_reads.releases_of))
        self.settlement_payout: DataLoader[int, Any] = DataLoader(load_fn=self._load_settlement_payouts)
        self.deliveries: DataLoader[int, list[Any]] = DataLoader(load_fn=self._grouped(settlement_reads.deliveries_of))
        self.payment_refunds: DataLoader[int, list[Any]] = DataLoader(
            load_fn=self._grouped(refunds.refunds_of_payments)
        )
        self.refund_reversals: DataLoader[int, list[Any]] = DataLoader(load_fn=self._grouped(refunds.reversals_of))
        self.disputes: DataLoader[int, list[Any]] = DataLoader(load_fn=self._grouped(disputes.disputes_of))

    def _grouped(self, fetch):
        async def load(ids: Sequence[int]) -> list[list[Any]]:
            found = await fetch(self.principal, list(ids))
            return [found.get(key, []) for key in ids]

        return load

    async def _load_parties(self, ids: Sequence[int]) -> list[Any]:
        found = await parties.parties_by_ids(self.principal, list(ids))
        return [found.get(party_id) for party_id in ids]

    async def _load_settlement_payouts(self, ids: Sequence[int]) -> list[Any]:
        found = await settlement_reads.payouts_of_settlements(self.principal, list(ids))
        return [found.get(settlement_id) for settlement_id in ids]

    async def _load_party_kinds(self, ids: Sequence[int]) -> list[Any]:
        found = await party_kinds.kinds_of(list(ids))
        return [found.get(party_id) for party_id in ids]
