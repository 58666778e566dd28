"""Tasks the job tests enqueue; they prove a worker runs jobs with the app and its database."""

from app.orders.services import Actor, change_status


def mark_paid(order_id: int) -> str:
    """Move an order to paid as an automation would."""
    return change_status(order_id, "paid", Actor("Payment watcher", "automation")).new_status
