"""Availability settings page: DSN checked and never shown back, errors without the password."""

from app.extensions import db
from app.integrations.models import Integration
from tests.factories import make_integration, make_user

FORM = {"prefix": "ps_", "shop_ids": "1", "language_ids": "1", "threshold": "20", "default_delivery_days": "3",
        "only_changed": "y", "texts": "1 | In stock | Ships in {delivery_days} days | Unavailable"}


def test_a_malformed_dsn_is_refused_without_repeating_it(client, app, login):
    csrf = login(make_user("admin"))
    shop = make_integration("prestashop")
    response = client.post(f"/integrations/{shop.id}/availability",
                           data={**FORM, "csrf_token": csrf, "dsn": "root:s3cret@127.0.0.1:3306/x"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "must look like mysql://" in body and "s3cret" not in body


def test_settings_save_and_errors_never_show_the_password(client, app, login):
    csrf = login(make_user("admin"))
    shop = make_integration("prestashop")
    response = client.post(f"/integrations/{shop.id}/availability", data={
        **FORM, "csrf_token": csrf, "dsn": "mysql://kontor:s3cret@127.0.0.1:1/shop"})
    assert response.status_code == 302
    assert db.session.get(Integration, shop.id).credentials["db_dsn"].endswith("@127.0.0.1:1/shop")
    page = client.get(f"/integrations/{shop.id}/availability").get_data(as_text=True)
    assert "s3cret" not in page
    failed = client.post(f"/integrations/{shop.id}/availability/run", headers={"HX-Request": "true",
                                                                             "X-CSRFToken": csrf},
                         data={"dry_run": "1"})
    assert failed.status_code == 422 and "s3cret" not in failed.get_data(as_text=True)
