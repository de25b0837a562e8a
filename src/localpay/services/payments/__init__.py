"""The payment channels: QR codes (qr/), prepaid cards on the shops' terminals (card/) and
online checkout (checkout/). Each ends in the ledger's own commands, with the same rules."""
