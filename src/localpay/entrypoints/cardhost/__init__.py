"""The ISO 8583 authorization host over TCP: terminals reach the card service through it."""
