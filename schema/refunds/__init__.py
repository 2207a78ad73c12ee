"""Refunds: money back to a buyer, what each party gave back of its share, and what is still refundable."""
