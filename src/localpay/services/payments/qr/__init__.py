"""QR payments: EMVCo merchant-presented codes (static and dynamic) and the customer-presented
one-time code."""
