"""Prometheus metrics of the engine, per channel, on a registry passed in (one per app, so
tests and several engines in one process never collide)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest

__all__ = ["CONTENT_TYPE", "Metrics"]

# The *_created series double every counter on the wire and no dashboard of ours reads them.
disable_created_metrics()

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.messages = Counter("shopbot_messages", "Inbound messages handled", ["channel"], registry=r)
        self.replies = Counter("shopbot_replies", "Replies delivered whole", ["channel"], registry=r)
        self.errors = Counter("shopbot_errors", "Messages that ended in an error", ["channel", "code"], registry=r)
        self.tokens = Counter("shopbot_generated_tokens", "Tokens written by the model", ["channel"], registry=r)
        self.latency = Histogram(
            "shopbot_reply_seconds",
            "Message received to whole reply",
            ["channel"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.first_token = Histogram(
            "shopbot_first_token_seconds",
            "Message received to the first reply text",
            ["channel"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.corrected = Counter(
            "shopbot_replies_corrected",
            "Replies that stated something the facts do not and were replaced by the safe answer",
            ["channel"],
            registry=r,
        )
        self.intents = Counter("shopbot_intents", "Shopper messages by intent", ["intent"], registry=r)
        self.handovers = Counter("shopbot_handovers", "Conversations handed to a person", ["reason"], registry=r)
        self.injections = Counter(
            "shopbot_injections_blocked",
            "Prompt-injection attempts refused (message) and replies withheld for leaking instructions (reply)",
            ["stage"],
            registry=r,
        )
        self.in_progress = Gauge("shopbot_replies_in_progress", "Replies being written now", registry=r)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
