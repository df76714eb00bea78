"""The application layer: the one place that changes complaints (transactions, timeline, outbox)."""
