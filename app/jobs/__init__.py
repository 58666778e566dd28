"""Background work: queues, the recurring schedule, and the thin tasks RQ runs."""
