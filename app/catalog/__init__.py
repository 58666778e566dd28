"""The seller's products and their links to each shop's products and combinations."""
