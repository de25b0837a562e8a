"""Online checkout: intents created by merchant servers, approved by citizens in the wallet,
captured, cancelled and refunded."""
