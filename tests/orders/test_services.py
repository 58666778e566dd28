"""Order services on SQLite and PostgreSQL: status changes, bulk changes, lists, edits."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.core.errors import Conflict, NotFound, TransitionRefused, ValidationFailed
from app.core.events import bus
from app.extensions import db
from app.orders import services
from app.orders.models import Order, OrderStatusHistory
from app.orders.listing import OrderFilters, list_orders
from app.orders.services import Actor, ItemInput, OrderInput
from tests.factories import make_order, make_user


@pytest.fixture
def actor(app):
    return Actor.user(make_user("operator", name="Olga Operator"))


@pytest.fixture
def events():
    """Collect order.status_changed payloads at both moments."""
    seen = {"in_transaction": [], "after_commit": []}
    bus.subscribe(services.STATUS_CHANGED, "test.in_tx", "in_transaction")(seen["in_transaction"].append)
    bus.subscribe(services.STATUS_CHANGED, "test.after", "after_commit")(seen["after_commit"].append)
    yield seen
    bus.unsubscribe("test.in_tx")
    bus.unsubscribe("test.after")


def test_status_change_writes_order_and_history_together(app, actor, events):
    order = make_order("awaiting_payment")
    change = services.change_status(order.id, "paid", actor, "Paid by transfer")

    db.session.expire_all()
    order = db.session.get(Order, order.id)
    assert order.status == "paid"
    last = order.history[-1]
    assert (last.from_status, last.to_status, last.change_source, last.changed_by, last.comment) == (
        "awaiting_payment", "paid", "manual", "Olga Operator", "Paid by transfer")
    assert change.history_id == last.id
    assert [e["to_status"] for e in events["after_commit"]] == ["paid"]
    assert events["after_commit"][0]["change_source"] == "manual"


def test_refused_change_touches_nothing_and_says_why(app, actor, events):
    order = make_order("awaiting_payment")
    before = db.session.scalar(select(func.count(OrderStatusHistory.id)))

    with pytest.raises(TransitionRefused, match="only be requested after shipping"):
        services.change_status(order.id, "returned", actor)

    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "awaiting_payment"
    assert db.session.scalar(select(func.count(OrderStatusHistory.id))) == before
    assert events["after_commit"] == [] and events["in_transaction"] == []


def test_after_commit_handlers_never_see_a_rolled_back_change(app, actor, events):
    order = make_order("awaiting_payment")

    def explode(payload):
        raise RuntimeError("an in-transaction handler failed")

    bus.subscribe(services.STATUS_CHANGED, "test.explode", "in_transaction")(explode)
    try:
        with pytest.raises(RuntimeError):
            services.change_status(order.id, "paid", actor)
    finally:
        bus.unsubscribe("test.explode")
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "awaiting_payment"
    assert events["after_commit"] == []
    services.change_status(order.id, "paid", actor)  # the session is usable again
    assert [e["to_status"] for e in events["after_commit"]] == ["paid"]


def test_disabled_handlers_do_not_run(app, actor, events):
    app.config["DISABLED_EVENT_HANDLERS"] = frozenset({"test.after"})
    order = make_order("awaiting_payment")
    services.change_status(order.id, "paid", actor)
    assert events["after_commit"] == []
    assert len(events["in_transaction"]) == 1


def test_change_source_is_recorded(app):
    api_user = make_user("operator")
    order = make_order("paid")
    services.change_status(order.id, "picking", Actor.user(api_user, "api"))
    services.change_status(order.id, "shipped", Actor("Allegro", "platform"))
    sources = [h.change_source for h in db.session.get(Order, order.id).history]
    assert sources[-2:] == ["api", "platform"]


def test_unknown_order_is_not_found(app, actor):
    with pytest.raises(NotFound):
        services.change_status(999999, "paid", actor)


def test_bulk_change_reports_each_order(app, actor):
    payable = make_order("awaiting_payment")
    shipped = make_order("shipped")
    draft = make_order("draft")

    outcomes = services.bulk_change_status([payable.id, shipped.id, draft.id, 424242], "cancelled", actor)

    by_id = {o.order_id: o for o in outcomes}
    assert by_id[payable.id].changed and by_id[draft.id].changed
    assert not by_id[shipped.id].changed
    assert "cannot be cancelled" in by_id[shipped.id].reason
    assert by_id[424242].code == "not_found"
    db.session.expire_all()
    assert db.session.get(Order, shipped.id).status == "shipped"
    assert db.session.get(Order, payable.id).status == "cancelled"


def test_a_stale_write_is_refused_not_lost(app, actor):
    order = make_order("awaiting_payment")
    db.session.execute(
        Order.__table__.update().where(Order.id == order.id).values(revision=Order.revision + 1, status="paid")
    )
    db.session.commit()
    with pytest.raises(Conflict):
        services.update_order(order.id, OrderInput(customer_name="X", items=[ItemInput("A", 1, Decimal("1"))]),
                              actor, expected_revision=1)


def test_order_numbers_follow_the_scheme_and_never_repeat(app, actor):
    numbers = [make_order().number for _ in range(3)]
    year = datetime.now(timezone.utc).year
    assert numbers == [f"ZK/{year}/00001", f"ZK/{year}/00002", f"ZK/{year}/00003"]


def test_create_order_computes_totals_and_records_creation(app, actor):
    order = services.create_order(OrderInput(
        customer_name="Jan Kowalski", customer_email="JAN@example.com", shipping_gross=Decimal("12.99"),
        items=[ItemInput("Plecak", 2, Decimal("100.00"), Decimal("23")),
               ItemInput("Herbata", 1, Decimal("10.80"), Decimal("8"), discount_gross=Decimal("0.80"))],
    ), actor)
    assert order.subtotal_gross == Decimal("210.00")
    assert order.total_gross == Decimal("222.99")
    assert order.customer_email == "jan@example.com"
    assert order.history[0].to_status == "draft" and order.history[0].from_status is None
    assert [e.kind for e in order.events] == ["created"]


def test_create_order_refuses_bad_input_and_saves_nothing(app, actor):
    with pytest.raises(ValidationFailed, match="at least one item"):
        services.create_order(OrderInput(customer_name="Jan"), actor)
    with pytest.raises(ValidationFailed, match="quantity"):
        services.create_order(OrderInput(customer_name="Jan", items=[ItemInput("X", 0, Decimal("1"))]), actor)
    assert db.session.scalar(select(func.count(Order.id))) == 0


def test_update_order_keeps_status_and_logs_the_edit(app, actor):
    order = make_order("paid")
    services.update_order(order.id, OrderInput(
        customer_name="Anna Nowak-Kowalska", payment_status="paid",
        items=[ItemInput("Kubek", 3, Decimal("29.90"))]), actor, expected_revision=order.revision)
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    assert order.status == "paid" and order.customer_name == "Anna Nowak-Kowalska"
    assert order.total_gross == Decimal("89.70")
    assert order.events[-1].kind == "edited" and "payment pending → paid" in order.events[-1].data["detail"]


def test_list_filters_search_sort_and_paginate(app):
    now = datetime.now(timezone.utc)
    a = make_order("paid", customer="Zofia Wiśniewska", email="zofia@example.com", source="allegro",
                   external_order_id="ALG-777", payment_status="paid")
    b = make_order("paid", customer="Adam Mazur", source="prestashop", external_order_id="PS-1")
    c = make_order("shipped", customer="Ewa Zielińska", source="allegro")
    a.ordered_at = now - timedelta(days=10)
    db.session.commit()

    def ids(**args):
        return [o.id for o in list_orders(OrderFilters.from_args(args)).items]

    assert set(ids(status="paid")) == {a.id, b.id}
    assert ids(status="paid", source="allegro") == [a.id]
    assert ids(payment_status="paid") == [a.id]
    assert ids(q="alg-777") == [a.id]            # external id, case-insensitive
    assert ids(q="ZOFIA@") == [a.id]             # e-mail
    assert ids(q="mazur") == [b.id]              # customer name
    assert ids(q=b.number) == [b.id]             # number
    assert ids(date_to=(now - timedelta(days=5)).date().isoformat()) == [a.id]
    assert set(ids(date_from=(now - timedelta(days=1)).date().isoformat())) == {b.id, c.id}
    assert ids(sort="customer", direction="asc") == [b.id, c.id, a.id]
    page = list_orders(OrderFilters.from_args({"limit": "2", "page": "2"}))
    assert page.total == 3 and len(page.items) == 1 and page.pages == 2


def test_a_page_past_the_end_shows_the_last_page_and_no_match_counts_nothing(app):
    for status in ("paid", "paid", "paid", "shipped"):
        make_order(status)
    db.session.commit()

    past_the_end = list_orders(OrderFilters.from_args({"status": "paid", "limit": "2", "page": "9"}))
    assert (past_the_end.page, past_the_end.pages, past_the_end.total) == (2, 2, 3)
    assert len(past_the_end.items) == 1
    assert list_orders(OrderFilters.from_args({"status": "paid", "limit": "2"})).total == 3
    for page in ("1", "4"):
        nothing = list_orders(OrderFilters.from_args({"status": "cancelled", "page": page}))
        assert (nothing.items, nothing.total, nothing.page) == ([], 0, 1)


def test_bad_filter_values_are_reported_not_fatal(app):
    filters = OrderFilters.from_args({"date_from": "yesterday", "payment_status": "lots", "sort": "drop table"})
    assert filters.date_from is None and filters.payment_status == "" and filters.sort == "ordered_at"
    assert len(filters.errors) == 3  # the date, the payment status and the sort are each named
    assert list_orders(filters).total == 0


def test_timeline_shows_everything_newest_first(app, actor):
    order = make_order("awaiting_payment")
    services.change_status(order.id, "paid", actor)
    services.add_note(order.id, "Customer called", actor)
    entries = services.timeline(services.get_order(order.id, full=True))
    kinds = [e.kind for e in entries]
    assert kinds[0] == "note" and "status" in kinds and "created" in kinds
    assert entries == sorted(entries, key=lambda e: e.at, reverse=True)
    status_entry = next(e for e in entries if e.kind == "status" and e.status_to == "paid")
    assert status_entry.actor == "Olga Operator" and status_entry.title == "Status: Awaiting payment → Paid"


def test_empty_note_is_refused(app, actor):
    order = make_order()
    with pytest.raises(ValidationFailed):
        services.add_note(order.id, "   ", actor)
