"""The shop's counter: what merchant staff do (refunds, payouts, signed by the server with
the merchant's custodial key) and see (today's payments, live as they commit)."""
