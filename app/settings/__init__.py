"""Seller-configurable settings: order statuses and order numbering."""
