"""Disputes (chargebacks): the type, reads, and opening and resolving them."""
