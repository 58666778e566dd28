"""PrestaShopDatabase against MariaDB loaded with PrestaShop's real schema (tests/fakes/prestashop_db.py).

The standard shop: shop 1 keeps its own stock; shops 2 and 3 share stock in group 2; languages
pl/en/de; products with and without combinations, and deliberate gaps (see the fixture module).
"""

from __future__ import annotations

import dataclasses

import pymysql
import pytest
import sqlalchemy as sa

from app.integrations.base import TransientPlatformError
from app.integrations.prestashop.database import availability as database_module
from app.integrations.prestashop.database import (
    AvailabilityWrite,
    PrestaShopDatabase,
    PrestaShopDatabaseError,
    ShopItem,
    normalise_dsn,
)
from app.integrations.prestashop.database.chunks import dense_ranges
from tests.fakes.prestashop_db import (
    ALL_SHOPS,
    INDEPENDENT_SHOP,
    INITIAL_TEXTS,
    LANGUAGES,
    PRODUCTS,
    SHARED_GROUP,
    SHARED_SHOPS,
    load_bulk_shop,
    load_standard_shop,
    stock_keys,
)

WRITABLE = {"stock_available": {"out_of_stock"}, "product_lang": {"available_now", "available_later"}}
DELIVERY_TEXTS = {1: ("", "Wysyłka w {days} dni"), 2: ("", "Ships in {days} days"),
                  3: ("", "Lieferung in {days} Tagen")}
UNAVAILABLE_TEXTS = {1: ("Niedostępny", ""), 2: ("Unavailable", ""), 3: ("Nicht verfügbar", "")}


def allowed(id_product: int, id_attribute: int) -> bool:
    """The rule the tests write: odd products (and odd combinations) may be ordered."""
    return (id_product + id_attribute) % 2 == 1


def product_texts(id_product: int) -> dict[int, tuple[str, str]]:
    if allowed(id_product, 0):
        return {lang: (now, later.format(days=id_product)) for lang, (now, later) in DELIVERY_TEXTS.items()}
    return dict(UNAVAILABLE_TEXTS)


def standard_writes() -> list[AvailabilityWrite]:
    """One write per product and combination of the standard shop; texts on product rows only."""
    writes = []
    for product in PRODUCTS:
        for id_product, id_attribute in stock_keys(product):
            writes.append(AvailabilityWrite(id_product, id_attribute, int(allowed(id_product, id_attribute)),
                                            product_texts(id_product) if id_attribute == 0 else None))
    return writes


def write(db, writes=None, **options):
    client = PrestaShopDatabase(db.dsn, db.prefix)
    options.setdefault("shop_ids", ALL_SHOPS)
    options.setdefault("language_ids", LANGUAGES)
    try:
        return client.write_availability(standard_writes() if writes is None else writes, **options)
    finally:
        client.close()


def without_writable(snapshot: dict[str, list[dict]]) -> dict[str, list[dict]]:
    return {table: [{column: value for column, value in row.items() if column not in WRITABLE.get(table, ())}
                    for row in rows] for table, rows in snapshot.items()}


def stock(db, id_product, id_attribute, id_shop, id_shop_group):
    return db.cell("stock_available", "out_of_stock", id_product=id_product, id_product_attribute=id_attribute,
                   id_shop=id_shop, id_shop_group=id_shop_group)


def texts(db, id_product, id_shop, id_lang):
    row = db.rows("product_lang", "id_product = :p AND id_shop = :s AND id_lang = :l",
                  {"p": id_product, "s": id_shop, "l": id_lang})
    assert len(row) == 1
    return row[0]["available_now"], row[0]["available_later"]


def comparable(report):
    """The report without what differs between a dry and a real run."""
    return {key: value for key, value in dataclasses.asdict(report).items() if key not in ("dry_run", "duration")}


# -- reading --------------------------------------------------------------------------------------


