"""A supplier's stock feed, from upload to the availability written into a PrestaShop database.

Headless Chromium against the live server (SQLite file + the test Redis) and one real `worker.py`
process on the import and integrations queues. The feed is a cp1250, semicolon-separated CSV
uploaded through /feeds/new, as a Polish wholesaler sends it; the shop is a MariaDB database with
PrestaShop's real schema (tests/fakes/prestashop_db.py: shops 1-3, languages 1-3). Nothing is
mocked: the page is what a person sees, the shop's tables are what a customer's shop would hold.
Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import csv
import json
import re
import time
from urllib.parse import urljoin

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.catalog.models import Product, ProductLink
from app.catalog.services import create_product
from app.extensions import db
from app.suppliers.models import FeedImport
from tests.factories import make_integration
from tests.fakes import prestashop_db as shop_data

FEED_NAME = "Hurtownia Łódź"
SHOP_NAME = "Sklep Meblowy"
JOB_TIMEOUT_MS = 30_000  # a worker process has to start and take the job
WORKER_QUEUES = ("import", "integrations")

# What the wholesaler sends: cp1250, semicolons, decimal commas, a quoted name with a semicolon,
# delivery days written as people write them, and two rows that cannot be imported (lines 8, 9).
FEED_LINES = [
    "kod;ean;nazwa;stan;dni;cena",
    "KRZ-001;0012345678905;Krzesło dębowe „Żółw”;50;4;199,90",       # line 2
    "TSH-S;5901234123464;Koszulka z łąki, rozmiar S;5;2;24,50",        # line 3
    "TSH-M;;Koszulka z łąki, rozmiar M;30;2-3 dni;24,50",              # line 4
    "KOMB-9-A;;Kubek ceramiczny żółty;25;48h;12,00",                   # line 5
    "GRP-8;5901234123495;Półka bez wiersza grupy;40;5;89,00",          # line 6
    'XYZ-404;;"Ćma; lampka nocna";7;1;5,00',                           # line 7: no such product
    "ŁÓDŹ-1;;Łóżko „Świt”;dużo;3;450,00",                              # line 8: invalid stock
    ";12345;Szafka bez kodu;10;2;99,00",                               # line 9: no SKU, bad EAN
    "WS-10;;Szafa z odstępami;0;;1 299,00",                            # line 10
]
FEED_BYTES = ("\r\n".join(FEED_LINES) + "\r\n").encode("cp1250")
HEADERS = ["kod", "ean", "nazwa", "stan", "dni", "cena"]
# field -> (its label on the page, the feed column chosen for it)
MAPPING = {"sku": ("SKU", "kod"), "ean": ("EAN", "ean"), "stock_quantity": ("Stock quantity", "stan"),
           "delivery_days": ("Delivery days", "dni"), "purchase_price": ("Purchase price", "cena")}
MATCHED_SKUS = ("KRZ-001", "TSH-S", "TSH-M", "KOMB-9-A", "GRP-8", "WS-10")
INVALID = {8: "stock quantity “dużo” is not a number",
           9: "EAN “12345” is not a valid EAN (8, 12, 13 or 14 digits) and there is no SKU"}

TEXT_LINES = ["1 | Dostępny | Wysyłka w {delivery_days} dni | Niedostępny",
              "2 | In stock | Ships in {delivery_days} days | Unavailable",
              "3 | Auf Lager | Lieferung in {delivery_days} Tagen | Nicht verfügbar"]


def _no_server_errors(page) -> None:
    assert page.problems == [], "the pages had problems:\n" + "\n".join(page.problems)


def _reload_until(page, locator, text: str, timeout_ms: int = JOB_TIMEOUT_MS) -> None:
    """Reload a page that does not refresh itself until `locator` shows `text` (a background job's result)."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        if text in (locator.text_content() or ""):
            return
        if time.monotonic() > deadline:
            expect(locator).to_contain_text(text, timeout=1)  # fails with what the page shows
        page.wait_for_timeout(500)
        page.reload()


# --- the feed, through its pages -------------------------------------------------------------------------


def _add_feed(page, live_server) -> int:
    """Upload the feed through /feeds/new and land on its page."""
    page.goto(f"{live_server.url}/feeds")
    expect(page.locator("table")).to_contain_text("No supplier feeds yet.")
    page.get_by_role("link", name="Add a feed").click()
    expect(page).to_have_url(f"{live_server.url}/feeds/new")
    page.get_by_label("Name", exact=True).fill(FEED_NAME)
    page.get_by_label("Source").select_option(label="Uploaded file")
    page.get_by_label("File", exact=True).set_input_files(
        files=[{"name": "stany-magazynowe.csv", "mimeType": "text/csv", "buffer": FEED_BYTES}])
    page.get_by_label("Format").select_option(label="CSV")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/feeds/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(FEED_NAME)
    expect(page.locator(".flash").filter(has_text=f"Feed {FEED_NAME} added")).to_be_visible()
    return int(page.url.rsplit("/", 1)[1])


def _check_raw_preview(page) -> None:
    """Before mapping: the rows as the file holds them, decoded from cp1250 and split at semicolons."""
    preview = page.locator("#feed-preview")
    expect(preview).to_contain_text("Map the columns to see the rows as Kontor will read them.")
    expect(preview.locator("#typed-preview")).to_have_count(0)
    raw = preview.locator("table")
    expect(raw.locator("thead th")).to_have_text(["Line", *HEADERS])
    # Shown as the feed spells them, since the dropdowns offer them so (not upper-cased like other headings).
    expect(raw.locator("thead th", has_text="nazwa")).to_have_css("text-transform", "none")
    expect(raw.locator("tbody tr")).to_have_count(len(FEED_LINES) - 1)
    first = raw.locator("tbody tr").first
    expect(first.locator("td")).to_have_text(["2", "KRZ-001", "0012345678905", "Krzesło dębowe „Żółw”", "50", "4",
                                              "199,90"])
    expect(raw.locator("tbody tr").nth(5).locator("td").nth(3)).to_have_text("Ćma; lampka nocna")
    expect(raw.locator("tbody tr").nth(6).locator("td").nth(1)).to_have_text("ŁÓDŹ-1")


def _map_columns(page) -> None:
    """Choose a feed column for each field from the dropdowns and save."""
    columns = page.locator("#feed-columns")
    for name, (label, header) in MAPPING.items():
        select = columns.get_by_role("combobox", name=label, exact=True)
        expect(select).to_have_attribute("name", name)
        expect(select.locator("option")).to_have_text(["— not in this feed —", *HEADERS])
        expect(select).to_have_value("")
        select.select_option(header)
    columns.get_by_role("button", name="Save mapping").click()
    expect(page.locator("#typed-preview")).to_be_visible()
    for name, (_label, header) in MAPPING.items():  # the form comes back with the saved choices
        expect(page.locator(f"#feed-columns select[name={name}]")).to_have_value(header)


def _check_typed_preview(page) -> None:
    """Once mapped: every row as the import will read it, the two invalid ones with their reasons."""
    table = page.locator("#typed-preview")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(len(FEED_LINES) - 1)
    expect(rows.nth(0).locator("td")).to_have_text(["2", "KRZ-001", "0012345678905", "50", "4", "199.90", ""])
    expect(rows.nth(2).locator("td")).to_have_text(["4", "TSH-M", "", "30", "3", "24.50", ""])  # "2-3 dni"
    expect(rows.nth(3).locator("td")).to_have_text(["5", "KOMB-9-A", "", "25", "2", "12.00", ""])  # "48h"
    expect(rows.nth(8).locator("td")).to_have_text(["10", "WS-10", "", "0", "", "1299.00", ""])  # "1 299,00"
    refused = table.locator("tr.row-refused")
    expect(refused).to_have_count(len(INVALID))
    for row, (line, reason) in zip((refused.nth(0), refused.nth(1)), INVALID.items()):
        expect(row.locator("td").first).to_have_text(str(line))
        expect(row.locator("td.error")).to_have_text(reason)
    # The values as read, readable and in the feed's order, for the seller to find the row.
    expect(refused.nth(0).locator(".raw-values > span")).to_have_text(
        ["kod ŁÓDŹ-1", "ean —", "nazwa Łóżko „Świt”", "stan dużo", "dni 3", "cena 450,00"])


def _run_import(page) -> None:
    """Press "Run import now" and watch the progress bar until the worker is done."""
    section = page.locator("#feed-import")
    expect(section.locator("#import-progress")).to_have_text("No import has run yet.")
    section.get_by_role("button", name="Run import now").click()
    progress = section.locator("#import-progress .progress-box")
    expect(progress).to_have_count(1)
    expect(progress.locator(".import-state")).to_have_text("Done", timeout=JOB_TIMEOUT_MS)
    expect(progress.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    expect(progress.locator(".progress-bar")).to_have_attribute("style", re.compile(r"width:\s*100%"))
    expect(progress).not_to_have_attribute("hx-trigger", re.compile("."))  # it stopped polling


def _check_counts(page, matched: int) -> None:
    progress = page.locator("#import-progress .progress-box")
    expect(progress.locator(".rows-read")).to_have_text(str(len(FEED_LINES) - 1))
    expect(progress.locator(".matched")).to_have_text(str(matched))
    expect(progress.locator(".invalid")).to_have_text(str(len(INVALID)))
    expect(progress.locator(".progress-counts")).to_contain_text(
        f"{len(FEED_LINES) - 1 - len(INVALID) - matched} unmatched")
    expect(progress.locator(".alert-error")).to_have_count(0)


def _check_problems_download(page) -> None:
    """The link under the finished bar downloads the invalid rows: line, reason and the row as read."""
    link = page.locator("#import-progress").get_by_role("link", name=re.compile("Download the invalid rows"))
    expect(link).to_be_visible()
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert re.fullmatch(r"feed-\d+-import-\d+-problems\.csv", download.suggested_filename), \
        download.suggested_filename
    with open(download.path(), encoding="utf-8") as handle:
        records = list(csv.reader(handle))
    assert records[0] == ["line", "reason", "row"]
    assert [(int(r[0]), r[1]) for r in records[1:]] == list(INVALID.items())
    rows = [json.loads(r[2]) for r in records[1:]]
    assert rows[0] == {"kod": "ŁÓDŹ-1", "ean": "", "nazwa": "Łóżko „Świt”", "stan": "dużo", "dni": "3",
                       "cena": "450,00"}
    assert rows[1]["ean"] == "12345" and rows[1]["nazwa"] == "Szafka bez kodu"
    # The same file from the same address, as a script would fetch it.
    response = page.request.get(urljoin(page.url, link.get_attribute("href")))
    assert response.ok and response.headers["content-type"].startswith("text/csv")
    assert response.text().splitlines()[1].startswith("8,stock quantity “dużo” is not a number,")


def _upload_map_and_import(page, live_server, screenshot, matched: int) -> int:
    feed_id = _add_feed(page, live_server)
    _check_raw_preview(page)
    screenshot(page, "feed-raw-preview")
    _map_columns(page)
    _check_typed_preview(page)
    screenshot(page, "feed-mapping-preview")
    _run_import(page)
    _check_counts(page, matched)
    # "Recent imports" catches up by itself once the bar is done.
    recent = page.locator("#recent-imports tbody tr")
    expect(recent).to_have_count(1)
    expect(recent.locator("td").nth(1)).to_contain_text("done")
    expect(page.locator("#import-progress .progress-bar")).to_have_class(re.compile(r"\bdone\b"))
    screenshot(page, "feed-import-done")
    _check_problems_download(page)
    return feed_id


def _imports(live_server, feed_id: int) -> list[tuple]:
    with live_server.app.app_context():
        rows = db.session.execute(select(
            FeedImport.state, FeedImport.rows_read, FeedImport.matched, FeedImport.unmatched, FeedImport.invalid,
            FeedImport.links_updated).where(FeedImport.feed_id == feed_id)).all()
        db.session.remove()
    return [tuple(row) for row in rows]


@pytest.mark.browser
def test_uploaded_cp1250_feed_is_mapped_previewed_and_imported(live_server, live_workers, page, sign_in,
                                                                screenshot):
    live_workers.start(1, queues=WORKER_QUEUES)  # it boots while the feed is being set up
    with live_server.app.app_context():
        for sku in MATCHED_SKUS:
            create_product(sku, "", f"Produkt {sku} — zażółć")
        db.session.remove()
    sign_in(page, live_server.admin)

    feed_id = _upload_map_and_import(page, live_server, screenshot, matched=len(MATCHED_SKUS))

    # The page loaded afresh keeps the mapping, the finished bar and lists the import.
    page.reload()
    expect(page.locator("#import-progress .import-state")).to_have_text("Done")
    expect(page.locator("#typed-preview")).to_be_visible()
    expect(page.locator("#feed-columns select[name=stock_quantity]")).to_have_value("stan")
    row = page.locator("#recent-imports tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(1)).to_contain_text("done")
    expect(row.locator("td").nth(2)).to_have_text("9")
    expect(row.locator("td").nth(3)).to_have_text("6")
    expect(row.get_by_role("link", name="Invalid rows (CSV)")).to_be_visible()

    page.goto(f"{live_server.url}/feeds")
    listed = page.locator("tbody tr").filter(has_text=FEED_NAME)
    expect(listed).to_contain_text("stany-magazynowe.csv")
    expect(listed.locator("td")).to_have_text([FEED_NAME, "stany-magazynowe.csv", "CSV", re.compile("done"), "9", "6",
                                               "2"])

    # No product is linked to a shop, so nothing carries the stock yet.
    assert _imports(live_server, feed_id) == [("done", 9, 6, 1, 2, 0)]
    _no_server_errors(page)


# --- the shop's availability -------------------------------------------------------------------------------


def _make_shop(live_server, prestashop_db) -> int:
    """A PrestaShop integration whose availability goes straight into the shop's MariaDB database."""
    with live_server.app.app_context():
        integration = make_integration(
            "prestashop", name=SHOP_NAME, credentials={"api_key": "KEY123", "db_dsn": prestashop_db.dsn},
            settings={"shop_url": "http://shop.test", "language_id": 1,
                      "database": {"prefix": "ps_", "shop_ids": list(shop_data.ALL_SHOPS),
                                   "language_ids": list(shop_data.LANGUAGES), "only_changed": True}})
        integration_id = integration.id
        db.session.remove()
    return integration_id


def _link_products(page, live_server, integration_id: int) -> None:
    """Press "Link products" (creating Kontor products for the shop's items) and wait for the job."""
    page.goto(f"{live_server.url}/integrations/{integration_id}")
    card = page.locator("#shop-products")
    expect(card.get_by_role("heading", name="Products and availability")).to_be_visible()
    card.get_by_label("Create Kontor products for shop items that match none").check()
    card.get_by_role("button", name="Link products").click()
    expect(page.locator(".flash").filter(has_text=f"Linking {SHOP_NAME}'s products has started")).to_be_visible()
    runs = page.locator("#integration-runs")
    _reload_until(page, runs, "product links")
    autolink_run = runs.locator("tbody tr").filter(has_text="product links")
    expect(autolink_run).to_contain_text("ok")
    expect(autolink_run).to_contain_text("new links")


def _links(live_server, integration_id: int) -> dict[tuple[int, int], tuple[str, dict | None]]:
    """(shop product, combination) -> the linked Kontor product's SKU and its supplier stock."""
    with live_server.app.app_context():
        rows = db.session.execute(select(ProductLink.external_product_id, ProductLink.external_combination_id,
                                         Product.sku, ProductLink.supplier_availability)
                                  .join(ProductLink.product).where(ProductLink.integration_id == integration_id)).all()
        db.session.remove()
    return {(int(product), int(combination)): (sku, supply) for product, combination, sku, supply in rows}


def _set_up_availability(page, live_server, integration_id: int, screenshot) -> None:
    """Fill in the texts of every language, the threshold and switch the sync on."""
    page.goto(f"{live_server.url}/integrations/{integration_id}")
    page.get_by_role("link", name="Availability settings, dry run and sync").click()
    expect(page).to_have_url(f"{live_server.url}/integrations/{integration_id}/availability")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Availability in {SHOP_NAME}")
    expect(page.locator("main")).to_contain_text("Written straight into the shop database.")
    expect(page.get_by_label("Shop ids")).to_have_value("1, 2, 3")
    expect(page.get_by_label("Language ids")).to_have_value("1, 2, 3")
    expect(page.get_by_label("Table prefix")).to_have_value("ps_")

    page.get_by_label("Sync availability every 30 minutes").check()
    page.get_by_label("Minimum supplier stock").fill("20")
    page.get_by_label("Delivery days when the feed gives none").fill("7")
    # A language without texts is refused, and the form keeps what was typed.
    page.get_by_label("Texts per language").fill("\n".join(TEXT_LINES[:2]))
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".field.has-error")).to_contain_text("Add the texts for language 3.")
    expect(page.get_by_label("Texts per language")).to_have_value("\n".join(TEXT_LINES[:2]))

    page.get_by_label("Texts per language").fill("\n".join(TEXT_LINES))
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".flash").filter(has_text="Availability settings saved.")).to_be_visible()
    expect(page.get_by_label("Texts per language")).to_have_value("\n".join(TEXT_LINES))
    expect(page.get_by_label("Sync availability every 30 minutes")).to_be_checked()
    expect(page.get_by_label("Delivery days when the feed gives none")).to_have_value("7")

    # Test database: the stored DSN and the prefix are checked; the shop's own shops and languages are offered.
    page.get_by_role("button", name="Test database").click()
    expect(page.locator("#database-check")).to_contain_text("table prefix ps_: 3 shops")
    shops, languages = page.locator("#pick-shops"), page.locator("#pick-languages")
    expect(shops.get_by_role("checkbox")).to_have_count(3)
    expect(shops).to_contain_text("Outlet Kraków")
    expect(shops).to_contain_text("group 2, shares stock")
    expect(languages).to_contain_text("Deutsch (German)")
    for box in (*shops.get_by_role("checkbox").all(), *languages.get_by_role("checkbox").all()):
        expect(box).to_be_checked()  # what was configured stays ticked
    screenshot(page, "availability-test-database")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".flash").filter(has_text="Availability settings saved.")).to_be_visible()
    expect(page.get_by_label("Shop ids")).to_have_value("1, 2, 3")


