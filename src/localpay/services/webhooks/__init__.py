"""Webhooks: every state change of a merchant's checkouts, delivered from the committed chain
with Standard Webhooks signatures, retried, logged and replayable."""
