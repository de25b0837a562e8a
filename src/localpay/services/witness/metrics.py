"""The witness's Prometheus metrics, served by its health server (entrypoints/witness)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from localpay.services.witness.alarms import REASONS


class WitnessMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.alarm = Gauge(
            "localpay_witness_alarm",
            "1 while the witness refuses the city's chain, by reason",
            ["reason"],
            registry=self.registry,
        )
        for reason in REASONS:
            self.alarm.labels(reason).set(0)
        self.height = Gauge(
            "localpay_witness_verified_height",
            "Height of the newest block verified and stored",
            registry=self.registry,
        )
        self.server_height = Gauge(
            "localpay_witness_server_height",
            "Height of the server's newest block, as last seen",
            registry=self.registry,
        )
        self.signed_size = Gauge(
            "localpay_witness_signed_size",
            "Tree size of the newest checkpoint cosigned",
            registry=self.registry,
        )
        self.transactions = Counter(
            "localpay_witness_transactions",
            "Transactions re-executed",
            registry=self.registry,
        )
        self.posts = Counter(
            "localpay_witness_cosignature_posts",
            "Cosignatures posted, by HTTP status (0: not delivered)",
            ["status"],
            registry=self.registry,
        )
        self.peer_checks = Counter(
            "localpay_witness_peer_checks",
            "Peers' co-signed checkpoints found to agree with the own copy",
            registry=self.registry,
        )
        self.feed_errors = Counter(
            "localpay_witness_feed_errors",
            "Feed requests that got no page",
            registry=self.registry,
        )
