"""Money going out: delivery confirmations, releases from escrow, settlement runs and statements, shares by state."""
