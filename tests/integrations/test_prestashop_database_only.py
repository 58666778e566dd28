"""A PrestaShop integration used only through its database: no webservice key needed."""

from __future__ import annotations

import html

from app.extensions import db
from app.integrations.models import Integration
from tests.factories import make_user
from tests.fakes.prestashop_db import load_standard_shop

FORM = {"name": "Sklep (baza)", "shop_url": "https://shop.example.com", "language_id": "1"}


def test_a_shop_used_through_its_database_needs_no_webservice_key(client, app, login, prestashop_db_factory):
    shop_db = prestashop_db_factory("ps_")
    load_standard_shop(shop_db)
    csrf = login(make_user("admin"))

    created = client.post("/integrations/new/prestashop", data={**FORM, "csrf_token": csrf, "db_dsn": shop_db.dsn})

    assert created.status_code == 302
    integration = db.session.query(Integration).filter_by(name="Sklep (baza)").one()
    assert integration.credentials == {"db_dsn": shop_db.dsn}
    tested = client.post(f"/integrations/{integration.id}/test", headers={"HX-Request": "true", "X-CSRFToken": csrf})
    body = html.unescape(tested.get_data(as_text=True))
    assert "table prefix ps_: 3 shops, 10 products" in body
    assert db.session.get(Integration, integration.id).connection_state == "ok"


def test_without_key_and_database_the_form_says_what_to_enter(client, app, login):
    csrf = login(make_user("admin"))
    refused = client.post("/integrations/new/prestashop", data={**FORM, "csrf_token": csrf})
    body = html.unescape(refused.get_data(as_text=True))
    assert refused.status_code == 422 and "or the shop database (DSN)" in body
    malformed = client.post("/integrations/new/prestashop", data={**FORM, "csrf_token": csrf,
                                                                    "db_dsn": "postgres://u:s3cret@h/db"})
    body = malformed.get_data(as_text=True)
    assert malformed.status_code == 422 and "must look like mysql://" in body and "s3cret" not in body
