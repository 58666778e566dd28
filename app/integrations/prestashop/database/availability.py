"""Writing availability into a PrestaShop database, set-based, one transaction per chunk.

Writes touch exactly three columns and never insert a row:
`stock_available.out_of_stock` and `product_lang.available_now` / `available_later`.
Each chunk of writes is loaded into temporary tables and applied with one `UPDATE ... JOIN`
per table (sql.py); rows whose value already matches are not written. The statements run in a
thread with its own connection, so the caller prepares (or plans) the next chunk meanwhile.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.integrations.base import AvailabilityReport, AvailabilityWrite, MissingRow, RowChange, TableCounts
from app.integrations.prestashop.database.chunks import Chunk, TextSets, chunk_of, in_chunks
from app.integrations.prestashop.database.connection import (
    DEADLOCK_ERRORS,
    PrestaShopConnection,
    PrestaShopDatabaseError,
    error_number,
    run,
    run_update,
)
from app.integrations.prestashop.database.sql import (
    TMP_STOCK,
    TMP_STOCK_TARGET,
    TMP_TEXT_VALUE,
    StockTarget,
    TableSql,
    stock_sql,
    text_sql,
)

DEFAULT_CHUNK_SIZE = 5000
SAMPLE_SIZE = 20
TABLE_ORDER = {"stock_available": 0, "product_lang": 1}
CHUNK_ATTEMPTS = 3
# Chunks prepared ahead of the one being written: enough to keep the writer busy, little memory.
CHUNKS_AHEAD = 2


@dataclass
class _ChunkResult:
    stock: TableCounts = field(default_factory=TableCounts)
    texts: TableCounts = field(default_factory=TableCounts)
    changed_rows: list[RowChange] = field(default_factory=list)
    missing_rows: list[MissingRow] = field(default_factory=list)
    missing_keys: set[tuple[int, int]] = field(default_factory=set)



class AvailabilityWriter(PrestaShopConnection):
    """The availability write of a PrestaShop database."""

    def write_availability(self, writes: Sequence[AvailabilityWrite], *, shop_ids: Sequence[int],
                           language_ids: Sequence[int], dry_run: bool = False, only_changed: bool = True,
                           chunk_size: int = DEFAULT_CHUNK_SIZE, sample_size: int = SAMPLE_SIZE
                           ) -> AvailabilityReport:
        """Set out_of_stock and the availability texts of the given products in the given shops.

        stock_available: per configured shop, the row PrestaShop itself reads — (id_shop = 0,
        id_shop_group = g) once per group that shares stock, else (id_shop = s, id_shop_group = 0).
        product_lang: (id_product, s, l) for each shop s and each language l that is both in
        `language_ids` and in the write's texts (its `shop_texts` for s, else its `texts`). Each
        row is compared with the shop's own value, so a value changed in the shop is repaired;
        only rows whose value differs are written (every found row with `only_changed` off). Rows
        the shop lacks are all listed in `missing_rows`, never inserted. Changed rows are sampled
        (`sample_size` per table). Each chunk of `chunk_size`
        writes is one transaction (retried on deadlock). `dry_run` computes the same report with
        SELECTs only (into this connection's temporary tables) and changes nothing in the shop.
        Every write is validated before anything is written.
        """
        if not shop_ids:
            raise ValueError("At least one shop id is needed.")
        chunks = list(in_chunks(writes, shop_ids, language_ids, max(1, chunk_size)))
        return self._write(chunks, shop_ids=shop_ids, dry_run=dry_run, only_changed=only_changed,
                           sample_size=sample_size)

    def write_availability_batches(self, batches: Iterable[Sequence[AvailabilityWrite]], *, shop_ids: Sequence[int],
                                   language_ids: Sequence[int], dry_run: bool = False, only_changed: bool = True,
                                   sample_size: int = SAMPLE_SIZE) -> AvailabilityReport:
        """write_availability for writes that are still being made (a sync's plan): each batch holds
        whole products, none of them in an earlier batch, and is one chunk.

        Each batch is validated as it comes and written while the caller makes the next one; a
        refused batch stops the write (chunks already written stay written, none after it is).
        """
        if not shop_ids:
            raise ValueError("At least one shop id is needed.")
        seen: set[tuple[int, int]] = set()
        chunks = (chunk_of(batch, shop_ids, language_ids, seen) for batch in batches if batch)
        return self._write(chunks, shop_ids=shop_ids, dry_run=dry_run, only_changed=only_changed,
                           sample_size=sample_size)

    def _write(self, chunks: Iterable[Chunk], *, shop_ids: Sequence[int], dry_run: bool, only_changed: bool,
               sample_size: int) -> AvailabilityReport:
        """Prepare the chunks in this thread and write them in a thread of their own, in turn."""
        started = time.perf_counter()
        report = AvailabilityReport(dry_run=dry_run)
        writer = _ChunkWriter(self, report, shop_ids, dry_run=dry_run, every_row=not only_changed,
                              sample_size=sample_size)
        writer.start()
        text_sets = TextSets()
        try:
            for chunk in chunks:
                report.products += len(chunk.stock)
                report.chunks += 1
                writer.put(text_sets.prepare(chunk))
        except BaseException:
            writer.stop()
            raise
        writer.finish()
        # Chunks add their samples as they go; list them table by table, in key order, so the
        # report does not depend on the chunk size or the order of the chunks.
        report.changed_rows.sort(key=lambda row: (TABLE_ORDER[row.table], tuple(row.key.values())))
        report.missing_rows.sort(key=lambda row: (TABLE_ORDER[row.table], tuple(row.key.values())))
        report.duration = time.perf_counter() - started
        return report

    def _write_chunks(self, next_chunk: Callable[[], Chunk | None], report: AvailabilityReport,
                      shop_ids: Sequence[int], *, dry_run: bool, every_row: bool, sample_size: int) -> None:
        """The writer thread's work: temporary tables, then each chunk in its own transaction."""
        with self._connect() as conn:
            targets = self._stock_targets(conn, shop_ids)
            report.targets = [target.describe() for target in targets]
            conn.commit()  # temporary tables are created outside any transaction (GTID-safe)
            self._create_temporary_tables(conn, targets, shop_ids)
            try:
                counted = not dry_run and _counts_updates(conn)
                writers = (
                    _TableWriter(stock_sql(self.table("stock_available"), targets), dry_run, every_row, counted),
                    _TableWriter(text_sql(self.table("product_lang")), dry_run, every_row, counted))
                while (chunk := next_chunk()) is not None:
                    _merge(report, self._apply_chunk_with_retries(conn, chunk, writers, _rooms(report, sample_size)))
            finally:
                self._drop_temporary_tables(conn)

    def _stock_targets(self, conn: Connection, shop_ids: Sequence[int]) -> list[StockTarget]:
        """Which stock_available row serves each configured shop, one target per shared group."""
        group_of = {int(shop): int(group) for shop, group in conn.execute(sa.text(
            f"SELECT id_shop, id_shop_group FROM {self.table('shop')} ORDER BY id_shop"))}
        unknown = [shop for shop in shop_ids if int(shop) not in group_of]
        if unknown:
            raise PrestaShopDatabaseError(
                f"Shop {', '.join(map(str, unknown))} does not exist in {self.table('shop')}.")
        configured = list(dict.fromkeys(int(shop) for shop in shop_ids))
        sharing = self._groups_sharing_stock(conn, {group_of[shop] for shop in configured})
        targets: dict[tuple[int, int], tuple[int, ...]] = {}
        for shop in configured:
            group = group_of[shop]
            if group in sharing:
                # Every shop of the group sells from this row, configured or not: say so.
                targets[(0, group)] = tuple(s for s, g in group_of.items() if g == group)
            else:
                targets[(shop, 0)] = (shop,)
        return [StockTarget(id_shop, id_shop_group, shops) for (id_shop, id_shop_group), shops in targets.items()]

    def groups_sharing_stock(self) -> set[int]:
        """The shop groups whose shops sell from one shared stock row."""
        with self._connect() as conn:
            groups = {int(group) for group in conn.execute(sa.text(
                f"SELECT DISTINCT id_shop_group FROM {self.table('shop')}")).scalars()}
            return self._groups_sharing_stock(conn, groups) if groups else set()

    def _groups_sharing_stock(self, conn: Connection, groups: set[int]) -> set[int]:
        if self.prefix + "shop_group" in self._tables_present(conn):
            rows = conn.execute(sa.text(
                f"SELECT id_shop_group FROM {self.table('shop_group')}"
                " WHERE share_stock = 1 AND id_shop_group IN :ids"
            ).bindparams(sa.bindparam("ids", expanding=True)), {"ids": sorted(groups)})
            return {int(r[0]) for r in rows}
        # Without shop_group (trimmed schemas), a group shares stock when PrestaShop keeps
        # group rows for it: stock_available rows with id_shop = 0 and that id_shop_group.
        return {group for group in groups if conn.execute(sa.text(
            f"SELECT 1 FROM {self.table('stock_available')} WHERE id_shop = 0 AND id_shop_group = :group LIMIT 1"),
            {"group": group}).first()}

    def _create_temporary_tables(self, conn: Connection, targets: list[StockTarget],
                                 shop_ids: Sequence[int]) -> None:
        # Left over in a pooled connection if an earlier run died half-way.
        self._drop_temporary_tables(conn)
        # Keys and ids only in MEMORY tables (small rows, no redo log); the texts, which can be
        # long and many, in a default-engine table so no heap-size limit applies.
        statements = [
            # id_set: the text set of the product (on the write that carries its texts), else 0.
            f"CREATE TEMPORARY TABLE {TMP_STOCK} (id_product INT UNSIGNED NOT NULL,"
            " id_product_attribute INT UNSIGNED NOT NULL, out_of_stock TINYINT UNSIGNED NOT NULL,"
            " id_set INT UNSIGNED NOT NULL, PRIMARY KEY (id_product, id_product_attribute), KEY (id_product))"
            " ENGINE=MEMORY",
            f"CREATE TEMPORARY TABLE {TMP_STOCK_TARGET} (id_shop INT UNSIGNED NOT NULL,"
            " id_shop_group INT UNSIGNED NOT NULL, PRIMARY KEY (id_shop, id_shop_group)) ENGINE=MEMORY",
            f"CREATE TEMPORARY TABLE {TMP_TEXT_VALUE} (id_set INT UNSIGNED NOT NULL, id_shop INT UNSIGNED NOT NULL,"
            " id_lang INT UNSIGNED NOT NULL, available_now VARCHAR(255) NULL, available_later VARCHAR(255) NULL,"
            " PRIMARY KEY (id_set, id_shop, id_lang))"
            " DEFAULT CHARSET=utf8mb4",
            f"INSERT INTO {TMP_STOCK_TARGET} VALUES "
            + ",".join(f"({t.id_shop},{t.id_shop_group})" for t in targets),
        ]
        for statement in statements:
            run(conn, statement)
        conn.commit()

    def _drop_temporary_tables(self, conn: Connection) -> None:
        try:
            run(conn, f"DROP TEMPORARY TABLE IF EXISTS {TMP_STOCK}, {TMP_STOCK_TARGET}, {TMP_TEXT_VALUE}")
            conn.commit()
        except sa.exc.DBAPIError:
            # The connection is broken (the error that broke it is on its way up): let the pool
            # drop it, and its temporary tables with it.
            conn.invalidate()

    def _apply_chunk_with_retries(self, conn: Connection, chunk: Chunk, writers: tuple[_TableWriter, _TableWriter],
                                  rooms: dict[str, int]) -> _ChunkResult:
        attempt = 1
        while True:
            try:
                result = self._apply_chunk(conn, chunk, writers, rooms)
                conn.commit()
                return result
            except sa.exc.DBAPIError as error:
                conn.rollback()
                # A deadlock with the shop's own checkout can happen under load; the chunk only
                # sets values, so running it again is safe.
                if error_number(error) not in DEADLOCK_ERRORS or attempt == CHUNK_ATTEMPTS:
                    raise
                time.sleep(0.2 * attempt)
                attempt += 1

    def _apply_chunk(self, conn: Connection, chunk: Chunk, writers: tuple[_TableWriter, _TableWriter],
                     rooms: dict[str, int]) -> _ChunkResult:
        self._load_chunk(conn, chunk)
        stock, texts = writers
        result = _ChunkResult()
        result.stock = stock.apply(conn, len(chunk.stock) * stock.sql.fanout, rooms[stock.sql.name], result,
                                   lambda key: (key["id_product"], key["id_product_attribute"]), chunk.id_ranges)
        if chunk.texts:
            expected = sum(len(text_set) for text_set in chunk.texts.values())
            result.texts = texts.apply(conn, expected, rooms[texts.sql.name], result,
                                       lambda key: (key["id_product"], chunk.text_owners[key["id_product"]]),
                                       chunk.id_ranges)
        return result

    def _load_chunk(self, conn: Connection, chunk: Chunk) -> None:
        # The text sets stay loaded for the next chunks; a rolled-back chunk takes its new ones
        # with it (the table is transactional) and loads them again when it is retried.
        run(conn, f"DELETE FROM {TMP_STOCK}")
        run(conn, f"INSERT INTO {TMP_STOCK} VALUES {chunk.stock_values}")
        if chunk.new_text_sets:
            escape = conn.connection.dbapi_connection.escape
            values = ",".join(f"({set_id},{id_shop},{id_lang},{escape(now)},{escape(later)})"
                              for set_id, texts in chunk.new_text_sets for id_shop, id_lang, now, later in texts)
            run(conn, f"INSERT INTO {TMP_TEXT_VALUE} VALUES {values}")


class _ChunkWriter:
    """The thread that writes the chunks, with its own connection, while the caller prepares the next.

    An error on either side stops both: the writer's is raised to the caller, and a caller that
    fails stops the writer after the chunk in hand.
    """

    def __init__(self, database: AvailabilityWriter, report: AvailabilityReport, shop_ids: Sequence[int], *,
                 dry_run: bool, every_row: bool, sample_size: int) -> None:
        self.chunks: queue.Queue[Chunk | None] = queue.Queue(maxsize=CHUNKS_AHEAD)
        self.error: BaseException | None = None
        self.stopped = threading.Event()
        self.thread = threading.Thread(
            target=self._run, name="prestashop-availability-writer", daemon=True,
            args=(database, report, shop_ids), kwargs={"dry_run": dry_run, "every_row": every_row,
                                                       "sample_size": sample_size})

    def start(self) -> None:
        self.thread.start()

    def put(self, chunk: Chunk) -> None:
        """Hand a chunk over; raises the writer's error as soon as it has one."""
        while True:
            self._raise()
            if not self.thread.is_alive():
                raise RuntimeError("The availability writer stopped before the last chunk.")
            try:
                self.chunks.put(chunk, timeout=0.1)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        """Wait until every chunk handed over is written; raise the writer's error if it had one."""
        self._close()
        self._raise()

    def stop(self) -> None:
        """The caller failed: stop after the chunk in hand (earlier chunks stay written)."""
        self.stopped.set()
        self._close()

    def _close(self) -> None:
        while self.thread.is_alive():
            try:
                self.chunks.put(None, timeout=0.1)
                break
            except queue.Full:
                continue
        self.thread.join()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def _next(self) -> Chunk | None:
        chunk = self.chunks.get()
        return None if self.stopped.is_set() else chunk

    def _run(self, database: AvailabilityWriter, report: AvailabilityReport, shop_ids: Sequence[int],
             **options) -> None:
        try:
            database._write_chunks(self._next, report, shop_ids, **options)
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread, raised there
            self.error = error


class _TableWriter:
    """Diffs and updates one table, chunk after chunk, in the cheaper order of statements.

    A sync is mostly either a first run (every text and about half the stock rows change) or a
    re-run (nearly nothing changes, or a few rows drifted in the shop), and the previous chunk
    predicts the next. By default it reads the rows that differ first, skips the UPDATE when
    none do and otherwise narrows it to their products (one pass over the rows plus a lookup
    per change). When many rows of the last chunk changed, it updates first: one pass, whose
    info line counts the rows found and changed (`counted`; without it, a count of the found
    rows follows unless every expected row changed).
    """

    def __init__(self, sql: TableSql, dry_run: bool, every_row: bool = False, counted: bool = True) -> None:
        self.sql = sql
        self.dry_run = dry_run
        # Write every found row, even one that already holds the value (only_changed off).
        self.every_row = every_row
        self.counted = counted
        self.expect_changes = False
        self.narrowed_to: Sequence[int] = ()  # the products the next UPDATE is limited to
        self.ranges: Sequence[tuple[int, int]] = ()  # the loaded chunk's product ids, as dense ranges

    def apply(self, conn: Connection, expected: int, room: int, result: _ChunkResult,
              write_key: Callable[[dict[str, int]], tuple[int, int]],
              ranges: Sequence[tuple[int, int]] = ()) -> TableCounts:
        """Count, sample `room` changes and (unless dry) update the rows of the loaded chunk.

        `write_key` names the write a missing row belongs to, for the report's missing_keys;
        `ranges` are the chunk's product ids as dense ranges (Chunk.id_ranges), if they are.
        """
        self.ranges = ranges
        if (self.expect_changes or self.every_row) and not self.dry_run:
            counts = self._update_first(conn, expected, room, result)
            if counts.missing:
                self._collect_missing(conn, result, write_key)
        else:
            counts = self._differences_first(conn, expected, room, result, write_key)
        # Updating first is one pass; with few changes (a re-run, drift), reading the differences
        # and a narrowed UPDATE cost less: a read without row locks, and a lookup per change.
        share = 10 if self.counted else 1 / 20  # changed : unchanged above which updating first pays
        self.expect_changes = counts.changed > 0 and counts.unchanged < counts.changed * share
        return counts

    def _differences_first(self, conn: Connection, expected: int, room: int, result: _ChunkResult,
                           write_key: Callable[[dict[str, int]], tuple[int, int]]) -> TableCounts:
        # One read of every loaded row returns just the few that differ or are missing: the
        # sample, the full list of missing rows and the products the UPDATE is narrowed to.
        differing, missing = [], []
        for row in run(conn, self.sql.differences()):
            (missing if row[-1] else differing).append(row)
        self._add_missing(result, [self.sql.key(row) for row in missing], write_key)
        result.changed_rows.extend(self.sql.change(row) for row in differing[:room])
        changed = len(differing)
        if differing and not self.dry_run:
            products = sorted({int(row[0]) for row in differing})
            self.narrowed_to = products if len(products) * 10 <= expected * 9 else ()
            _, changed = self._update(conn)
        found = expected - len(missing)
        return TableCounts(changed=changed, unchanged=found - changed, missing=len(missing))

    def _update_first(self, conn: Connection, expected: int, room: int, result: _ChunkResult) -> TableCounts:
        self._sample_changes(conn, room, result)
        found, changed = self._update(conn, count_found=self.counted)
        if found is None:
            found = expected if changed == expected else int(run(conn, self.sql.found()).scalar())
        if self.every_row:
            # rowcount counts found rows (CLIENT.FOUND_ROWS): all of them were written.
            changed = found
        return TableCounts(changed=changed, unchanged=found - changed, missing=expected - found)

    def _update(self, conn: Connection, count_found: bool = False) -> tuple[int | None, int]:
        """(rows found, or None when not counted; rows changed) of the UPDATE of the loaded rows."""
        products, self.narrowed_to = self.narrowed_to, ()
        # Narrowed to a few products, the temporary tables lead (a lookup per change).
        ranges = () if products else self.ranges
        if count_found:
            # No WHERE: every found row is matched and counted; the server writes only those that differ.
            found, changed = run_update(conn, self.sql.update(every_row=True, products=products, ranges=ranges))
            return found, changed if changed is not None else found
        # The WHERE keeps only rows that differ, so the row count means "changed" whether the
        # connection reports found rows (SQLAlchemy sets CLIENT.FOUND_ROWS) or changed rows.
        return None, run(conn, self.sql.update(self.every_row, products, ranges)).rowcount

    def _sample_changes(self, conn: Connection, room: int, result: _ChunkResult) -> None:
        # Read before the UPDATE, so a dry run and a real run report the same rows.
        if room:
            result.changed_rows.extend(self.sql.change(row) for row in run(conn, self.sql.changes(room)))

    def _collect_missing(self, conn: Connection, result: _ChunkResult,
                         write_key: Callable[[dict[str, int]], tuple[int, int]]) -> None:
        self._add_missing(result, [self.sql.key(row) for row in run(conn, self.sql.missing())], write_key)

    def _add_missing(self, result: _ChunkResult, keys: list[dict[str, int]],
                     write_key: Callable[[dict[str, int]], tuple[int, int]]) -> None:
        # All of them, not a sample: the seller gets the full list (run record, CSV).
        result.missing_keys.update(write_key(key) for key in keys)
        result.missing_rows.extend(self.sql.missing_row(key) for key in keys)


# -- small helpers --------------------------------------------------------------------------------


def _counts_updates(conn: Connection) -> bool:
    """Whether the server tells an UPDATE's found and changed rows apart (MySQL and MariaDB do)."""
    found, changed = run_update(conn, f"UPDATE {TMP_STOCK_TARGET} SET id_shop = id_shop")
    conn.commit()
    return changed is not None and changed == 0 and found > 0


def _rooms(report: AvailabilityReport, sample_size: int) -> dict[str, int]:
    """How many more changed sample rows the report takes, per table."""
    rooms = {}
    for table in TABLE_ORDER:
        changes = sum(1 for row in report.changed_rows if row.table == table)
        rooms[table] = max(0, sample_size - changes)
    return rooms


def _merge(report: AvailabilityReport, result: _ChunkResult) -> None:
    report.stock.add(result.stock)
    report.texts.add(result.texts)
    report.changed_rows.extend(result.changed_rows)
    report.missing_rows.extend(result.missing_rows)
    report.missing_keys.update(result.missing_keys)
