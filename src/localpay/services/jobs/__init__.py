"""Scheduled jobs: expiry at Korean midnight, lapsed orders, month-end cashback; notices."""
