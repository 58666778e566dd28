"""Building blocks for tests: users and orders made through the real services."""

from __future__ import annotations

from decimal import Decimal
from itertools import count

from app.accounts.models import User
from app.accounts.services import create_user
from app.extensions import db
from app.orders.models import Order
from app.orders.services import Actor, AddressInput, ItemInput, OrderInput, create_order

_sequence = count(1)

SYSTEM = Actor("Test set-up", "import")


def make_user(role: str = "operator", password: str = "password123", name: str | None = None) -> User:
    """A user with that role."""
    n = next(_sequence)
    return create_user(f"{role}{n}@example.com", name or f"{role.capitalize()} {n}", password, role)


def make_order(status: str = "awaiting_payment", *, customer: str = "Anna Nowak", email: str = "anna@example.com",
               source: str = "manual", integration_id: int | None = None, external_order_id: str | None = None,
               items: list[ItemInput] | None = None, payment_status: str = "pending") -> Order:
    """An order in `status` (set directly, as an import would), with one item unless given."""
    order = create_order(
        OrderInput(
            customer_name=customer, customer_email=email, payment_status=payment_status,
            items=items or [ItemInput(name="Kubek ceramiczny", quantity=2, unit_price_gross=Decimal("29.90"),
                                      sku="KUB-350")],
            addresses=[AddressInput(kind="shipping", name=customer, street="ul. Polna 1", postcode="00-001",
                                    city="Warszawa")],
            status=status,
        ),
        SYSTEM,
    )
    order.source = source
    order.integration_id = integration_id
    order.external_order_id = external_order_id
    db.session.commit()
    return order


def make_integration(kind: str = "prestashop", *, direction: str = "both", name: str | None = None,
                     settings: dict | None = None, credentials: dict | None = None, states=None):
    """An integration with stored (encrypted) credentials and, optionally, platform states."""
    from app.integrations.models import Integration, PlatformState

    defaults = {"prestashop": ({"shop_url": "http://shop.test", "language_id": 1}, {"api_key": "KEY123"}),
                "allegro": ({"environment": "sandbox", "client_id": "client"}, {"client_secret": "secret"}),
                "shopify": ({"shop_domain": "kontor-test.myshopify.com"},
                            {"api_token": "shpat_test_token", "webhook_secret": "shopify-secret"}),
                "woocommerce": ({"site_url": "http://shop.test"},
                                {"consumer_key": "ck_test", "consumer_secret": "cs_test", "webhook_secret": "wc-secret"}),
                "generic": ({}, {"webhook_secret": "whsec_" + "a2V5LWZvci1nZW5lcmljLXdlYmhvb2tz"})}[kind]
    integration = Integration(kind=kind, name=name or f"{kind} {next(_sequence)}", sync_direction=direction,
                              settings=settings or defaults[0])
    integration.credentials = credentials or defaults[1]
    for position, (external_id, state_name) in enumerate(states or []):
        integration.states.append(PlatformState(external_id=str(external_id), name=state_name, position=position,
                                                read_only=external_id == "RETURNED"))
    db.session.add(integration)
    db.session.commit()
    return integration


def map_status(integration, local_status: str, external_id: str, direction: str = "both"):
    """Add a mapping row through the service (validated like the page does)."""
    from app.integrations.state_mappings import add_mapping
    from app.settings.services import status_defs

    state = next(s for s in integration.states if s.external_id == str(external_id))
    return add_mapping(integration.id, local_status, state.id, direction, {code: status.name for code, status in status_defs().items()})
