"""What one shipment push does with each platform answer (in-process, against the fakes over real HTTP)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.core.errors import ValidationFailed
from app.core.types import utcnow
from app.extensions import db
from app.integrations.base import CarrierDTO
from app.orders.models import Order, OrderEvent
from app.orders.services import Actor
from app.orders.shipments import ShipmentInput, add_shipment
from app.sync import outbox
from app.sync.models import SyncOperation
from app.sync.operations import retry as retry_operation
from app.sync.shipments import SHIPMENT_PUSH, allegro_carrier
from tests.factories import make_integration, make_order

MANUAL = Actor("Olga Operator", "manual")
ALLEGRO_CARRIERS = [CarrierDTO("POCZTA_POLSKA", "Poczta Polska"), CarrierDTO("INPOST", "InPost"),
                    CarrierDTO("DPD", "DPD"), CarrierDTO("OTHER", "OTHER")]


# --- choosing Allegro's carrier (pure) ---------------------------------------------------------

def test_the_integrations_carrier_table_wins_and_allegro_is_not_asked():
    def never() -> list[CarrierDTO]:
        raise AssertionError("the carriers list was fetched although the table answers")

    assert allegro_carrier("Kurier Jan", {"kurier  jan": "DPD"}, never) == ("DPD", "")


@pytest.mark.parametrize("kontor_name, expected", [
    ("InPost", ("INPOST", "")), ("inpost", ("INPOST", "")), ("Poczta Polska", ("POCZTA_POLSKA", "")),
    ("poczta-polska", ("POCZTA_POLSKA", "")), ("DPD", ("DPD", "")),
    ("Kurier Jan", ("OTHER", "Kurier Jan")),
    ("Przewozy Regionalne Wielkopolska Ekspres", ("OTHER", "Przewozy Regionalne Wielkopols")),
    ("Other", ("OTHER", "Other")),
])
def test_other_carriers_are_matched_by_name_or_go_as_other(kontor_name, expected):
    assert allegro_carrier(kontor_name, {}, lambda: ALLEGRO_CARRIERS) == expected


# --- recording ---------------------------------------------------------------------------------

@pytest.fixture
def shop(app, fake_prestashop):
    return make_integration("prestashop", direction="push", settings={"shop_url": fake_prestashop.url,
                                                                      "language_id": 1},
                            credentials={"api_key": fake_prestashop.api_key})


@pytest.fixture
def allegro(app, fake_allegro):
    access, refresh = fake_allegro.issue_tokens()
    integration = make_integration("allegro", direction="both", settings={
        "environment": "sandbox", "client_id": fake_allegro.client_id, "api_url": fake_allegro.api_url,
        "auth_url": fake_allegro.auth_url, "carriers": {"Kurier Jan": "DPD"}},
        credentials={"client_secret": fake_allegro.client_secret, "access_token": access, "refresh_token": refresh})
    integration.token_expires_at = utcnow() + timedelta(hours=12)
    db.session.commit()
    return integration


def ship(order: Order, number: str, carrier: str = "InPost", service: str = "", actor: Actor = MANUAL):
    """Add a shipment as a seller would and run the push it queued (if any), as a worker would."""
    add_shipment(order.id, ShipmentInput(carrier, number, service), actor)
    operation = db.session.scalars(select(SyncOperation).where(SyncOperation.order_id == order.id,
                                                               SyncOperation.kind == SHIPMENT_PUSH)
                                   .order_by(SyncOperation.id.desc())).first()
    if operation is None:
        return None
    outbox.deliver(operation.id)
    db.session.expire_all()
    return db.session.get(SyncOperation, operation.id)


def timeline(order: Order) -> list[tuple[str, str]]:
    return [(e.kind, e.message) for e in db.session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id))]


def operations() -> int:
    return db.session.scalar(select(func.count(SyncOperation.id)))


def test_a_manual_shipment_on_an_order_from_no_platform_writes_no_operation(app):
    order = make_order("paid")
    assert ship(order, "6000123") is None
    assert operations() == 0
    assert [s.tracking_number for s in db.session.get(Order, order.id).shipments] == ["6000123"]
    assert timeline(order)[-1] == ("shipment_added", "Shipment added: InPost, tracking 6000123")


def test_nothing_is_queued_for_an_integration_that_does_not_push_or_for_a_platform_change(app, fake_prestashop):
    pulling = make_integration("prestashop", direction="pull")
    order = make_order("paid", integration_id=pulling.id, external_order_id="5")
    assert ship(order, "6000123") is None
    pushing = make_integration("prestashop", direction="push")
    imported = make_order("paid", integration_id=pushing.id, external_order_id="6")
    assert ship(imported, "6000124", actor=Actor("PrestaShop", "platform")) is None  # never echoed back
    assert operations() == 0


def test_a_bad_tracking_number_is_refused_with_the_reason_and_nothing_is_saved(app):
    order = make_order("paid")
    for data, field, words in ((ShipmentInput("", "123"), "carrier", "Name the carrier"),
                               (ShipmentInput("DPD", " "), "tracking_number", "Enter the tracking number"),
                               (ShipmentInput("DPD", "12<34>"), "tracking_number", "letters, digits"),
                               (ShipmentInput("DPD", "1" * 65), "tracking_number", "at most 64")):
        with pytest.raises(ValidationFailed) as refused:
            add_shipment(order.id, data, MANUAL)
        assert refused.value.field == field and words in refused.value.message
    add_shipment(order.id, ShipmentInput("DPD", "6000123"), MANUAL)
    with pytest.raises(ValidationFailed, match="already has a shipment with tracking number 6000123"):
        add_shipment(order.id, ShipmentInput("InPost", "6000123"), MANUAL)
    assert len(db.session.get(Order, order.id).shipments) == 1


def test_two_parcels_are_two_operations_not_one(shop, fake_prestashop):
    order = make_order("paid", integration_id=shop.id, external_order_id=fake_prestashop.add_order())
    add_shipment(order.id, ShipmentInput("DPD", "A-1"), MANUAL)
    add_shipment(order.id, ShipmentInput("DPD", "A-2"), MANUAL)
    payloads = [op.payload["tracking_number"] for op in db.session.scalars(select(SyncOperation))]
    assert payloads == ["A-1", "A-2"]


# --- Allegro -----------------------------------------------------------------------------------

def test_allegro_gets_the_waybill_on_the_orders_line_items(allegro, fake_allegro, retry_sleeps):
    checkout_id = fake_allegro.add_order(status="PROCESSING")
    order = make_order("paid", integration_id=allegro.id, external_order_id=checkout_id)

    operation = ship(order, "6000123", carrier="InPost", service="Paczkomat")

    assert operation.state == "done"
    assert operation.result == "Tracking 6000123 sent to " + allegro.name + " (INPOST)."
    [post] = fake_allegro.shipment_posts
    assert (post["waybill"], post["carrier_id"], post["carrier_name"]) == ("6000123", "INPOST", None)
    assert post["line_items"] == fake_allegro.orders[checkout_id]["line_items"]
    assert ("shipment_push_done", operation.result) in timeline(order)
    assert fake_allegro.spec_violations == []


def test_allegro_carrier_table_and_unknown_carriers(allegro, fake_allegro, retry_sleeps):
    mapped = make_order("paid", integration_id=allegro.id, external_order_id=fake_allegro.add_order())
    unknown = make_order("paid", integration_id=allegro.id, external_order_id=fake_allegro.add_order())

    assert ship(mapped, "KJ-1", carrier="Kurier Jan").state == "done"
    assert ship(unknown, "ZX-9", carrier="Kurier Zenek").state == "done"

    assert [(p["waybill"], p["carrier_id"], p["carrier_name"]) for p in fake_allegro.shipment_posts] == [
        ("KJ-1", "DPD", None), ("ZX-9", "OTHER", "Kurier Zenek")]
    assert fake_allegro.spec_violations == []


def test_a_number_allegro_already_lists_is_done_without_a_post(allegro, fake_allegro, retry_sleeps):
    checkout_id = fake_allegro.add_order()
    fake_allegro.add_waybill(checkout_id, "6000123")  # added in Moje Allegro
    order = make_order("paid", integration_id=allegro.id, external_order_id=checkout_id)

    operation = ship(order, "6000123")

    assert operation.state == "done" and operation.result == f"{allegro.name} already had tracking 6000123; nothing sent."
    assert fake_allegro.shipment_posts == []


def test_a_lost_answer_is_confirmed_not_resent(allegro, fake_allegro, retry_sleeps):
    checkout_id = fake_allegro.add_order()
    order = make_order("paid", integration_id=allegro.id, external_order_id=checkout_id)
    fake_allegro.fail_next(1, 503, on="POST /order/checkout-forms/.*/shipments", after=True)

    operation = ship(order, "6000123")

    assert operation.state == "done"
    assert "confirmed on the platform after an unanswered write" in operation.result
    assert fake_allegro.waybills(checkout_id) == ["6000123"]


def test_allegro_refusing_the_number_fails_at_once_in_words(allegro, fake_allegro, retry_sleeps):
    order = make_order("paid", integration_id=allegro.id, external_order_id=fake_allegro.add_order())
    fake_allegro.fail_next(1, 422, on="POST")

    operation = ship(order, "6000123")

    assert operation.state == "failed" and operation.attempts == 1
    kind, message = timeline(order)[-1]
    assert kind == "shipment_push_failed"
    assert message.startswith(f"Sending tracking 6000123 to {allegro.name} failed: Allegro answered HTTP 422")


def test_allegro_down_is_retried_later_with_the_time_in_words(allegro, fake_allegro, retry_sleeps):
    order = make_order("paid", integration_id=allegro.id, external_order_id=fake_allegro.add_order())
    fake_allegro.fail_rate, fake_allegro.fail_status = 1.0, 503

    operation = ship(order, "6000123")

    assert operation.state == "pending" and operation.attempts == 1 and "HTTP 503" in operation.last_error
    kind, message = timeline(order)[-1]
    assert kind == "shipment_push_retry" and "(attempt 1)" in message and "Retrying at" in message
    fake_allegro.clear_faults()
    retry_operation(operation.id, MANUAL)
    outbox.deliver(operation.id)
    assert fake_allegro.waybills(order.external_order_id) == ["6000123"]


# --- PrestaShop --------------------------------------------------------------------------------

@pytest.mark.parametrize("switch", [False, True])
def test_prestashop_gets_the_number_on_the_order_carrier_and_mails_per_the_switch(shop, fake_prestashop,
                                                                                   retry_sleeps, switch):
    shop.settings = {**shop.settings, "tracking_email": switch}
    db.session.commit()
    external_id = fake_prestashop.add_order(state="3")
    order = make_order("paid", integration_id=shop.id, external_order_id=external_id)

    operation = ship(order, "6000123", carrier="DPD")

    assert operation.state == "done"
    assert fake_prestashop.tracking_numbers(external_id) == ["6000123"]
    [put] = fake_prestashop.carrier_puts
    assert put["sendemail"] is switch
    assert [m["template"] for m in fake_prestashop.emails] == (["in_transit"] if switch else [])
    assert ("the shop asked to e-mail the customer" if switch else "no e-mail to the customer") in operation.result
    [row] = fake_prestashop.order_carriers.values()
    assert (row["id_carrier"], row["shipping_cost_tax_incl"]) == ("2", "8.610000")  # the rest of the row kept


def test_prestashop_already_with_that_number_is_done_without_a_put(shop, fake_prestashop, retry_sleeps):
    external_id = fake_prestashop.add_order()
    next(iter(fake_prestashop.order_carriers.values()))["tracking_number"] = "6000123"
    order = make_order("paid", integration_id=shop.id, external_order_id=external_id)

    operation = ship(order, "6000123")

    assert operation.state == "done" and "already had tracking 6000123" in operation.result
    assert fake_prestashop.carrier_puts == []


def test_a_newer_number_supersedes_an_older_one_still_waiting(shop, fake_prestashop, retry_sleeps):
    external_id = fake_prestashop.add_order()
    order = make_order("paid", integration_id=shop.id, external_order_id=external_id)
    add_shipment(order.id, ShipmentInput("DPD", "OLD-1"), MANUAL)
    add_shipment(order.id, ShipmentInput("DPD", "NEW-2"), MANUAL)
    first, second = db.session.scalars(select(SyncOperation).order_by(SyncOperation.id)).all()

    assert outbox.deliver(second.id).startswith("not due")  # the order's older push goes first
    outbox.deliver(first.id)
    outbox.deliver(second.id)

    db.session.expire_all()
    assert db.session.get(SyncOperation, first.id).state == "superseded"
    assert "tracking NEW-2 was added after it" in db.session.get(SyncOperation, first.id).result
    assert fake_prestashop.tracking_numbers(external_id) == ["NEW-2"]


def test_an_order_without_a_carrier_row_fails_and_says_so(shop, fake_prestashop, retry_sleeps):
    order = make_order("paid", integration_id=shop.id,
                       external_order_id=fake_prestashop.add_order(carrier=False))

    operation = ship(order, "6000123")

    assert operation.state == "failed" and "no order_carriers row" in operation.last_error


def test_the_outbox_hands_each_kind_to_its_own_deliverer(app):
    assert set(outbox.DELIVERERS) >= {"status_push", SHIPMENT_PUSH}
    assert outbox.deliver(12345) == "the operation no longer exists"
    stray = make_integration("prestashop")
    operation = outbox.record("stock_push", stray.id, {}, order_id=None)
    db.session.commit()
    with pytest.raises(LookupError, match="No deliverer registered for sync operations of kind 'stock_push'"):
        outbox.deliver(operation.id)
    assert db.session.get(SyncOperation, operation.id).state == "pending"  # left for a Kontor that knows it
