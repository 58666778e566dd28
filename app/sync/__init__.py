"""Keeping platforms in step: the outbox of operations, pushes and pulls."""
