"""Inbound flows reuse the push flows' PostgreSQL app and real worker processes."""

from tests.sync.conftest import pg_app, workers  # noqa: F401
