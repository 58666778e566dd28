"""Reading a PrestaShop catalogue: every product and combination with its reference, EAN and name."""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.integrations.base import ShopItem
from app.integrations.prestashop.database.connection import PrestaShopConnection


class CatalogueReader(PrestaShopConnection):
    """The catalogue reads of a PrestaShop database."""

    def items(self, language_id: int | None = None, *, shop_id: int | None = None,
              page_size: int = 2000) -> Iterator[ShopItem]:
        """Every product (id_product_attribute 0) followed by its combinations, in id order.

        The name comes from product_lang in `language_id` (default: the shop's default language)
        and in `shop_id` (default: each product's default shop), else from any shop. Combinations
        carry their product's name. References and EANs are stripped; NULL becomes "". Pages are
        read by id (keyset) on a fresh connection each, so a slow consumer never holds the shop's
        tables open.
        """
        with self._connect() as conn:
            language = language_id if language_id is not None else self._default_language(conn)
        after = 0
        while True:
            with self._connect() as conn:
                products = self._product_page(conn, after, language, shop_id, page_size)
                if not products:
                    return
                combinations = self._combinations(conn, products[0][0], products[-1][0])
            for id_product, reference, ean13, name in products:
                yield ShopItem(id_product, 0, _clean(reference), _clean(ean13), name or "")
                for id_attribute, attribute_reference, attribute_ean in combinations.get(id_product, ()):
                    yield ShopItem(id_product, id_attribute, _clean(attribute_reference), _clean(attribute_ean),
                                   name or "")
            after = products[-1][0]

    def _product_page(self, conn: Connection, after: int, language: int, shop_id: int | None,
                      limit: int) -> list[tuple]:
        shop = ":shop" if shop_id is not None else "p.id_shop_default"
        rows = conn.execute(sa.text(
            f"SELECT p.id_product, p.reference, p.ean13, COALESCE(pl.name,"
            f"   (SELECT MIN(pl2.name) FROM {self.table('product_lang')} pl2"
            f"    WHERE pl2.id_product = p.id_product AND pl2.id_lang = :lang))"
            f" FROM {self.table('product')} p"
            f" LEFT JOIN {self.table('product_lang')} pl"
            f"   ON pl.id_product = p.id_product AND pl.id_shop = {shop} AND pl.id_lang = :lang"
            f" WHERE p.id_product > :after ORDER BY p.id_product LIMIT :limit"),
            {"after": after, "lang": language, "shop": shop_id, "limit": limit})
        return [(int(r[0]), r[1], r[2], r[3]) for r in rows]

    def _combinations(self, conn: Connection, first: int, last: int) -> dict[int, list[tuple]]:
        rows = conn.execute(sa.text(
            f"SELECT id_product, id_product_attribute, reference, ean13 FROM {self.table('product_attribute')}"
            " WHERE id_product BETWEEN :first AND :last ORDER BY id_product, id_product_attribute"),
            {"first": first, "last": last})
        combinations: dict[int, list[tuple]] = {}
        for id_product, id_attribute, reference, ean13 in rows:
            combinations.setdefault(int(id_product), []).append((int(id_attribute), reference, ean13))
        return combinations


def _clean(value: str | None) -> str:
    return (value or "").strip()

