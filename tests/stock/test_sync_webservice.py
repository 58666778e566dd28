"""Availability through PrestaShop's webservice (no shop database): the same report as the database path."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import responses
from sqlalchemy import select

from app.catalog.models import ProductLink
from app.catalog.services import create_product, link_product
from app.extensions import db
from app.integrations.models import IntegrationRun
from app.stock.services import sync_availability
from tests.factories import make_integration

SHOP = "http://shop.test"
XML = ('<?xml version="1.0" encoding="UTF-8"?>\n<prestashop xmlns:xlink="http://www.w3.org/1999/xlink">'
       "<stock_availables>{rows}</stock_availables></prestashop>")
ROW = ("<stock_available><id><![CDATA[{id}]]></id><id_product><![CDATA[{product}]]></id_product>"
       "<id_product_attribute><![CDATA[0]]></id_product_attribute><id_shop><![CDATA[1]]></id_shop>"
       "<id_shop_group><![CDATA[0]]></id_shop_group><quantity><![CDATA[0]]></quantity>"
       "<depends_on_stock><![CDATA[0]]></depends_on_stock><out_of_stock><![CDATA[{out}]]></out_of_stock>"
       "<location><![CDATA[]]></location></stock_available>")
# The shop: product 1 denies orders, product 2 already denies them, product 3 has no stock row.
SHOP_ROWS = {1: [ROW.format(id=11, product=1, out=0)], 2: [ROW.format(id=12, product=2, out=0)], 3: []}


def answer(request):
    product = int(parse_qs(urlparse(request.url).query)["filter[id_product]"][0].strip("[]"))
    return 200, {"Content-Type": "application/xml"}, XML.format(rows="".join(SHOP_ROWS[product]))


@responses.activate
def test_the_webservice_path_compares_with_the_shop_and_reports_like_the_database_path(app):
    shop = make_integration("prestashop", settings={"shop_url": SHOP, "language_id": 1,
                                                    "availability": {"threshold": 20}})
    for number in (1, 2, 3, 4):
        link_product(create_product(f"WS-{number}", "", f"Produkt {number}").id, shop.id, str(number))
    for link in db.session.scalars(select(ProductLink).where(ProductLink.integration_id == shop.id)):
        stock = {"1": 50, "2": 5, "3": 50}.get(link.external_product_id)
        if stock is not None:
            link.supplier_availability = {"contractor_id": 99, "stock_quantity": stock, "delivery_days": 2}
    db.session.commit()
    responses.add_callback(responses.GET, re.compile(rf"{SHOP}/api/stock_availables\?.*"), callback=answer)
    responses.add(responses.PUT, f"{SHOP}/api/stock_availables/11", body="<prestashop/>", status=200)

    result = sync_availability(shop.id)

    assert result.via == "webservice"
    assert (result.considered, result.sent, result.without_supplier_data) == (4, 3, 1)
    assert (result.changed, result.unchanged, result.missing, result.products_missing) == (1, 1, 1, 1)
    assert result.changed_rows == ["stock_available (id_product 1, id_product_attribute 0, id_shop 1): "
                                   "out_of_stock: 0 → 1"]
    assert result.missing_rows == ["no stock_available for product 3 combination 0"]
    puts = [call.request for call in responses.calls if call.request.method == "PUT"]
    assert len(puts) == 1 and b"<out_of_stock><![CDATA[1]]></out_of_stock>" in puts[0].body
    asked = {parse_qs(urlparse(call.request.url).query)["filter[id_product]"][0] for call in responses.calls
             if call.request.method == "GET"}
    assert asked == {"[1]", "[2]", "[3]"}  # product 4 has no supplier data: never asked, never written
    run = db.session.get(IntegrationRun, result.run_id)
    assert run.details["missing_rows"] == [{"table": "stock_available", "id_product": 3, "id_product_attribute": 0,
                                            "reason": "no stock_available for product 3 combination 0"}]