def _summary(page) -> dict[str, int]:
    """The numbers of the result's summary: linked products, sent, without data, and shop rows changed / right / missing."""
    text = " ".join(page.locator("#availability-summary").inner_text().split())
    match = re.search(r"Linked products: (?P<linked>\d+), sent (?P<sent>\d+), without supplier data \(left as the shop "
                      r"has them\) (?P<without_data>\d+), taken as stock 0 \(missing from the feed\) \d+, with missing "
                      r"shop rows \d+\. Shop rows: (?P<changed>\d+) (?:would change|changed), (?P<right>\d+) "
                      r"already right, (?P<missing>\d+) missing \(\d+\.\d\d s via database\)\.$", text)
    assert match, text
    return {name: int(value or 0) for name, value in match.groupdict().items()}


STOCK_TABLES = ("stock_available", "product_lang")


def _out_of_stock(prestashop_db, product: int, attribute: int, shop: int, group: int) -> int:
    return prestashop_db.cell("stock_available", "out_of_stock", id_product=product, id_product_attribute=attribute,
                              id_shop=shop, id_shop_group=group)


def _later(prestashop_db, product: int, shop: int, lang: int) -> str | None:
    return prestashop_db.cell("product_lang", "available_later", id_product=product, id_shop=shop, id_lang=lang)


