"""Adapters of the sales service's Bank port (services/sales/ports.py)."""