def test_items_lists_products_then_their_combinations_with_reference_and_ean(prestashop_db):
    client = PrestaShopDatabase(prestashop_db.dsn.replace("mysql+pymysql://", "mysql://"), "ps_")

    items = list(client.items())

    expected = []
    for product in PRODUCTS:
        expected.append((product.id_product, 0, (product.reference or "").strip(), (product.ean13 or "").strip()))
        expected.extend((product.id_product, a, reference or "", ean or "")
                        for a, reference, ean in product.combinations)
    assert [(i.id_product, i.id_product_attribute, i.reference, i.ean13) for i in items] == expected
    # EANs keep their leading zeros; duplicate and empty references come through as they are.
    assert ShopItem(1, 0, "KRZ-001", "0012345678905", "Krzesło dębowe „Żółw” [pl]") in items
    assert [i.id_product for i in items if i.reference == "DUP-1"] == [4, 5]
    assert ShopItem(2, 3, "", "0040000000017", "Koszulka z łąki [pl]") in items
    # The default language is PS_LANG_DEFAULT (1, Polish); another can be asked for.
    assert {i.name for i in client.items(language_id=3) if i.id_product == 9} == {"Kubek ceramiczny [de]"}
    # Product 7 is absent from shop 1 (its default shop): its name comes from another shop.
    assert next(i.name for i in items if i.id_product == 7) == "Tylko w outletach [pl]"


def test_items_reads_in_pages_without_losing_or_repeating_anything(prestashop_db):
    client = PrestaShopDatabase(prestashop_db.dsn, "ps_")

    assert list(client.items(page_size=3)) == list(client.items(page_size=1000))


def test_check_shops_and_languages(prestashop_db):
    client = PrestaShopDatabase(prestashop_db.dsn, "ps_")

    message = client.check()

    assert "MariaDB" in message and "prefix ps_" in message
    assert "3 shops, 10 products, 5 combinations" in message
    assert client.shops() == [(1, 1, "Sklep główny"), (2, 2, "Outlet Kraków"), (3, 2, "Outlet Łódź")]
    assert [(lang.id_lang, lang.iso_code) for lang in client.languages()] == [(1, "pl"), (2, "en"), (3, "de")]


def test_check_with_the_wrong_prefix_names_the_prefix_that_exists(prestashop_db_factory):
    db = prestashop_db_factory("kt_")

    with pytest.raises(PrestaShopDatabaseError) as raised:
        PrestaShopDatabase(db.dsn, "ps_").check()

    assert "ps_stock_available" in raised.value.message
    assert "prefix kt_" in raised.value.message


def test_unreachable_server_is_a_transient_error():
    client = PrestaShopDatabase("mysql://kontor:secret@127.0.0.1:1/shop", connect_timeout=2)

    with pytest.raises(TransientPlatformError, match="Can't connect"):
        client.check()


@pytest.mark.parametrize("dsn, expected", [
    ("mysql://u:p@db:3306/shop", "mysql+pymysql://u:p@db:3306/shop?charset=utf8mb4"),
    ("mariadb://u:p@db/shop?charset=utf8", "mysql+pymysql://u:p@db/shop?charset=utf8"),
    ("mysql+pymysql://u:p%40x@db/shop", "mysql+pymysql://u:p%40x@db/shop?charset=utf8mb4"),
])
def test_dsn_is_normalised_to_pymysql(dsn, expected):
    assert normalise_dsn(dsn).render_as_string(hide_password=False) == expected


@pytest.mark.parametrize("dsn", ["postgresql://u@db/shop", "mysql://u@db", "not a url",
                                 "mysql://u:p@db/shop?read_default_file=/etc/passwd", "mysql://u:p@db/shop?unix_socket=/x",
                                 "mysql://u:p@db/shop?charset=utf8mb4&local_infile=1"])
def test_dsn_that_is_not_mysql_is_refused(dsn):
    with pytest.raises(ValueError) as refused:
        normalise_dsn(dsn)
    assert ":p@" not in str(refused.value)  # the password is never repeated