@pytest.mark.browser
def test_feed_stock_becomes_availability_in_the_prestashop_database(live_server, live_workers, prestashop_db, page,
                                                                     sign_in, screenshot):
    live_workers.start(1, queues=WORKER_QUEUES)
    integration_id = _make_shop(live_server, prestashop_db)
    sign_in(page, live_server.admin)

    # The shop's products become Kontor products, each linked to its product or combination.
    _link_products(page, live_server, integration_id)
    links = _links(live_server, integration_id)
    # Every product and combination with a reference or an EAN; product 3 has neither.
    assert set(links) == {key for product in shop_data.PRODUCTS for key in shop_data.stock_keys(product)} - {(3, 0)}
    assert {sku for sku, _ in links.values()} >= set(MATCHED_SKUS)
    assert all(supply is None for _, supply in links.values())

    # The wholesaler's feed sets the linked products' supplier stock.
    feed_id = _upload_map_and_import(page, live_server, screenshot, matched=len(MATCHED_SKUS))
    assert _imports(live_server, feed_id) == [("done", 9, 6, 1, 2, 6)]
    links = _links(live_server, integration_id)
    supplied = {sku: supply for sku, supply in links.values() if supply is not None}
    assert set(supplied) == set(MATCHED_SKUS)
    assert supplied["KRZ-001"] == {"contractor_id": feed_id, "stock_quantity": 50, "delivery_days": 4,
                                   "purchase_price": "199.90"}
    assert (supplied["TSH-M"]["stock_quantity"], supplied["TSH-M"]["delivery_days"]) == (30, 3)
    assert (supplied["WS-10"]["stock_quantity"], supplied["WS-10"]["delivery_days"]) == (0, None)
    assert links[(2, 0)] == ("TSH", None)  # the T-shirt itself: the feed sells its sizes

    _set_up_availability(page, live_server, integration_id, screenshot)

    # Dry run: the diff is shown, the shop's tables are left as they were.
    before = prestashop_db.snapshot(*STOCK_TABLES)
    run = page.locator("#availability-run")
    run.get_by_role("button", name="Dry run: show what would change").click()
    result = page.locator("#availability-result")
    expect(result.locator("#availability-summary")).to_contain_text("Dry run — nothing was written.")
    # 14 links, 6 with supplier data; the T-shirt (2) and the mug (9) follow their supplied combinations. The
    # rest (2/3, 4, 5, 6, 7, 9/5) the supplier never listed: left as the shop has them. Product 8 has no
    # shared stock row.
    dry_run = _summary(page)
    assert dry_run == {"linked": len(links), "sent": 8, "without_data": 6, "changed": 56, "right": 4,
                       "missing": 1}, dry_run
    expect(result.get_by_role("heading", name=re.compile(r"^Would change \(first \d+\)$"))).to_be_visible()
    changes = result.locator("ul.diff").first.locator("li")
    expect(changes.first).to_be_visible()
    expect(result.locator("ul.diff li").filter(
        has_text=re.compile(r"^stock_available \(id_product 1, id_product_attribute 0, id_shop 0, id_shop_group 2\): "
                            r"out_of_stock: 2 → 1$"))).to_have_count(1)
    expect(result.get_by_role("heading", name=re.compile(r"^Missing in the shop"))).to_be_visible()
    expect(result).to_contain_text("8")  # product 8 has no stock row for its shared group
    screenshot(page, "availability-dry-run")
    assert prestashop_db.snapshot(*STOCK_TABLES) == before, "the dry run wrote into the shop"

    # Sync now (it asks first): the same changes, written.
    page.once("dialog", lambda dialog: dialog.accept())
    run.get_by_role("button", name="Sync now").click()
    expect(result.locator("#availability-summary")).not_to_contain_text("Dry run")
    expect(result.locator("#availability-summary")).to_contain_text("changed")
    assert _summary(page) == dry_run
    expect(result.get_by_role("heading", name=re.compile(r"^Changed \(first \d+\)$"))).to_be_visible()
    screenshot(page, "availability-synced")
    assert prestashop_db.snapshot(*STOCK_TABLES) != before

    # KRZ-001 (50 >= 20, 4 days): orders allowed everywhere, the "later" text with the feed's days.
    independent, shared = (shop_data.INDEPENDENT_SHOP, 0), (0, shop_data.SHARED_GROUP)
    assert _out_of_stock(prestashop_db, 1, 0, *independent) == 1
    assert _out_of_stock(prestashop_db, 1, 0, *shared) == 1
    for shop in shop_data.ALL_SHOPS:
        assert [_later(prestashop_db, 1, shop, lang) for lang in shop_data.LANGUAGES] == \
            ["Wysyłka w 4 dni", "Ships in 4 days", "Lieferung in 4 Tagen"]
        assert prestashop_db.cell("product_lang", "available_now", id_product=1, id_shop=shop, id_lang=1) == "Dostępny"
    # The T-shirt's sizes: S (5 < 20) denied, M (30) allowed; the T-shirt itself follows its best size.
    for shop, group in (independent, shared):
        assert _out_of_stock(prestashop_db, 2, 1, shop, group) == 0
        assert _out_of_stock(prestashop_db, 2, 2, shop, group) == 1
        assert _out_of_stock(prestashop_db, 2, 0, shop, group) == 1
    assert _later(prestashop_db, 2, shop_data.INDEPENDENT_SHOP, 1).startswith("Wysyłka w")
    # WS-10 (0 in stock): denied, "unavailable" in every language.
    assert _out_of_stock(prestashop_db, 10, 0, *independent) == 0
    assert [_later(prestashop_db, 10, 2, lang) for lang in shop_data.LANGUAGES] == \
        ["Niedostępny", "Unavailable", "Nicht verfügbar"]
    # Rows PrestaShop ignores (shops 2 and 3 of the sharing group) are left alone.
    for shop in shop_data.SHARED_SHOPS:
        assert _out_of_stock(prestashop_db, 1, 0, shop, 0) == 0
    # Product 8 has no shared-group stock row: reported missing, none created.
    assert prestashop_db.count("stock_available", id_product=8, id_shop=0) == 0

    # Nothing changed since: a second dry run compares every row with the shop and has nothing to write.
    run.get_by_role("button", name="Dry run: show what would change").click()
    expect(result.locator("#availability-summary")).to_contain_text("Dry run — nothing was written.")
    again = _summary(page)
    assert again == {**dry_run, "changed": 0, "right": dry_run["changed"] + dry_run["right"]}, again
    expect(result.locator("ul.diff")).to_have_count(1)  # only the missing rows are listed

    # The catalogue shows the supplier stock the feed brought, and the product what was written.
    page.goto(f"{live_server.url}/products")
    expect(page.locator(".stat").filter(has_text="linked to a shop").locator("strong")).to_have_text(str(len(links)))
    krz = page.locator("tbody tr").filter(has=page.get_by_role("link", name="KRZ-001", exact=True))
    expect(krz.locator("td")).to_have_text(["KRZ-001", "0012345678905", re.compile("Krzesło dębowe „Żółw”"), "1",
                                            "50 pcs, 4 d"])
    screenshot(page, "products-list")
    krz.get_by_role("link", name="KRZ-001").click()
    link_row = page.locator("tbody tr").filter(has_text=SHOP_NAME)
    expect(link_row).to_contain_text("In the last import; if missing: last known stock kept")
    expect(link_row.locator("td").nth(3)).to_have_text("50")
    expect(link_row.locator("td").nth(4)).to_have_text("4 days")
    screenshot(page, "product-detail")
    _no_server_errors(page)
