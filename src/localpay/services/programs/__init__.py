"""Policy money: eligibility off the chain and disbursement batches."""