# -- writing --------------------------------------------------------------------------------------


def test_write_changes_only_the_three_columns_and_inserts_nothing(prestashop_db):
    before = prestashop_db.snapshot()

    report = write(prestashop_db)

    after = prestashop_db.snapshot()
    assert without_writable(after) == without_writable(before)
    assert {table: len(rows) for table, rows in after.items()} == {table: len(rows) for table, rows in before.items()}
    assert report.changed > 0
    # And the three columns did change where the report says so.
    changed = sum(old != new for table in WRITABLE for old, new in zip(before[table], after[table]))
    assert changed == report.changed


def test_shared_stock_writes_the_group_row_once_and_leaves_the_shops_rows_alone(prestashop_db):
    report = write(prestashop_db)

    assert report.targets == ["shop 1", "shop group 2 (shared stock of shops 2, 3)"]
    for product in PRODUCTS:
        for p, a in stock_keys(product):
            if prestashop_db.count("stock_available", id_product=p, id_product_attribute=a, id_shop=0,
                                   id_shop_group=SHARED_GROUP):
                assert stock(prestashop_db, p, a, 0, SHARED_GROUP) == int(allowed(p, a))
    # Rows of shops 2 and 3 themselves (left from before the group shared stock) are not PrestaShop's
    # rows for those shops any more: untouched.
    for p, a in stock_keys(PRODUCTS[0]) + stock_keys(PRODUCTS[1]):
        for shop in SHARED_SHOPS:
            assert stock(prestashop_db, p, a, shop, 0) == 0
    written = {(row.key["id_shop"], row.key["id_shop_group"]) for row in report.changed_rows
               if row.table == "stock_available"}
    assert written == {(0, SHARED_GROUP), (INDEPENDENT_SHOP, 0)}


def test_independent_shop_gets_its_own_rows(prestashop_db):
    write(prestashop_db)

    assert stock(prestashop_db, 1, 0, INDEPENDENT_SHOP, 0) == 1  # already 1: unchanged
    assert stock(prestashop_db, 2, 0, INDEPENDENT_SHOP, 0) == 0
    assert stock(prestashop_db, 2, 1, INDEPENDENT_SHOP, 0) == 1
    assert stock(prestashop_db, 2, 2, INDEPENDENT_SHOP, 0) == 0
    assert stock(prestashop_db, 2, 3, INDEPENDENT_SHOP, 0) == 1
    assert stock(prestashop_db, 9, 4, INDEPENDENT_SHOP, 0) == 1
    assert stock(prestashop_db, 6, 0, INDEPENDENT_SHOP, 0) == 0


def test_texts_are_written_per_product_shop_and_language(prestashop_db):
    write(prestashop_db)

    for shop in ALL_SHOPS:
        assert texts(prestashop_db, 1, shop, 1) == ("", "Wysyłka w 1 dni")
        assert texts(prestashop_db, 1, shop, 3) == ("", "Lieferung in 1 Tagen")
        assert texts(prestashop_db, 2, shop, 2) == ("Unavailable", "")
        # Product 6 had NULL texts everywhere.
        assert texts(prestashop_db, 6, shop, 1) == ("Niedostępny", "")
    assert texts(prestashop_db, 7, 2, 1) == ("", "Wysyłka w 7 dni")


def test_texts_only_in_the_configured_languages_and_only_for_writes_with_texts(prestashop_db):
    writes = [AvailabilityWrite(1, 0, 1, {1: ("A", "B"), 3: ("C", "D")}),  # 3 is not configured
              AvailabilityWrite(2, 1, 0, None)]  # a combination: no texts

    report = write(prestashop_db, writes, language_ids=[1, 2])

    for shop in ALL_SHOPS:
        assert texts(prestashop_db, 1, shop, 1) == ("A", "B")
        assert texts(prestashop_db, 1, shop, 2) == INITIAL_TEXTS[2]  # no text given for language 2
        assert texts(prestashop_db, 1, shop, 3) == INITIAL_TEXTS[3]
        assert texts(prestashop_db, 2, shop, 1) == INITIAL_TEXTS[1]
    assert (report.texts.changed, report.texts.unchanged, report.texts.missing) == (3, 0, 0)


