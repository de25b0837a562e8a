"""A simulated bank, outside the product's code paths: it opens virtual accounts when the
platform asks, lets a citizen "transfer" into one (what their banking app would do), and
sends the platform a deposit notice signed with HMAC-SHA256, until it answers 2xx.

Run it as its own process (`localpay bank-sim serve`), or beside the server in `make run`.
The platform talks to it only through the Bank port (adapters/bank/http.py).
"""
