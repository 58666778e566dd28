"""Supplier feeds: reading them, mapping their columns and importing stock into product links."""