def test_texts_are_compared_exactly_and_stored_exactly(prestashop_db):
    tricky = "Dostępny „od ręki” — 100% O'Reilly \\ {delivery_days}"
    first = write(prestashop_db, [AvailabilityWrite(1, 0, 1, {1: (tricky, None), 2: ("in stock", "")})],
                  shop_ids=[INDEPENDENT_SHOP])
    assert first.texts.changed == 2
    assert texts(prestashop_db, 1, INDEPENDENT_SHOP, 1) == (tricky, None)

    # The shop's collation calls "in stock" and "In stock" equal; the sync must not.
    again = write(prestashop_db, [AvailabilityWrite(1, 0, 1, {1: (tricky, None), 2: ("In stock", "")})],
                  shop_ids=[INDEPENDENT_SHOP])
    assert (again.texts.changed, again.texts.unchanged) == (1, 1)
    assert texts(prestashop_db, 1, INDEPENDENT_SHOP, 2) == ("In stock", "")

    # NULL and "" are different texts, both ways.
    flipped = write(prestashop_db, [AvailabilityWrite(1, 0, 1, {1: (tricky, ""), 2: (None, "")})],
                    shop_ids=[INDEPENDENT_SHOP])
    assert flipped.texts.changed == 2
    assert texts(prestashop_db, 1, INDEPENDENT_SHOP, 1) == (tricky, "")
    assert texts(prestashop_db, 1, INDEPENDENT_SHOP, 2) == (None, "")


def test_missing_rows_are_reported_and_not_created(prestashop_db):
    counts_before = {table: prestashop_db.count(table) for table in WRITABLE}

    report = write(prestashop_db)

    assert {table: prestashop_db.count(table) for table in WRITABLE} == counts_before
    assert [(row.table, row.reason) for row in report.missing_rows] == [
        ("stock_available", "no stock_available row for product 7 combination 0 in shop 1"),
        ("stock_available", "no stock_available row for product 8 combination 0 in shop group 2 "
                            "(shared stock of shops 2, 3)"),
        ("stock_available", "no stock_available row for product 9 combination 5 in shop 1"),
        ("product_lang", "no product_lang row for product 7 in shop 1, language 1"),
        ("product_lang", "no product_lang row for product 7 in shop 1, language 2"),
        ("product_lang", "no product_lang row for product 7 in shop 1, language 3"),
    ]
    assert report.missing_rows[0].key == {"id_product": 7, "id_product_attribute": 0, "id_shop": 1,
                                          "id_shop_group": 0}
    # 15 products and combinations x 2 stock targets; 10 products x 3 shops x 3 languages.
    assert (report.stock.changed, report.stock.unchanged, report.stock.missing) == (26, 1, 3)
    assert (report.texts.changed, report.texts.unchanged, report.texts.missing) == (87, 0, 3)
    assert report.missing_keys == {(7, 0), (8, 0), (9, 5)}


def test_every_missing_row_is_listed_even_when_the_sample_of_changes_is_short(prestashop_db):
    report = write(prestashop_db, sample_size=1)

    assert len([row for row in report.changed_rows if row.table == "stock_available"]) == 1
    assert [(row.table, row.key["id_product"]) for row in report.missing_rows] == [
        ("stock_available", 7), ("stock_available", 8), ("stock_available", 9),
        ("product_lang", 7), ("product_lang", 7), ("product_lang", 7)]
    assert report.missing_keys == {(7, 0), (8, 0), (9, 5)}


