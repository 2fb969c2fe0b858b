"""Prometheus metrics of the webhook sender (docs/operations.md "Webhooks")."""

from prometheus_client import Counter, Histogram

attempts = Counter(
    "callboard_webhook_attempts_total",
    "Delivery attempts written, by the delivery's status after it (succeeded, retrying, failed).",
    ["status"],
)
attempt_seconds = Histogram(
    "callboard_webhook_attempt_seconds",
    "Time of one delivery attempt, from resolving the host to the answer's body.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30),
)
claimed = Counter("callboard_webhook_claimed_total", "Deliveries the sender claimed (each attempt once).")
