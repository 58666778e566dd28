"""Monitoring: sync health, queues, alert rules and channels, /metrics."""