def test_a_missing_text_row_counts_against_the_write_that_carried_the_texts(prestashop_db):
    prestashop_db.execute("DELETE FROM {product_lang} WHERE id_product = 2 AND id_shop = 1 AND id_lang = 1")
    writes = [AvailabilityWrite(2, 1, 1, product_texts(1)), AvailabilityWrite(2, 2, 0, None)]

    report = write(prestashop_db, writes)

    assert report.missing_keys == {(2, 1)}
    assert [row.reason for row in report.missing_rows] == ["no product_lang row for product 2 in shop 1, language 1"]


def test_second_run_changes_nothing(prestashop_db):
    first = write(prestashop_db)
    second = write(prestashop_db)

    assert (second.changed, second.missing) == (0, first.missing)
    assert second.unchanged == first.changed + first.unchanged
    assert second.changed_rows == []


def test_dry_run_writes_nothing_and_reports_the_same_diff(prestashop_db):
    before = prestashop_db.snapshot()

    dry = write(prestashop_db, dry_run=True, chunk_size=4, sample_size=5)

    assert prestashop_db.snapshot() == before
    real = write(prestashop_db, chunk_size=4, sample_size=5)
    assert dry.dry_run and not real.dry_run
    assert comparable(dry) == comparable(real)
    assert len(dry.changed_rows) == 10  # 5 per table
    first = dry.changed_rows[0]
    assert (first.table, first.key, first.before, first.after) == (
        "stock_available", {"id_product": 1, "id_product_attribute": 0, "id_shop": 0, "id_shop_group": 2},
        {"out_of_stock": 2}, {"out_of_stock": 1})
    text_change = next(row for row in dry.changed_rows if row.table == "product_lang")
    assert text_change.key == {"id_product": 1, "id_shop": 1, "id_lang": 1}
    assert text_change.before == {"available_now": "Dostępny", "available_later": "Wysyłka w 3 dni"}
    assert text_change.after == {"available_now": "", "available_later": "Wysyłka w 1 dni"}


def test_custom_prefix_and_collation(prestashop_db_factory):
    db = prestashop_db_factory("kt_", collation="COLLATE utf8mb4_unicode_ci")
    load_standard_shop(db)

    report = write(db)

    assert db.tables()[:3] == ["address", "configuration", "customer"]
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT table_collation FROM information_schema.tables WHERE"
                                    " table_schema = DATABASE() AND table_name = 'kt_product_lang'"
                                    ).scalar() == "utf8mb4_unicode_ci"
    assert stock(db, 2, 1, 0, SHARED_GROUP) == 1
    assert texts(db, 3, 3, 2) == ("", "Ships in 3 days")
    assert (report.stock.changed, report.texts.changed, report.missing) == (26, 87, 6)
    assert "prefix kt_" in PrestaShopDatabase(db.dsn, "kt_").check()


def test_shop_group_table_decides_whether_stock_is_shared(prestashop_db_factory):
    db = prestashop_db_factory("ps_", shop_group_table=True)
    load_standard_shop(db)
    # The group rows are still there, but the shop says group 2 no longer shares stock.
    db.execute("UPDATE {shop_group} SET share_stock = 0 WHERE id_shop_group = 2")

    report = write(db, shop_ids=[1, 2, 3])

    assert report.targets == ["shop 1", "shop 2", "shop 3"]
    assert stock(db, 2, 1, 2, 0) == 1 and stock(db, 2, 2, 3, 0) == 0  # the shops' own rows
    assert stock(db, 2, 2, 0, SHARED_GROUP) == 2  # the group row: untouched
    # Shops 2 and 3 have rows of their own for products 1 and 2 only (5 of the 15 keys).
    assert report.stock.missing == 2 * (15 - 5) + 2


