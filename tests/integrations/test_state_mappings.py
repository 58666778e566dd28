"""Platform states and status mappings: what is pushed and pulled as what, and the mistakes refused in words."""

import pytest

from app.core.errors import ValidationFailed
from app.extensions import db
from app.integrations import progress, state_mappings
from app.integrations.base import PlatformError
from app.integrations.models import Integration
from app.jobs.tasks import sync_all_platform_states
from tests.factories import make_integration, map_status

PS_STATES = [("2", "Payment accepted"), ("3", "Processing in progress"), ("4", "Shipped"), ("6", "Canceled")]

def test_push_uses_the_first_matching_row(app):
    integration = make_integration(states=PS_STATES)
    map_status(integration, "paid", "2", "push")
    map_status(integration, "paid", "3", "push")
    assert state_mappings.push_state_for(integration, "paid").external_id == "2"
    first = integration.mappings[0]
    state_mappings.move_mapping(integration.id, first.id, "down")
    db.session.expire_all()
    assert state_mappings.push_state_for(db.session.get(Integration, integration.id), "paid").external_id == "3"
    assert state_mappings.push_state_for(integration, "shipped") is None


def test_a_platform_state_is_pulled_into_one_status_only(app):
    integration = make_integration(states=PS_STATES)
    map_status(integration, "shipped", "4", "both")
    with pytest.raises(ValidationFailed, match="already pulled into"):
        map_status(integration, "completed", "4", "pull")
    map_status(integration, "completed", "4", "push")  # pushing two statuses as one state is fine
    assert len(integration.mappings) == 2


def test_unknown_status_or_state_and_read_only_states_are_refused(app):
    integration = make_integration("allegro", states=[("SENT", "Sent"), ("RETURNED", "Returned")])
    with pytest.raises(ValidationFailed, match="no Kontor status"):
        map_status(integration, "teleported", "SENT")
    with pytest.raises(ValidationFailed, match="cannot be pushed"):
        map_status(integration, "returned", "RETURNED", "both")
    map_status(integration, "returned", "RETURNED", "pull")
    other = make_integration(states=PS_STATES)
    with pytest.raises(ValidationFailed, match="this platform's states"):
        state_mappings.add_mapping(integration.id, "paid", other.states[0].id, "push", {"paid": "Paid"})
    assert len(db.session.get(Integration, integration.id).mappings) == 1


def test_editing_a_mapping_into_a_mistake_leaves_it_unchanged(app):
    integration = make_integration(states=PS_STATES)
    shipped = map_status(integration, "shipped", "4", "both")
    cancelled = map_status(integration, "cancelled", "6", "both")
    with pytest.raises(ValidationFailed):
        state_mappings.update_mapping(integration.id, cancelled.id, "cancelled", shipped.platform_state_id, "both",
                                {"cancelled": "Cancelled", "shipped": "Shipped"})
    db.session.rollback()
    db.session.expire_all()
    assert state_mappings.get_mapping(integration.id, cancelled.id).platform_state.external_id == "6"


# --- platform states: cleaned on the way in, every attempt in the run log --------------------------


def _shop_on(fake, **credentials):
    return make_integration("prestashop", settings={"shop_url": fake.url, "language_id": 1},
                            credentials=credentials or {"api_key": fake.api_key})


def test_states_with_colours_and_names_that_do_not_fit_are_stored_as_far_as_they_fit(app, fake_prestashop):
    fake_prestashop.add_state(20, {"1": "Czeka na dostawcę " * 20}, color="RoyalBlue")
    fake_prestashop.add_state(21, {"1": "Półprzezroczysty"}, color="rgba(10, 20, 30, 0.5)")
    fake_prestashop.add_state(22, {"1": "Krótki kolor"}, color="#ABC")
    shop = _shop_on(fake_prestashop)
    counts = state_mappings.sync_states(shop.id)
    assert counts["states"] == 16 and counts["added"] == 16
    states = {s.external_id: s for s in db.session.get(Integration, shop.id).states}
    assert states["20"].colour == "" and len(states["20"].name) == 200
    assert states["21"].colour == "" and states["21"].name == "Półprzezroczysty"
    assert states["22"].colour == "#abc"
    run = progress.recent_runs(shop.id)[0]
    assert run.kind == "states_sync" and run.ok and run.message == "16 states"


def test_a_failed_states_sync_leaves_a_run_with_its_error_in_words(app, fake_prestashop):
    shop = _shop_on(fake_prestashop, api_key="WRONG-KEY")
    with pytest.raises(PlatformError) as failure:
        state_mappings.sync_states(shop.id)
    run = progress.recent_runs(shop.id)[0]
    assert run.kind == "states_sync" and not run.ok and run.finished_at is not None
    assert run.message == failure.value.message and run.message
    assert db.session.get(Integration, shop.id).states == []


def test_the_hourly_states_job_records_a_failed_run_and_goes_on(app, fake_prestashop):
    broken = _shop_on(fake_prestashop, api_key="WRONG-KEY")
    working = _shop_on(fake_prestashop)
    outcomes = sync_all_platform_states()
    assert outcomes[broken.name].startswith("failed: ") and outcomes[working.name] == "13 states"
    assert [r.ok for r in progress.recent_runs(broken.id)] == [False]
    assert [r.ok for r in progress.recent_runs(working.id)] == [True]
