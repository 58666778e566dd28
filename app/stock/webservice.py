"""Availability through PrestaShop's webservice (stock_availables), for shops without database access.

Each product costs a GET and, when it changed, a PUT per shop row, so the calls are rate-limited
per integration (default 60 requests a minute, 4 at once) with a limit shared by all workers in Redis.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Sequence
from threading import Lock

from app.extensions import redis_connection
from app.integrations.base import AvailabilityReport, AvailabilityWrite, MissingRow, PlatformError, RowChange
from app.integrations.models import Integration
from app.integrations.services import client_for

SAMPLE_SIZE = 20


class RateLimit:
    """At most `per_minute` calls a minute for one integration, across processes (a Redis window)."""

    def __init__(self, client, key: str, per_minute: int) -> None:
        self.client, self.key, self.per_minute = client, key, per_minute
        self.lock = Lock()

    def wait(self) -> None:
        while True:
            with self.lock:
                window = int(time.time() // 60)
                key = f"{self.key}:{window}"
                used = self.client.incr(key)
                if used == 1:
                    self.client.expire(key, 120)
                if used <= self.per_minute:
                    return
            time.sleep(max(0.05, 60 - time.time() % 60))


def write_availability_webservice(integration: Integration, writes: Sequence[AvailabilityWrite], *,
                                  dry_run: bool = False, only_changed: bool = True,
                                  sample_size: int = SAMPLE_SIZE) -> AvailabilityReport:
    """Set stock_availables.out_of_stock for each write; the same report as the database write.

    Each row is compared with the shop's value just read; with `only_changed` off a row that
    already holds it is written anyway. A write whose rows cannot be read is listed as missing
    with the shop's answer.
    """
    started = time.perf_counter()
    settings = integration.settings.get("webservice_limits") or {}
    limit = RateLimit(redis_connection.client, f"kontor:ratelimit:{integration.id}",
                      int(settings.get("per_minute", 60)))
    shop = client_for(integration)
    report = AvailabilityReport(dry_run=dry_run, products=len(writes), targets=["webservice stock_availables"])
    guard = Lock()

    def missing(write: AvailabilityWrite, reason: str) -> None:
        key = {"id_product": write.id_product, "id_product_attribute": write.id_product_attribute}
        with guard:
            report.stock.missing += 1
            report.missing_keys.add((write.id_product, write.id_product_attribute))
            report.missing_rows.append(MissingRow("stock_available", key, reason))

    def one(write: AvailabilityWrite) -> None:
        limit.wait()
        rows = shop.stock_availables(write.id_product, write.id_product_attribute)
        if not rows:
            missing(write, f"no stock_available for product {write.id_product} "
                           f"combination {write.id_product_attribute}")
            return
        for row in rows:
            before = int(row.get("out_of_stock") or 0) if str(row.get("out_of_stock", "")).isdigit() else None
            if only_changed and before == write.out_of_stock:
                with guard:
                    report.stock.unchanged += 1
                continue
            if not dry_run:
                limit.wait()
                shop.put_stock_available({**row, "out_of_stock": str(write.out_of_stock)})
            key = {"id_product": write.id_product, "id_product_attribute": write.id_product_attribute,
                   "id_shop": int(row.get("id_shop") or 0)}
            with guard:
                report.stock.changed += 1
                if len(report.changed_rows) < sample_size:
                    report.changed_rows.append(RowChange("stock_available", key, {"out_of_stock": before},
                                                         {"out_of_stock": write.out_of_stock}))

    with ThreadPoolExecutor(max_workers=int(settings.get("concurrency", 4))) as pool:
        futures = {pool.submit(one, write): write for write in writes}
        for future, write in futures.items():
            try:
                future.result()
            except PlatformError as error:
                missing(write, error.message)
    report.missing_rows.sort(key=lambda row: (row.key["id_product"], row.key["id_product_attribute"]))
    report.duration = time.perf_counter() - started
    return report
