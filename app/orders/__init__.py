"""Orders: the records, the status workflow, and the pages and API that move them."""
