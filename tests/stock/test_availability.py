"""The availability rule, without a database."""

from app.stock.availability import ALLOW_ORDERS, DENY_ORDERS, AvailabilityRules, LanguageTexts, decide

RULES = AvailabilityRules(threshold=20, texts={
    1: LanguageTexts("In stock", "Ships in {delivery_days} days", "Unavailable"),
    2: LanguageTexts("Dostępny", "Wysyłka w {delivery_days} dni", "Niedostępny"),
})


def test_at_or_above_the_threshold_orders_are_allowed_with_the_delivery_days():
    availability = decide({"stock_quantity": 20, "delivery_days": 4}, RULES)
    assert availability.out_of_stock == ALLOW_ORDERS
    assert availability.texts == {1: ("In stock", "Ships in 4 days"), 2: ("Dostępny", "Wysyłka w 4 dni")}


def test_below_the_threshold_orders_are_denied_and_unavailable_is_shown():
    availability = decide({"stock_quantity": 19, "delivery_days": 4}, RULES)
    assert availability.out_of_stock == DENY_ORDERS
    assert availability.texts[2] == ("Dostępny", "Niedostępny")


def test_no_supplier_data_denies_orders():
    assert decide(None, RULES).out_of_stock == DENY_ORDERS


def test_missing_delivery_days_use_the_default():
    rules = AvailabilityRules(threshold=1, texts={1: LanguageTexts(available_later="{delivery_days} d")},
                              default_delivery_days=7)
    assert decide({"stock_quantity": 5, "delivery_days": None}, rules).texts[1][1] == "7 d"


def test_rules_from_settings_and_the_comparison_key():
    rules = AvailabilityRules.from_settings({"threshold": "5", "texts": {"1": {
        "available_now": "A", "available_later": "B {delivery_days}", "unavailable": "C"}}})
    assert rules.threshold == 5 and rules.texts[1].available_later == "B {delivery_days}"
    first = decide({"stock_quantity": 6, "delivery_days": 2}, rules)
    assert first.key() == decide({"stock_quantity": 600, "delivery_days": 2}, rules).key()
    assert first.key() != decide({"stock_quantity": 6, "delivery_days": 3}, rules).key()


def test_texts_never_exceed_the_column():
    rules = AvailabilityRules(threshold=0, texts={1: LanguageTexts(available_later="x" * 300)})
    assert len(decide({"stock_quantity": 1}, rules).texts[1][1]) == 255