def test_several_chunks_give_the_same_result_as_one(prestashop_db_factory):
    one, many = prestashop_db_factory("ps_"), prestashop_db_factory("ps_")
    load_standard_shop(one)
    load_standard_shop(many)

    single = write(one, chunk_size=10_000)
    chunked = write(many, chunk_size=2)

    # [1, 2 (4 rows)] [3, 4] [5, 6] [7, 8] [9 (3 rows)] [10]: a product's rows stay together.
    assert single.chunks == 1 and chunked.chunks == 6
    assert comparable(dataclasses.replace(chunked, chunks=1)) == comparable(single)
    assert without_writable(one.snapshot()) == without_writable(many.snapshot())
    assert one.snapshot() == many.snapshot()


def batches_of(writes, *groups):
    """The writes split into batches of whole products, in the order of `groups` (product ids)."""
    return [[w for w in writes if w.id_product in group] for group in groups]


def test_writes_in_batches_give_the_same_result_as_one_list(prestashop_db_factory):
    one, batched = prestashop_db_factory("ps_"), prestashop_db_factory("ps_")
    load_standard_shop(one)
    load_standard_shop(batched)

    # A sample that takes every change: which 20 a shorter one takes depends on the batches' order.
    single = write(one, sample_size=200)
    # As a sync's plan hands them over: whole products, not in id order (read by the links' key).
    client = PrestaShopDatabase(batched.dsn, batched.prefix)
    try:
        report = client.write_availability_batches(
            batches_of(standard_writes(), {10}, {1, 2}, {3, 4, 5, 6, 7, 8, 9}),
            shop_ids=ALL_SHOPS, language_ids=LANGUAGES, sample_size=200)
    finally:
        client.close()

    assert report.chunks == 3
    assert comparable(dataclasses.replace(report, chunks=1)) == comparable(single)
    assert one.snapshot() == batched.snapshot()


def test_a_product_in_two_batches_is_refused_and_nothing_after_is_written(prestashop_db):
    writes = standard_writes()
    client = PrestaShopDatabase(prestashop_db.dsn, prestashop_db.prefix)
    try:
        with pytest.raises(ValueError, match="Product 2 combination 0 is listed twice"):
            client.write_availability_batches(batches_of(writes, {1, 2}, {2, 3}),
                                              shop_ids=ALL_SHOPS, language_ids=LANGUAGES)
    finally:
        client.close()

    assert stock(prestashop_db, 3, 0, INDEPENDENT_SHOP, 0) == 2  # the refused batch: not written


def test_bulk_write_in_chunks_counts_changes_and_gaps(prestashop_db_factory):
    db = prestashop_db_factory("ps_")
    load_bulk_shop(db, 3000, languages=(1, 2))
    # Gaps late in the run, when the writer expects mostly changes and updates first.
    db.execute("DELETE FROM {stock_available} WHERE id_product IN (2500, 2999)")
    db.execute("DELETE FROM {product_lang} WHERE id_product = 2700 AND id_lang = 2")
    db.execute("UPDATE {stock_available} SET out_of_stock = 1 WHERE id_product BETWEEN 2001 AND 2100")
    writes = [AvailabilityWrite(p, 0, 1, {1: ("", f"Wysyłka w {p % 7} dni"), 2: ("", "Ships soon")})
              for p in range(1, 3001)]

    report = write(db, writes, shop_ids=[1], language_ids=[1, 2], chunk_size=250)

    assert report.chunks == 12
    assert (report.stock.changed, report.stock.unchanged, report.stock.missing) == (2898, 100, 2)
    assert (report.texts.changed, report.texts.unchanged, report.texts.missing) == (5999, 0, 1)
    assert len([row for row in report.changed_rows if row.table == "stock_available"]) == 20
    assert [row.key["id_product"] for row in report.missing_rows] == [2500, 2999, 2700]
    assert report.missing_keys == {(2500, 0), (2999, 0), (2700, 0)}
    assert db.count("stock_available", out_of_stock=1) == 2998
    again = write(db, writes, shop_ids=[1], language_ids=[1, 2], chunk_size=250)
    assert (again.changed, again.unchanged, again.missing) == (0, 2998 + 5999, 3)


