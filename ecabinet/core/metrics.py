"""Prometheus metrics, one registry per application so that tests can build several apps."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.connected_clients = Gauge(
            "ecabinet_connected_clients",
            "Socket.IO clients connected to this process",
            registry=self.registry,
        )
        self.events_sent = Counter(
            "ecabinet_events_sent",
            "Meeting events published by this process",
            ["type"],
            registry=self.registry,
        )
        self.render_queue_depth = Gauge(
            "ecabinet_render_queue_depth",
            "Page renditions waiting to be rendered",
            registry=self.registry,
        )
        self.signins = Counter(
            "ecabinet_signins", "Sign-in attempts by outcome", ["outcome"], registry=self.registry
        )

    def track_render_queue(self, depth: Callable[[], float]) -> None:
        """Report the render queue's depth from the pipeline that owns it, read at scrape time."""
        self.render_queue_depth.set_function(depth)

    def render(self) -> bytes:
        return generate_latest(self.registry)
