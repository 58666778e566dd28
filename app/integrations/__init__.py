"""Connections to the platforms orders come from: their records, clients and settings pages."""
