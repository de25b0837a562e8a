"""Sales (구매/충전): orders, the bank's deposit notices, cancellations and refunds."""
