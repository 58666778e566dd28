"""The plan of one availability sync: what each linked product should say in the shop.

Only links with supplier data are written: a link no feed ever set is left as the shop has it.
A product its feed stopped listing follows the feed's rule (app.catalog.supply): its last known
stock, or stock 0 after N imports without it. What the shop holds now is compared by the write
itself (row by row, in the shop), so the plan never looks at what Kontor wrote before.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain, groupby
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, or_, select

from app.catalog.models import ProductLink
from app.catalog.supply import MissingPolicy
from app.extensions import db
from app.integrations.base import AvailabilityWrite
from app.integrations.models import Integration
from app.stock.availability import Availability, AvailabilityRules, decide
from app.suppliers.services import FEED_KIND

# Links per batch: about one write chunk of the shop database (its DEFAULT_CHUNK_SIZE).
PLAN_BATCH_SIZE = 5000
_PRODUCT = itemgetter(1)


class LinkDecision(NamedTuple):
    """A linked product or combination with supplier data, and what its shop row should say."""

    link_id: int
    product_id: str
    combination_id: str
    availability: Availability

    @property
    def is_product(self) -> bool:
        return self.combination_id == "0"


@dataclass
class Plan:
    """The writes of one sync and the links it leaves alone, counted by reason."""

    writes: list[AvailabilityWrite] = field(default_factory=list)
    considered: int = 0  # links of the integration
    without_supplier_data: int = 0  # never written
    taken_as_zero: int = 0  # missing from their feed long enough, by the feed's rule
    not_shop_ids: int = 0  # links whose ids are not PrestaShop ids

    def counts(self) -> dict[str, int]:
        """The linked products in named counts, for the run record."""
        return {"linked products": self.considered, "products sent": len(self.writes),
                "products without supplier data": self.without_supplier_data,
                "products taken as 0 (missing from the feed)": self.taken_as_zero}


def plan_availability(integration: Integration, rules: AvailabilityRules, limit: int | None = None) -> Plan:
    """Decide the availability of every linked product of the integration that has supplier data."""
    plan = Plan()
    for batch in plan_batches(integration, rules, plan, limit):
        plan.writes.extend(batch)
    return plan


def plan_batches(integration: Integration, rules: AvailabilityRules, plan: Plan, limit: int | None = None,
                 batch_size: int | None = None) -> Iterator[list[AvailabilityWrite]]:
    """The writes of the sync in batches of about `batch_size`, each holding whole products, while
    `plan` counts the links; the counts are complete once the batches are.

    The links are read in the order of their unique key (integration, product, combination), so a
    product's links arrive together and the rows stream from the index while earlier batches are
    being written. Runs once per link, 100,000 times in a big shop, so it reads only what the rule
    needs (the supplier's stock and delivery days, extracted by the database) and decides each
    distinct (stock, delivery days) once; writes of one decision share its texts objects.

    Two links naming one shop row are refused before the first batch (see _refuse_rows_named_twice).
    """
    _refuse_rows_named_twice(integration, rules, limit)
    yield from _batches(integration, rules, plan, limit, batch_size or PLAN_BATCH_SIZE)


def _refuse_rows_named_twice(integration: Integration, rules: AvailabilityRules, limit: int | None) -> None:
    """Refuse the sync, before anything is written, when two links would write one shop row.

    The links' key is unique, so two of them name one row only through ids equal as numbers but
    written differently ("7" and "007"): at least one with a leading zero. Those few products are
    planned on their own first; the write itself could refuse the second only once the batches
    before it were written, as it is handed them one by one.
    """
    padded = or_(ProductLink.external_product_id.like("0_%"), ProductLink.external_combination_id.like("0_%"))
    products = set(db.session.scalars(select(ProductLink.external_product_id).where(
        ProductLink.integration_id == integration.id, padded)))
    if not products:
        return
    names = products | {str(int(product)) for product in products if _is_shop_id(product)}
    writes = Counter(write[:2] for batch in _batches(integration, rules, Plan(), limit, PLAN_BATCH_SIZE,
                                                     ProductLink.external_product_id.in_(sorted(names)))
                     for write in batch)
    twice = sorted(key for key, count in writes.items() if count > 1)
    if twice:
        product, combination = twice[0]
        raise ValueError(f"Product {product} combination {combination} is listed twice: two links name that shop "
                         "row, with its ids written differently (such as 7 and 007). Nothing was written.")


def _batches(integration: Integration, rules: AvailabilityRules, plan: Plan, limit: int | None, batch_size: int,
             only: ColumnElement[bool] | None = None) -> Iterator[list[AvailabilityWrite]]:
    """plan_batches without the check; `only` narrows the links read."""
    supplier = ProductLink.supplier_availability
    links = (select(ProductLink.id).where(ProductLink.integration_id == integration.id)
             .order_by(ProductLink.id).limit(limit).scalar_subquery()) if limit else None
    query = (select(ProductLink.id, ProductLink.external_product_id, ProductLink.external_combination_id,
                    supplier["stock_quantity"].as_string(), supplier["delivery_days"].as_string(),
                    supplier["missed_imports"].as_string(), supplier["contractor_id"].as_string())
             .where(ProductLink.integration_id == integration.id)
             .order_by(ProductLink.external_product_id, ProductLink.external_combination_id))
    if links is not None:
        query = query.where(ProductLink.id.in_(links))
    if only is not None:
        query = query.where(only)
    policies = _missing_policies()
    decided: dict[tuple, Availability] = {}
    # (stock, days) -> the last three fields of a one-link product's write, made once per decision.
    tails: dict[tuple, tuple] = {}
    new_write = AvailabilityWrite._make
    batch: list[AvailabilityWrite] = []
    # Core, not the ORM: plain rows, streamed from a server-side cursor.
    result = db.session.connection().execute(query, execution_options={"yield_per": batch_size})
    for product_id, product_links in groupby(chain.from_iterable(result.partitions()), key=_PRODUCT):
        if len(batch) >= batch_size:
            yield batch
            batch = []
        first = next(product_links)
        more = list(product_links)
        plan.considered += 1 + len(more)
        if more:
            _add_product(plan, batch, [first, *more], policies, decided, rules)
            continue
        # Most products: one link, no combinations, so the link sets the texts. Inlined: it runs 100,000 times.
        _, _, combination_id, stock, days, missed, _ = first
        if stock is None:
            plan.without_supplier_data += 1
            continue
        tail = tails.get((stock, days)) if missed is None else None
        if tail is None:
            availability = _decision(plan, first, policies, decided, rules)
            tail = (availability.out_of_stock, availability.texts or None, availability.shop_texts or None)
            if missed is None:
                tails[(stock, days)] = tail
        combination_id = str(combination_id)
        # _is_shop_id, spelled out: this line runs once per link (100,000 in a big shop).
        if product_id.isascii() and product_id.isdigit() and combination_id.isascii() and combination_id.isdigit():
            batch.append(new_write((int(product_id), int(combination_id), *tail)))
        else:
            plan.not_shop_ids += 1
    if batch:
        yield batch


def _decision(plan: Plan, row, policies: dict[str, MissingPolicy], decided: dict[tuple, Availability],
              rules: AvailabilityRules) -> Availability | None:
    """What a link's supplier data decides (None: it has none); each distinct (stock, days) decided once."""
    _, _, _, stock, days, missed, feed_id = row
    if stock is None:
        return None
    if missed is not None and _taken_as_zero(policies, feed_id, missed):
        stock = "0"
        plan.taken_as_zero += 1
    availability = decided.get((stock, days))
    if availability is None:
        availability = decided[(stock, days)] = decide(
            {"stock_quantity": _json_value(stock), "delivery_days": _json_value(days)}, rules)
    return availability


def _add_product(plan: Plan, batch: list[AvailabilityWrite], rows: list, policies: dict[str, MissingPolicy],
                 decided: dict[tuple, Availability], rules: AvailabilityRules) -> None:
    """The writes of a product with combinations (several links)."""
    decisions: list[LinkDecision] = []
    parent_without_data = None  # the link id of the product row itself, when it has no data
    for row in rows:
        link_id, product_id, combination_id = row[0], row[1], str(row[2])
        availability = _decision(plan, row, policies, decided, rules)
        if availability is None:
            if combination_id == "0":
                parent_without_data = link_id
            else:
                plan.without_supplier_data += 1
        else:
            decisions.append(LinkDecision(link_id, product_id, combination_id, availability))
    if parent_without_data is not None:
        if not decisions:
            plan.without_supplier_data += 1
            return
        # The product's own row follows its combinations' supplier data (see below).
        decisions.append(LinkDecision(parent_without_data, rows[0][1], "0", best(decisions).availability))
    if not decisions:
        return
    owner, most_generous = text_owner(decisions), best(decisions)
    for decision in decisions:
        if decision is owner and decision.is_product:
            # PrestaShop reads a product's own row (and its texts) for the whole product: it may
            # be ordered as soon as any of its combinations may, and says what the best one says.
            decision = LinkDecision(decision.link_id, decision.product_id, "0", most_generous.availability)
        _add(plan, batch, decision, texts=decision.link_id == owner.link_id)


def best(decisions: list[LinkDecision]) -> LinkDecision:
    """The most generous decision of a product (orders allowed), the product row on a tie."""
    return max(decisions, key=lambda d: (d.availability.out_of_stock, d.is_product, -d.link_id))


def text_owner(decisions: list[LinkDecision]) -> LinkDecision:
    """The link whose decision sets the product's texts: the product itself, else its best combination."""
    for decision in decisions:
        if decision.is_product:
            return decision
    return best(decisions)


def _add(plan: Plan, batch: list[AvailabilityWrite], decision: LinkDecision, *, texts: bool) -> None:
    if not _is_shop_id(decision.product_id) or not _is_shop_id(decision.combination_id):
        plan.not_shop_ids += 1
        return
    availability = decision.availability
    batch.append(AvailabilityWrite(
        int(decision.product_id), int(decision.combination_id), availability.out_of_stock,
        (availability.texts or None) if texts else None, (availability.shop_texts or None) if texts else None))


def _is_shop_id(text: str) -> bool:
    """Whether a link's id is a PrestaShop id: ASCII digits (str.isdigit alone takes "²" and "٧")."""
    return text.isascii() and text.isdigit()


def _missing_policies() -> dict[str, MissingPolicy]:
    """Each feed's rule for products it stopped listing, by feed id as the links' JSON holds it."""
    feeds = db.session.execute(select(Integration.id, Integration.settings)
                               .where(Integration.kind == FEED_KIND)).all()
    return {str(feed_id): MissingPolicy.of(settings) for feed_id, settings in feeds}


def _taken_as_zero(policies: dict[str, MissingPolicy], feed_id: Any, missed: Any) -> bool:
    policy = policies.get(str(feed_id))
    return policy is not None and policy.applies_zero(int(_json_value(missed) or 0))


def _json_value(raw: Any) -> Any:
    """A JSON scalar as the database extracted it (text on PostgreSQL) back as the value it holds."""
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw
