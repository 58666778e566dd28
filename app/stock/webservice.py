"""Availability through PrestaShop's webservice (stock_availables), for shops without database access.

Each product costs a GET and, when it changed, a PUT per shop row, so the calls are rate-limited
per integration (default 60 requests a minute, 4 at once) with a limit shared by all workers in Redis.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from threading import Lock
from typing import Any

from app.extensions import redis_connection
from app.integrations.base import PlatformError
from app.integrations.models import Integration
from app.integrations.services import client_for


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


def write_availability_webservice(integration: Integration, writes, *, dry_run: bool = False) -> dict[str, Any]:
    """Set stock_availables.out_of_stock for each write; returns counts like the database sync."""
    settings = integration.settings.get("webservice_limits") or {}
    limit = RateLimit(redis_connection.client, f"kontor:ratelimit:{integration.id}",
                      int(settings.get("per_minute", 60)))
    shop = client_for(integration)
    result: dict[str, Any] = {"changed": 0, "unchanged": 0, "missing": 0, "changed_rows": [], "missing_rows": [],
                              "missing_keys": set()}
    guard = Lock()

    def one(write) -> None:
        limit.wait()
        rows = shop.stock_availables(write.id_product, write.id_product_attribute)
        if not rows:
            with guard:
                result["missing"] += 1
                result["missing_keys"].add((write.id_product, write.id_product_attribute))
                if len(result["missing_rows"]) < 20:
                    result["missing_rows"].append(f"no stock_available for product {write.id_product} "
                                                  f"combination {write.id_product_attribute}")
            return
        for row in rows:
            if row.get("out_of_stock") == str(write.out_of_stock):
                with guard:
                    result["unchanged"] += 1
                continue
            if not dry_run:
                limit.wait()
                shop.put_stock_available({**row, "out_of_stock": str(write.out_of_stock)})
            with guard:
                result["changed"] += 1
                if len(result["changed_rows"]) < 20:
                    result["changed_rows"].append(
                        f"product {write.id_product} combination {write.id_product_attribute} shop {row.get('id_shop')}: "
                        f"out_of_stock {row.get('out_of_stock')} → {write.out_of_stock}")

    with ThreadPoolExecutor(max_workers=int(settings.get("concurrency", 4))) as pool:
        for future in [pool.submit(one, write) for write in writes]:
            try:
                future.result()
            except PlatformError as error:
                with guard:
                    result["missing"] += 1
                    if len(result["missing_rows"]) < 20:
                        result["missing_rows"].append(error.message)
    return result
