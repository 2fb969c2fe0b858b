"""Prometheus metrics of the realtime engine (docs/reference/rest.md#documents-and-operations)."""

import functools

from prometheus_client import Counter, Gauge, Histogram

events_emitted = Counter(
    "callboard_events_emitted_total", "Events emitted (counted when recorded, before commit).", ["type"]
)
events_published = Counter("callboard_events_published_total", "Events handed to Redis.")
publish_failures = Counter("callboard_event_publish_failures_total", "Publishes that failed.")
events_swept = Counter("callboard_events_swept_total", "Events the sweeper had to publish.")
reaction_triggers_lost = Counter(
    "callboard_reaction_triggers_lost_total",
    "Runs of a workspace's reactions that could not be enqueued after a commit (the sweep runs them).",
)
reaction_triggers_coalesced = Counter(
    "callboard_reaction_triggers_coalesced_total",
    "Commits that enqueued no run of their workspace's reactions: a run was queued and not yet started.",
)
reaction_retention_overruns = Counter(
    "callboard_reaction_retention_overruns_total",
    "Workspaces whose events past REALTIME_HISTORY_HOURS a trim kept because the reaction has not "
    "handled them, counted at each trim.",
    ["reaction"],
)
events_delivered = Counter(
    "callboard_events_delivered_total", "Event frames queued for stream clients (one per client)."
)
connections = Gauge(
    "callboard_stream_connections", "Open stream connections.", ["stream"], multiprocess_mode="livesum"
)


@functools.lru_cache(maxsize=16)
def open_connections(stream: str):
    """The gauge of one stream kind (labels() is too slow to call per connect)."""
    return connections.labels(stream)
delivery_lag = Histogram(
    "callboard_event_delivery_lag_seconds",
    "From an event's timestamp to its fan-out in a streaming process.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
unreadable_messages = Counter(
    "callboard_realtime_unreadable_messages_total", "Pub/sub messages the hub dropped as unreadable."
)
lag_warnings = Counter("callboard_stream_lag_warnings_total", "lag-warning events sent.")
overflow_closes = Counter(
    "callboard_stream_overflow_closes_total", "Streams closed at the hard buffer limit."
)
