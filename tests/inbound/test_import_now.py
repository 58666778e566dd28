"""Import now, the days of orders the first import fetches, and who may start an import."""

from __future__ import annotations

from rq.job import Job

from app.extensions import db, redis_connection
from app.integrations.models import Integration
from tests.conftest import csrf_from
from tests.factories import make_integration, make_user


def test_admin_chooses_how_many_days_the_first_allegro_import_fetches(client, app, login):
    login(make_user("admin"))
    page = client.get("/integrations/new/allegro").get_data(as_text=True)
    assert "Days of orders to fetch on first connect" in page
    form = {"csrf_token": csrf_from(page), "name": "Allegro", "environment": "sandbox", "client_id": "client-1",
            "client_secret": "secret-1", "import_days": "99", "initial_status": "paid"}
    refused = client.post("/integrations/new/allegro", data=form)
    assert refused.status_code == 422 and "between 1 and 60" in refused.get_data(as_text=True)
    response = client.post("/integrations/new/allegro", data={**form, "import_days": "14"})
    assert response.status_code == 302
    integration = db.session.scalars(db.select(Integration)).one()
    assert (integration.settings["import_days"], integration.settings["initial_status"]) == (14, "paid")


def test_operators_start_an_import_now_and_viewers_cannot(client, app, login):
    shop = make_integration("prestashop")
    generic = make_integration("generic")
    login(make_user("viewer"))
    page = client.get(f"/integrations/{shop.id}").get_data(as_text=True)
    assert "Import now" not in page
    assert client.post(f"/integrations/{shop.id}/orders/import", data={"csrf_token": csrf_from(page)}).status_code == 403
    client.post("/logout", data={"csrf_token": csrf_from(page)})
    login(make_user("operator"))
    page = client.get(f"/integrations/{shop.id}").get_data(as_text=True)
    assert "Import now" in page
    response = client.post(f"/integrations/{shop.id}/orders/import", data={"csrf_token": csrf_from(page)},
                           follow_redirects=True)
    assert "Import started" in response.get_data(as_text=True)
    job = Job.fetch(f"order-import-{shop.id}", connection=redis_connection.client)
    assert job.func_name == "app.jobs.tasks.import_orders_now" and job.args == (shop.id,)
    refused = client.post(f"/integrations/{generic.id}/orders/import", data={"csrf_token": csrf_from(page)},
                          follow_redirects=True)
    assert "nothing to fetch" in refused.get_data(as_text=True)
    assert client.post(f"/integrations/{shop.id}/orders/import").status_code == 400  # no CSRF token
