"""The status workflow's rules, without a database."""

import pytest

from app.orders.workflow import allowed_targets, check_transition
from app.settings.statuses import DEFAULT_STATUSES, StatusDef

STATUSES = {s.code: s for s in DEFAULT_STATUSES}


@pytest.mark.parametrize("current, target", [
    ("draft", "awaiting_payment"),
    ("awaiting_payment", "paid"),
    ("draft", "paid"),                       # steps can be skipped
    ("picking", "awaiting_fulfillment"),     # and undone before shipping
    ("ready_for_shipment", "shipped"),
    ("shipped", "completed"),
    ("paid", "cancelled"),
    ("awaiting_payment", "cancelled"),
    ("shipped", "return_requested"),
    ("completed", "return_requested"),       # a completed order can still be returned
    ("return_requested", "returned"),
    ("return_requested", "completed"),       # return withdrawn
])
def test_allowed_transitions(current, target):
    assert check_transition(current, target, STATUSES).allowed


@pytest.mark.parametrize("current, target, words", [
    ("paid", "paid", "already “Paid”"),
    ("shipped", "cancelled", "cannot be cancelled"),
    ("completed", "cancelled", "final status"),
    ("cancelled", "paid", "final status"),
    ("returned", "shipped", "final status"),
    ("draft", "returned", "only be requested after shipping"),
    ("paid", "return_requested", "only be requested after shipping"),
    ("shipped", "picking", "cannot go back"),
    ("return_requested", "shipped", "cannot be marked"),
    ("paid", "no_such_status", "There is no status"),
])
def test_refused_transitions_say_why(current, target, words):
    decision = check_transition(current, target, STATUSES)
    assert not decision.allowed
    assert words in decision.reason


def test_a_custom_status_behaves_like_its_group():
    statuses = dict(STATUSES)
    statuses["waiting_for_supplier"] = StatusDef("waiting_for_supplier", "Waiting for supplier", "processing", 45)
    assert check_transition("paid", "waiting_for_supplier", statuses)
    assert check_transition("waiting_for_supplier", "cancelled", statuses)
    refused = check_transition("shipped", "waiting_for_supplier", statuses)
    assert not refused and "Waiting for supplier" in refused.reason


def test_an_order_in_a_deleted_status_can_still_move_on():
    assert check_transition("legacy_status", "paid", STATUSES)
    assert not check_transition("legacy_status", "returned", STATUSES)


def test_allowed_targets_lists_only_allowed_in_display_order():
    targets = [s.code for s in allowed_targets("shipped", STATUSES)]
    assert targets == ["completed", "return_requested", "returned"]