def test_a_failed_chunk_is_rolled_back_whole_and_earlier_chunks_stay(prestashop_db, monkeypatch):
    calls = []
    real_update = database_module._TableWriter._update

    def failing_update(self, conn, **options):
        calls.append(self.sql.name)
        if len(calls) == 4:  # chunk 2's product_lang UPDATE, after its stock_available UPDATE
            raise sa.exc.OperationalError("UPDATE", {}, pymysql.err.OperationalError(1366, "Incorrect value"))
        return real_update(self, conn, **options)

    monkeypatch.setattr(database_module._TableWriter, "_update", failing_update)

    with pytest.raises(PrestaShopDatabaseError, match="Incorrect value"):
        write(prestashop_db, chunk_size=1)

    assert stock(prestashop_db, 1, 0, 0, SHARED_GROUP) == 1  # chunk 1 (product 1): committed
    assert stock(prestashop_db, 2, 0, INDEPENDENT_SHOP, 0) == 2  # chunk 2 (product 2): rolled back
    assert texts(prestashop_db, 2, 1, 1) == INITIAL_TEXTS[1]


def test_a_deadlocked_chunk_is_run_again(prestashop_db, monkeypatch):
    real_update = database_module._TableWriter._update
    failures = []

    def deadlock_once(self, conn, **options):
        if not failures:
            failures.append(1)
            raise sa.exc.OperationalError("UPDATE", {}, pymysql.err.OperationalError(1213, "Deadlock found"))
        return real_update(self, conn, **options)

    monkeypatch.setattr(database_module._TableWriter, "_update", deadlock_once)
    monkeypatch.setattr(database_module.time, "sleep", lambda seconds: None)

    report = write(prestashop_db)

    assert failures and (report.stock.changed, report.texts.changed) == (26, 87)


@pytest.mark.parametrize("writes, message", [
    ([AvailabilityWrite(1, 0, 1), AvailabilityWrite(1, 0, 0)], "listed twice"),
    ([AvailabilityWrite(1, 0, 5)], "must be 0, 1 or 2"),
    ([AvailabilityWrite(1, 0, 1, {1: ("x" * 256, "")})], "longer than 255"),
    ([AvailabilityWrite(2, 0, 1, {1: ("a", "")}), AvailabilityWrite(2, 1, 1, {1: ("b", "")})], "two different"),
])
def test_invalid_writes_are_refused_before_anything_is_written(prestashop_db, writes, message):
    before = prestashop_db.snapshot("stock_available", "product_lang")

    with pytest.raises(ValueError, match=message):
        write(prestashop_db, writes)

    assert prestashop_db.snapshot("stock_available", "product_lang") == before


def test_unknown_shop_is_refused(prestashop_db):
    with pytest.raises(PrestaShopDatabaseError, match="Shop 9 does not exist"):
        write(prestashop_db, shop_ids=[1, 9])


def test_one_shop_of_a_sharing_group_writes_the_group_row(prestashop_db):
    report = write(prestashop_db, shop_ids=[3])

    assert report.targets == ["shop group 2 (shared stock of shops 2, 3)"]
    assert stock(prestashop_db, 2, 1, 0, SHARED_GROUP) == 1
    assert stock(prestashop_db, 2, 1, INDEPENDENT_SHOP, 0) == 2
    assert texts(prestashop_db, 2, 3, 1) == UNAVAILABLE_TEXTS[1]
    assert texts(prestashop_db, 2, 2, 1) == INITIAL_TEXTS[1]  # product_lang is per shop


def test_a_chunks_ids_are_read_as_ranges_only_when_dense():
    assert dense_ranges([1, 2, 3, 4, 5, 6, 10, 30]) == ((1, 10), (30, 30))  # gaps up to 16 inside a range
    assert dense_ranges([1, 10, 20, 30]) == ()  # one range, but 30 ids read for 4 products
    assert dense_ranges(list(range(0, 6500, 100))) == ()  # 65 ranges
    assert dense_ranges([]) == ()
