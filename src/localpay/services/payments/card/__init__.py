"""Prepaid cards: cards bound to wallets, terminals of merchants, and the authorization
logic behind the ISO 8583 host (entrypoints/cardhost)."""
