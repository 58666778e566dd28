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


def test_a_dsn_on_a_private_network_or_with_driver_options_is_refused(client, app, login):
    csrf = login(make_user("admin"))
    shop = make_integration("prestashop")
    for dsn, said in (("mysql://kontor:s3cret@10.20.30.40:3306/shop", "KONTOR_SHOP_DATABASE_HOSTS"),
                      ("mysql://kontor:s3cret@169.254.169.254/shop", "KONTOR_SHOP_DATABASE_HOSTS"),
                      ("mysql://kontor:s3cret@127.0.0.1/shop?read_default_file=/etc/passwd", "must look like mysql://"),
                      ("mysql://kontor:s3cret@127.0.0.1/shop?local_infile=1", "must look like mysql://")):
        response = client.post(f"/integrations/{shop.id}/availability", data={**FORM, "csrf_token": csrf, "dsn": dsn})
        body = response.get_data(as_text=True)
        assert response.status_code == 422 and said in body and "s3cret" not in body, dsn
    assert "db_dsn" not in (db.session.get(Integration, shop.id).credentials or {})


def test_an_admin_can_allow_the_shop_databases_host_on_the_own_network(client, app, login):
    app.config["SHOP_DATABASE_HOSTS"] = frozenset({"10.20.30.40"})
    csrf = login(make_user("admin"))
    shop = make_integration("prestashop")
    response = client.post(f"/integrations/{shop.id}/availability",
                           data={**FORM, "csrf_token": csrf, "dsn": "mysql://kontor:s3cret@10.20.30.40:3306/shop"})
    assert response.status_code == 302


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


def test_test_database_offers_the_shops_and_languages_and_saves_the_ticked_ones(client, app, login,
                                                                                 prestashop_db_factory):
    from tests.fakes.prestashop_db import load_standard_shop

    shop_db = prestashop_db_factory("kt_")
    load_standard_shop(shop_db)
    csrf = login(make_user("admin"))
    shop = make_integration("prestashop")
    answer = client.post(f"/integrations/{shop.id}/availability/database", headers={"HX-Request": "true"},
                         data={**FORM, "csrf_token": csrf, "dsn": shop_db.dsn, "prefix": "kt_"})
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "table prefix kt_: 3 shops" in body
    assert 'name="shop_ids" value="2"' in body and "Outlet Kraków" in body and "group 2, shares stock" in body
    assert 'name="language_ids" value="3" >' in body and "Deutsch (German)" in body
    assert 'value="1" checked' in body  # what the form had stays ticked
    saved = client.post(f"/integrations/{shop.id}/availability", data={
        **FORM, "csrf_token": csrf, "dsn": shop_db.dsn, "prefix": "kt_", "shop_ids": ["2", "3"],
        "language_ids": ["1", "3"], "texts": "1 | A | B | C\n3 | D | E | F"})
    assert saved.status_code == 302
    settings = db.session.get(Integration, shop.id).settings["database"]
    assert (settings["shop_ids"], settings["language_ids"]) == ([2, 3], [1, 3])


def test_test_database_says_which_prefix_the_tables_have(client, app, login, prestashop_db_factory):
    from tests.fakes.prestashop_db import load_standard_shop

    shop_db = prestashop_db_factory("kt_")
    load_standard_shop(shop_db)
    csrf = login(make_user("admin"))
    shop = make_integration("prestashop", credentials={"db_dsn": shop_db.dsn})
    answer = client.post(f"/integrations/{shop.id}/availability/database", headers={"HX-Request": "true"},
                         data={**FORM, "csrf_token": csrf, "dsn": "", "prefix": "ps_"})
    body = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "these tables are missing: ps_product" in body
    assert "prefix kt_ — is the prefix right?" in body
    assert 'name="shop_ids" value="1"' in body  # the typed ids stay, to be saved as they are


def test_test_database_answers_a_refused_login_without_the_password(client, app, login, mariadb_admin):
    csrf = login(make_user("admin"))
    shop = make_integration("prestashop")
    answer = client.post(f"/integrations/{shop.id}/availability/database", headers={"HX-Request": "true"},
                         data={**FORM, "csrf_token": csrf, "dsn": "mysql://nobody:s3cret@127.0.0.1:3306/none"})
    body = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "Access denied" in body and "s3cret" not in body


def test_only_an_admin_tests_a_database(client, app, login):
    operator_csrf = login(make_user("operator"))
    shop = make_integration("prestashop")
    refused = client.post(f"/integrations/{shop.id}/availability/database", headers={"HX-Request": "true"},
                          data={**FORM, "csrf_token": operator_csrf, "dsn": "mysql://a:b@127.0.0.1:3306/x"})
    assert refused.status_code == 403
