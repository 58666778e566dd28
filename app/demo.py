"""Demo data: orders across every status, payment status and source, with all they carry, and a
warehouse holding the demo products with some of it reserved for open orders.

Rows are written in bulk with explicit ids (and PostgreSQL sequences moved past them), so
100,000 orders for the benchmark take seconds, not minutes.
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select, text, update

from app.catalog.models import Product
from app.core import cache
from app.core.types import utcnow
from app.extensions import db
from app.orders.models import (
    PAYMENT_STATUSES,
    Order,
    OrderAddress,
    OrderItem,
    OrderNote,
    OrderPayment,
    OrderShipment,
    OrderStatusHistory,
)
from app.orders.services import Actor
from app.settings.services import status_defs
from app.stock import documents, reservations, warehouses
from app.stock.models import StockLevel, Warehouse

FIRST = ["Anna", "Piotr", "Katarzyna", "Tomasz", "Magdalena", "Paweł", "Agnieszka", "Michał", "Zofia", "Łukasz",
         "Małgorzata", "Jakub", "Ewa", "Krzysztof", "Joanna", "Grzegorz", "Helena", "Jan", "Marta", "Wojciech"]
LAST = ["Nowak", "Kowalska", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamińska", "Lewandowski", "Zielińska",
        "Szymański", "Woźniak", "Dąbrowska", "Kozłowski", "Jankowska", "Mazur", "Krawczyk", "Żak"]
CITIES = [("Warszawa", "00-001"), ("Kraków", "30-001"), ("Łódź", "90-001"), ("Wrocław", "50-001"),
          ("Poznań", "60-001"), ("Gdańsk", "80-001"), ("Szczecin", "70-001"), ("Lublin", "20-001")]
PRODUCTS = [("Kubek ceramiczny 350 ml", "KUB-350", Decimal("29.90")), ("Koszulka bawełniana M", "TSH-M", Decimal("49.00")),
            ("Plecak miejski 20 l", "PLC-20", Decimal("189.99")), ("Ładowarka USB-C 65 W", "LAD-65", Decimal("119.00")),
            ("Notes A5 w kropki", "NOT-A5", Decimal("19.50")), ("Lampka biurkowa LED", "LMP-LED", Decimal("149.00")),
            ("Kabel HDMI 2 m", "HDMI-2", Decimal("24.99")), ("Termos stalowy 0,5 l", "TRM-05", Decimal("79.00")),
            ("Mysz bezprzewodowa", "MYS-BT", Decimal("89.90")), ("Herbata liściasta 100 g", "HRB-100", Decimal("32.00"))]
SOURCES = ["manual", "api", "allegro", "prestashop", "shopify", "woocommerce"]
DELIVERY = [("InPost Paczkomat 24/7", "InPost", "locker"), ("Kurier DPD", "DPD", "courier"),
            ("Kurier DHL", "DHL", "courier"), ("Poczta Polska", "Poczta Polska", "parcel"),
            ("Odbiór osobisty", "", "pickup")]
PAYMENT_METHODS = ["PayU", "Przelewy24", "BLIK", "Przelew tradycyjny", "Pobranie"]
FLOW = ["draft", "awaiting_payment", "paid", "awaiting_fulfillment", "picking", "ready_for_shipment", "shipped",
        "completed"]


def _path_to(status: str) -> list[str]:
    """A plausible sequence of statuses an order went through to reach `status`."""
    if status in FLOW:
        return FLOW[1: FLOW.index(status) + 1] if status != "draft" else ["draft"]
    if status == "cancelled":
        return ["awaiting_payment", "cancelled"]
    if status == "return_requested":
        return FLOW[1:7] + ["return_requested"]
    if status == "returned":
        return FLOW[1:7] + ["return_requested", "returned"]
    return ["awaiting_payment", status]  # a status a seller added


def _payment_for(status: str, rng: random.Random) -> str:
    if status in ("draft", "awaiting_payment", "cancelled"):
        return rng.choice(["pending", "pending", "partially_paid"])
    if status == "returned":
        return "refunded"
    return "paid"


def _fulfillment_for(status: str) -> str:
    return {"awaiting_fulfillment": "reserved", "picking": "picking", "ready_for_shipment": "packed",
            "shipped": "shipped", "completed": "shipped", "return_requested": "shipped",
            "returned": "shipped"}.get(status, "unassigned")


def _next_id(model) -> int:
    return (db.session.scalar(select(func.max(model.id))) or 0) + 1


def seed_demo_orders(count: int = 1000, seed: int = 7, batch: int = 2000) -> int:
    """Add `count` demo orders (in batches) and return how many were added."""
    rng = random.Random(seed)
    statuses = list(status_defs())
    ids = {model: _next_id(model) for model in (Order, OrderItem, OrderAddress, OrderPayment, OrderShipment,
                                                  OrderStatusHistory, OrderNote)}
    now = utcnow()
    payment_codes = list(PAYMENT_STATUSES)
    number_base = db.session.scalar(select(func.count(Order.id))) or 0
    done = 0
    while done < count:
        rows: dict = {model: [] for model in ids}
        for n in range(done, min(count, done + batch)):
            order_id = ids[Order]
            ids[Order] += 1
            # Cycle through statuses, sources and payment states so every combination appears.
            status = statuses[n % len(statuses)]
            source = SOURCES[(n // len(statuses)) % len(SOURCES)]
            payment = _payment_for(status, rng) if n % 7 else payment_codes[n % len(payment_codes)]
            first, last = rng.choice(FIRST), rng.choice(LAST)
            name = f"{first} {last}"
            email = f"{first.lower()}.{last.lower()}{n % 97}@example.pl".translate(str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ"))
            city, postcode = rng.choice(CITIES)
            delivery, carrier, kind = rng.choice(DELIVERY)
            path = _path_to(status)
            steps = ["draft"] + [s for s in path if s != "draft"]
            gaps = [rng.randint(10, 600) for _ in steps]
            # Everything an order carries (timeline, payment, shipment) lies between ordered_at and now.
            span = timedelta(minutes=max(sum(gaps), 90)) + (timedelta(days=1) if "shipped" in path else timedelta())
            ordered_at = now - span - timedelta(minutes=rng.randint(5, 60 * 24 * 180))
            items = []
            for _ in range(rng.randint(1, 4)):
                product, sku, price = rng.choice(PRODUCTS)
                qty = rng.randint(1, 3)
                items.append({"id": ids[OrderItem], "order_id": order_id, "name": product, "sku": sku,
                              "ean": f"590{rng.randint(10**9, 10**10 - 1)}", "quantity": qty,
                              "unit_price_gross": price, "unit_price_net": (price / Decimal("1.23")).quantize(Decimal("0.01")),
                              "vat_rate": Decimal("23"), "discount_gross": Decimal("0")})
                ids[OrderItem] += 1
            subtotal = sum(i["unit_price_gross"] * i["quantity"] for i in items)
            shipping = Decimal("0") if kind == "pickup" else Decimal(rng.choice(["9.99", "12.99", "16.00"]))
            total = subtotal + shipping
            paid = total if payment in ("paid", "refunded") else (total / 2).quantize(Decimal("0.01")) if payment == "partially_paid" else Decimal("0")
            rows[OrderItem] += items
            rows[Order].append({
                "id": order_id, "number": f"DEMO/{number_base + n + 1:06d}", "source": source,
                "integration_id": None,
                "external_order_id": None if source in ("manual", "api") else f"{source[:2].upper()}-{100000 + n}",
                "status": status, "payment_status": payment, "fulfillment_status": _fulfillment_for(status),
                "currency": "PLN", "customer_name": name, "customer_email": email,
                "customer_phone": f"+48 {rng.randint(500, 799)} {rng.randint(100, 999)} {rng.randint(100, 999)}",
                "subtotal_gross": subtotal, "shipping_gross": shipping, "discount_gross": Decimal("0"),
                "total_gross": total, "total_net": (total / Decimal("1.23")).quantize(Decimal("0.01")),
                "total_paid": paid, "delivery_method": delivery, "customer_comment": "", "meta": {"demo": True},
                "ordered_at": ordered_at, "status_changed_at": ordered_at, "created_at": ordered_at,
                "updated_at": ordered_at, "revision": 1,
            })
            street = f"ul. {rng.choice(['Długa', 'Krótka', 'Polna', 'Leśna', 'Słoneczna', 'Ogrodowa'])} {rng.randint(1, 120)}"
            for address_kind in ("customer", "shipping", "billing") + (("pickup",) if kind == "locker" else ()):
                rows[OrderAddress].append({
                    "id": ids[OrderAddress], "order_id": order_id, "kind": address_kind, "name": name,
                    "company": "Firma Handlowa Sp. z o.o." if address_kind == "billing" and n % 5 == 0 else "",
                    "vat_id": f"PL{rng.randint(10**9, 10**10 - 1)}" if address_kind == "billing" and n % 5 == 0 else "",
                    "street": street if address_kind != "pickup" else "", "postcode": postcode, "city": city,
                    "country_code": "PL", "phone": "", "email": email if address_kind == "customer" else "",
                    "point_id": f"{city[:3].upper()}{rng.randint(10, 99)}M" if address_kind == "pickup" else "",
                })
                ids[OrderAddress] += 1
            if paid:
                rows[OrderPayment].append({"id": ids[OrderPayment], "order_id": order_id,
                                           "method": rng.choice(PAYMENT_METHODS), "amount": paid, "currency": "PLN",
                                           "status": "refunded" if payment == "refunded" else "completed",
                                           "external_payment_id": f"PAY-{order_id}",
                                           "paid_at": ordered_at + timedelta(minutes=rng.randint(1, 90))})
                ids[OrderPayment] += 1
            at = ordered_at
            previous = None
            for step, gap in zip(steps, gaps):
                rows[OrderStatusHistory].append({
                    "id": ids[OrderStatusHistory], "order_id": order_id, "from_status": previous, "to_status": step,
                    "changed_by": "Demo data" if source in ("manual", "api") else source.capitalize(),
                    "user_id": None, "change_source": "import" if previous is None else
                    ("platform" if source not in ("manual", "api") else "manual"), "comment": "", "at": at,
                })
                ids[OrderStatusHistory] += 1
                previous = step
                last_change = at
                at = at + timedelta(minutes=gap)
            rows[Order][-1]["status_changed_at"] = last_change
            rows[Order][-1]["updated_at"] = last_change
            if "shipped" in path:
                rows[OrderShipment].append({
                    "id": ids[OrderShipment], "order_id": order_id, "carrier": carrier or "Własny",
                    "service": delivery, "tracking_number": f"{rng.randint(10**11, 10**12 - 1)}",
                    "status": "delivered" if status in ("completed", "returned") else "in_transit",
                    "shipped_at": ordered_at + timedelta(days=1), "created_at": ordered_at + timedelta(days=1),
                })
                ids[OrderShipment] += 1
            if n % 9 == 0:
                rows[OrderNote].append({"id": ids[OrderNote], "order_id": order_id,
                                        "body": "Klient prosi o kontakt telefoniczny przed wysyłką.",
                                        "author": "Demo data", "user_id": None, "created_at": ordered_at})
                ids[OrderNote] += 1
        for model in (Order, OrderItem, OrderAddress, OrderPayment, OrderShipment, OrderStatusHistory, OrderNote):
            if rows[model]:
                db.session.execute(insert(model), rows[model])
        db.session.commit()
        done += len(rows[Order])
    _advance_sequences()
    cache.bump("orders")  # bulk inserts bypass the ORM's change tracking
    return done


def _advance_sequences() -> None:
    """Move PostgreSQL id sequences past explicitly inserted ids."""
    if db.engine.dialect.name != "postgresql":
        return
    for model in (Order, OrderItem, OrderAddress, OrderPayment, OrderShipment, OrderStatusHistory, OrderNote):
        table = model.__tablename__
        db.session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 1))"
        ))
    db.session.commit()


DEMO_KEEPER = Actor("Demo data", "automation")
RESERVED_ORDERS = 12  # open orders whose lines the demo reserves


def seed_demo_stock(seed: int = 7) -> dict[str, int]:
    """A default warehouse with the demo products received on a PZ and a few open orders reserved.

    Only when there is no warehouse yet. The demo products get catalogue rows (matched to the demo
    orders' lines by SKU), so the stock page, the shortages page and the orders' stock all have data.
    """
    if db.session.scalar(select(Warehouse.id).limit(1)) is not None:
        return {"products": 0, "units": 0, "reserved_orders": 0}
    rng = random.Random(seed)
    warehouse = warehouses.add_warehouse("MAG", "Magazyn główny", default=True)
    known = dict(db.session.execute(select(Product.sku, Product.id)).all())
    for name, sku, _ in PRODUCTS:
        if sku not in known:
            product = Product(sku=sku, name=name)
            db.session.add(product)
            db.session.flush()
            known[sku] = product.id
    db.session.commit()
    lines = [(known[sku], rng.randint(8, 60)) for _, sku, _ in PRODUCTS]
    documents.receive(warehouse.id, lines, DEMO_KEEPER, note="Demo: opening stock")
    for _, sku, _ in PRODUCTS:  # the orders' lines point at their products, as matched imports do
        db.session.execute(update(OrderItem).where(OrderItem.sku == sku, OrderItem.product_id.is_(None))
                           .values(product_id=known[sku]))
    minimum = known[PRODUCTS[0][1]]
    db.session.execute(update(StockLevel).where(StockLevel.product_id == minimum).values(minimum=100))
    db.session.commit()
    open_orders = db.session.scalars(select(Order.id).where(Order.status.in_(("awaiting_fulfillment", "picking")))
                                     .order_by(Order.id.desc()).limit(RESERVED_ORDERS)).all()
    for order_id in open_orders:
        reservations.reserve(order_id, DEMO_KEEPER)
    return {"products": len(lines), "units": sum(units for _, units in lines), "reserved_orders": len(open_orders)}
