"""Reading query, form and JSON values: what is usable, and the words for what is not."""

from datetime import date
from decimal import Decimal

import pytest

from app.core import params
from app.core.errors import BadParameter, NotFound
from app.orders.models import Order


def test_whole_numbers_within_the_database_range():
    assert params.int_arg("42", "limit") == 42
    assert params.int_arg("", "limit", default=7) == 7
    assert params.int_arg(None, "limit") is None
    with pytest.raises(BadParameter, match="whole number"):
        params.int_arg("4.2", "limit")
    with pytest.raises(BadParameter, match="at most 2147483647"):
        params.int_arg(str(2**31), "limit")
    with pytest.raises(BadParameter, match="far too large"):
        params.int_arg("9" * 5000, "limit")  # Python refuses to parse it; we say so in words
    with pytest.raises(BadParameter, match="whole number"):
        params.int_arg(True, "limit")


def test_ids_no_row_can_have_are_not_found():
    assert params.id_arg("12", "store_id", what="integration") == 12
    with pytest.raises(NotFound, match="There is no integration 9223372036854775808"):
        params.id_arg(str(2**63), "store_id", what="integration")
    with pytest.raises(NotFound):
        params.id_arg("0", "store_id", what="integration")
    with pytest.raises(BadParameter, match="Give the integration id"):
        params.id_arg("", "store_id", what="integration")
    assert params.is_id(2**31 - 1) and not params.is_id(2**31) and not params.is_id(True)


def test_id_lists_keep_unknown_ids_for_their_own_row_and_refuse_words():
    assert params.id_list(["3", "1", "3", str(2**63)], "ids", what="order") == [3, 1, 2**63]
    with pytest.raises(BadParameter):
        params.id_list(["1", "x"], "ids", what="order")
    with pytest.raises(BadParameter, match="At most 2 orders"):
        params.id_list([1, 2, 3], "ids", what="order", limit=2)


def test_pages_start_at_one_and_huge_pages_are_left_to_the_list():
    assert params.page_arg(None) == 1
    assert params.page_arg("9" * 30) == params.ID_MAX
    with pytest.raises(BadParameter, match="at least 1"):
        params.page_arg("-1")


def test_dates_in_a_sane_range():
    assert params.date_arg("2026-03-01", "date_from") == date(2026, 3, 1)
    assert params.date_arg("", "date_from") is None
    with pytest.raises(BadParameter, match="between 1970-01-01 and 2999-12-31"):
        params.date_arg("9999-12-31", "date_to", label="end date")
    with pytest.raises(BadParameter, match="not a date"):
        params.date_arg("20260301", "date_to")


def test_text_refuses_nul_and_too_long_or_strips_nul_when_asked():
    assert params.text_arg("  Anna ", "name", max_length=10) == "Anna"
    with pytest.raises(BadParameter, match="NUL"):
        params.text_arg("An\x00na", "name", max_length=10)
    assert params.text_arg("An\x00na", "name", max_length=10, nul="strip") == "Anna"
    with pytest.raises(BadParameter, match="at most 3 characters"):
        params.text_arg("Anna", "name", max_length=3)
    with pytest.raises(BadParameter, match="must be text"):
        params.text_arg(5, "name", max_length=3)
    assert params.clean_text(" Nowy\x00 stan ") == "Nowy stan"
    assert params.clean_text("x" * 300, 200) == "x" * 200 and params.clean_text(None) == ""


def test_column_lengths_come_from_the_model():
    assert params.column_length(Order.customer_name) == 200
    assert params.column_length(Order.external_order_id) == 100
    assert params.column_length(Order.customer_comment) is None


def test_amounts_must_fit_numeric_12_2():
    assert params.money_arg("12.50", "price") == Decimal("12.50")
    assert params.fits_money(Decimal("9999999999.99")) and not params.fits_money(Decimal("10000000000"))
    assert not params.fits_money(Decimal("NaN"))
    for bad in ("NaN", "Infinity", "1e20", "abc"):
        with pytest.raises(BadParameter):
            params.money_arg(bad, "price")


def test_the_id_converter_matches_only_ids_a_row_can_have():
    from werkzeug.routing import Map, Rule
    from werkzeug.exceptions import NotFound as NoRoute

    urls = Map([Rule("/orders/<id:order_id>", endpoint="order")], converters={"id": params.IdConverter}).bind("x")
    assert urls.match("/orders/2147483647") == ("order", {"order_id": 2147483647})
    with pytest.raises(NoRoute):
        urls.match("/orders/2147483648")


def test_form_validators_refuse_nul_and_read_lengths_from_the_model():
    from werkzeug.datastructures import MultiDict
    from wtforms import DecimalField, Form, StringField

    class Sample(Form):
        name = StringField(validators=params.text_validators(Order.customer_name))
        price = DecimalField(validators=[params.FitsMoney()])

    form = Sample(MultiDict({"name": "An\x00na", "price": "NaN"}))
    assert not form.validate()
    assert "NUL" in form.errors["name"][0] and "Enter an amount" in form.errors["price"][0]
    assert not Sample(MultiDict({"name": "x" * 201, "price": "1"})).validate()
    assert Sample(MultiDict({"name": "x" * 200, "price": "9999999999.99"})).validate()
