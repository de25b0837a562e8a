"""Settlement and reserves: merchants' balances and citizens' payouts to won in their
bank accounts, the bank's files both ways, reconciliation, proof of reserves."""
