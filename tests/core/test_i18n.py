"""Kontor speaks Polish or English: the user's choice, else the browser's; the API stays English."""

import re

from app.extensions import db
from tests.conftest import csrf_from
from tests.factories import make_order, make_user

POLISH = {"Accept-Language": "pl-PL,pl;q=0.9,en;q=0.5"}


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def test_the_browser_language_picks_polish_with_polish_money_and_dates(client, app, login):
    login(make_user())
    order = make_order("awaiting_payment")
    order.total_gross = 1060.99
    db.session.commit()
    listing = client.get("/orders", headers=POLISH)
    page = text_of(listing)
    assert '<html lang="pl">' in listing.get_data(as_text=True)
    assert "Zamówienia" in page and "Nowe zamówienie" in page and "Oczekuje na płatność" in page
    assert "1\u00a0060,99\u00a0zł" in listing.get_data(as_text=True)
    assert re.search(r"\d\d\.\d\d\.\d{4} \d\d:\d\d", page)
    detail = text_of(client.get(f"/orders/{order.id}", headers=POLISH))
    assert f"Zamówienie {order.number}" in detail and "Pozycje" in detail and "Historia" in detail
    english = text_of(client.get("/orders", headers={"Accept-Language": "en-GB"}))
    assert "New order" in english and "Awaiting payment" in english


def test_the_profile_setting_wins_over_the_browser(client, app, login):
    user = make_user()
    login(user)
    page = client.get("/profile", headers=POLISH).get_data(as_text=True)
    assert "Twoje ustawienia" in page
    response = client.post("/profile", data={"locale": "en", "csrf_token": csrf_from(page)}, headers=POLISH)
    assert response.status_code == 302
    assert db.session.get(type(user), user.id).locale == "en"
    assert "New order" in text_of(client.get("/orders", headers=POLISH))
    client.post("/profile", data={"locale": "pl", "csrf_token": csrf_from(page)})
    assert "Nowe zamówienie" in text_of(client.get("/orders", headers={"Accept-Language": "en"}))
    bad = client.post("/profile", data={"locale": "de", "csrf_token": csrf_from(page)})
    assert bad.status_code == 200 and db.session.get(type(user), user.id).locale == "pl"


def test_the_api_keeps_english_codes_and_messages_and_adds_polish_for_people(client, app):
    response = client.get("/api/v1/orders", headers={**POLISH, "Authorization": "Bearer nope"})
    error = response.json["error"]
    assert response.status_code == 401 and error["code"]
    assert error["message"] and error["message_pl"]
    missing = client.get("/api/v1/nothing-here", headers=POLISH)
    if missing.is_json:
        assert missing.json["error"]["message"] == "There is nothing at this address."
        assert missing.json["error"]["message_pl"] == "Pod tym adresem nic nie ma."


def test_a_cached_order_table_is_never_served_in_the_other_language(client, app, login):
    login(make_user())
    make_order("awaiting_payment")
    assert "Awaiting payment" in text_of(client.get("/orders", headers={"Accept-Language": "en"}))
    assert "Oczekuje na płatność" in text_of(client.get("/orders", headers=POLISH))
    assert "Awaiting payment" in text_of(client.get("/orders", headers={"Accept-Language": "en"}))
    assert "Otrzymane zamówienia" in text_of(client.get("/", headers=POLISH))
    assert "Orders received" in text_of(client.get("/", headers={"Accept-Language": "en"}))


def _polish_user():
    user = make_user("admin")
    user.locale = "pl"
    db.session.commit()
    return user


def test_the_timeline_says_stored_entries_in_the_readers_language_and_keeps_english_for_old_rows(client, app,
                                                                                               login):
    from flask_babel import lazy_gettext as _l
    from app.orders.models import OrderEvent
    from app.orders.services import Actor, record_event

    order = make_order("awaiting_payment")
    record_event(order, "platform_status_refused",
                 _l("%(name)s says %(state)s; not applied: %(why)s", name="Allegro", state="SENT",
                    why=_l("the order was cancelled")), Actor("Allegro", "platform"), level="warning")
    db.session.add(OrderEvent(order=order, kind="legacy", message="Pushed to Allegro: “Sent”.", actor="Kontor",
                              source="automation", data={}))
    db.session.commit()
    stored = {e.kind: e for e in db.session.get(type(order), order.id).events}
    assert stored["platform_status_refused"].message == "Allegro says SENT; not applied: the order was cancelled"
    assert stored["created"].message == f"Order {order.number} created"

    login(_polish_user())
    polish = text_of(client.get(f"/orders/{order.id}"))
    assert "Allegro podaje stan SENT; nie zastosowano: zamówienie anulowano" in polish
    assert f"Utworzono zamówienie {order.number}" in polish
    assert "Pushed to Allegro: “Sent”." in polish  # a row from before keys were stored: its text as stored
    english = text_of(client.get(f"/orders/{order.id}", headers={"Accept-Language": "en"}))
    assert "Allegro podaje" in english  # the profile setting still wins
    api_side = [e.message for e in db.session.get(type(order), order.id).events]
    assert "Allegro says SENT; not applied: the order was cancelled" in api_side


def test_the_operations_pages_speak_polish(client, app, login):
    login(_polish_user())
    pages = {
        "/health": ["Stan synchronizacji", "Historia alertów", "Kolejki"],
        "/queues": ["Kolejki", "Nieudane zadania", "Zadanie cykliczne"],
        "/settings/alerts": ["Kanały", "Dodaj kanał", "Reguły", "Dużo oczekujących operacji", "Język alertów"],
        "/stock": ["Magazyn", "Braki", "Dokumenty", "Nie ma jeszcze magazynu"],
        "/stock/shortages": ["Niczego nie brakuje"],
        "/stock/documents": ["Dokumenty magazynowe", "Brak dokumentów."],
        "/stock/sync": ["Stany w kanałach sprzedaży", "Uzgodnij i napraw teraz"],
        "/stock/warehouses": ["Dodaj magazyn"],
        "/settings/orders": ["Zamówienia i magazyn"],
    }
    for url, words in pages.items():
        response = client.get(url)
        assert response.status_code == 200, url
        page = text_of(response)
        for word in words:
            assert word in page, f"{url}: {word!r} missing"
        for english in ("Needs your attention", "Add a channel", "Goods receipt", "Failed jobs", "Reconcile and fix"):
            assert english not in page, f"{url}: {english!r} still in English"
