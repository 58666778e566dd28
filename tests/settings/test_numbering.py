"""Order numbering rules, without a database."""

from datetime import date

from app.settings.numbering import expand, format_number, next_counter, period_key


def test_counter_continues_within_a_period():
    assert next_counter(41, "2026", "yearly", date(2026, 5, 1)) == (42, "2026")


def test_yearly_reset_starts_at_one_in_a_new_year():
    assert next_counter(987, "2025", "yearly", date(2026, 1, 1)) == (1, "2026")


def test_monthly_reset_starts_at_one_in_a_new_month():
    assert next_counter(15, "2026-10", "monthly", date(2026, 11, 1)) == (1, "2026-11")
    assert next_counter(15, "2026-11", "monthly", date(2026, 11, 30)) == (16, "2026-11")


def test_never_reset_keeps_counting_across_years():
    assert period_key("never", date(2030, 1, 1)) == ""
    assert next_counter(99999, "", "never", date(2030, 1, 1)) == (100000, "")


def test_number_format_with_date_tokens_and_padding():
    today = date(2026, 3, 7)
    assert format_number("ZK/{YYYY}/", 42, "", 5, today) == "ZK/2026/00042"
    assert format_number("{YY}{MM}-", 7, "/{DD}", 3, today) == "2603-007/07"
    assert format_number("", 123456, "", 3, today) == "123456"   # padding never truncates
    assert expand("no tokens", today) == "no tokens"
