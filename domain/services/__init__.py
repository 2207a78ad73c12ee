"""Use cases: each takes the principal first, opens one transaction, and raises domain errors with codes."""
