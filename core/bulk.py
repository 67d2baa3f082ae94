"""Fast inserts for bulk paths (imports, demo data): one prepared statement for many rows.

Django's bulk_create compiles SQL and prepares every value through the ORM for each small batch,
which costs most of an import's time. Here the statement is built once, values are adapted by a
per-field function chosen up front, and the new ids come back in order: PostgreSQL with RETURNING,
SQLite from last_insert_rowid() — its write lock is held for the whole transaction, so rows inserted
by one executemany() get consecutive ids.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from django.db import connection, models, transaction

PG_ROWS_PER_STATEMENT = 1000


def _adapter(field: models.Field) -> Callable:
    ops = connection.ops
    if isinstance(field, models.DateTimeField):
        return lambda v: None if v is None else ops.adapt_datetimefield_value(v)
    if isinstance(field, models.DateField):
        return lambda v: None if v is None else ops.adapt_datefield_value(v)
    if isinstance(field, models.DecimalField):
        return lambda v: None if v is None else ops.adapt_decimalfield_value(v, field.max_digits, field.decimal_places)
    if isinstance(field, models.JSONField):
        if connection.vendor == "postgresql":
            return lambda v: field.get_db_prep_save(v, connection)
        return lambda v: json.dumps(v, ensure_ascii=False)
    return _same


def _same(value):
    return value


def adapt_value(model, column: str, value):
    """One value as the database takes it, for callers that pass it `ready` to insert_rows (a batch's
    timestamp adapted once instead of once per row)."""
    return _adapter(model._meta.get_field(column))(value)


def _literal(value) -> str:
    """A constant as SQL text, for values the code chose (never user input): see insert_rows."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''").replace("%", "%%") + "'"  # %% : the cursor's own escape
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def insert_rows(
    model, columns: Sequence[str], rows: Sequence[Sequence], *, ready: bool = False, constants: dict | None = None
) -> list[int]:
    """Insert `rows` (tuples in the order of `columns`, field names or attnames) and return their ids.

    `ready`: the values are already what the database takes (see adapt_value); nothing is converted.
    `constants`: column → a value every row shares, already adapted (ints, strings, None): on SQLite
    written into the statement once instead of bound for every row (a third fewer parameters for an
    imported lead)."""
    if not rows:
        return []
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("insert_rows needs a transaction: ids are derived under its write lock")
    meta = model._meta
    constants = constants or {}
    fields = [meta.get_field(name) for name in columns]
    adapters = [_adapter(f) for f in fields]
    if ready or all(a is _same for a in adapters):
        prepared = rows
    else:
        prepared = [tuple(adapt(value) for adapt, value in zip(adapters, row, strict=True)) for row in rows]
    placeholders = ["%s"] * len(fields)
    if constants and connection.vendor == "sqlite":
        placeholders += [_literal(value) for value in constants.values()]
    elif constants:
        shared = tuple(constants.values())
        prepared = [(*row, *shared) for row in prepared]
        placeholders += ["%s"] * len(constants)
    fields += [meta.get_field(name) for name in constants]
    quoted = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(meta.db_table)
    one = "(" + ", ".join(placeholders) + ")"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            ids: list[int] = []
            for start in range(0, len(prepared), PG_ROWS_PER_STATEMENT):
                chunk = prepared[start : start + PG_ROWS_PER_STATEMENT]
                # identifiers come from model metadata (quoted), values are bound parameters
                sql = f"INSERT INTO {table} ({quoted}) VALUES {', '.join([one] * len(chunk))} RETURNING id"  # noqa: S608
                cursor.execute(sql, [v for row in chunk for v in row])
                ids.extend(r[0] for r in cursor.fetchall())
            return ids
        cursor.executemany(f"INSERT INTO {table} ({quoted}) VALUES {one}", prepared)  # noqa: S608
        cursor.execute("SELECT last_insert_rowid()")
        last = cursor.fetchone()[0]
    return list(range(last - len(prepared) + 1, last + 1))


def insert_instances(objects: Sequence[models.Model]) -> None:
    """Insert unsaved model instances (defaults already applied by their constructor) and set their pks."""
    if not objects:
        return
    model = type(objects[0])
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    names = [f.attname for f in fields]
    ids = insert_rows(model, names, [tuple(getattr(obj, name) for name in names) for obj in objects])
    for obj, pk in zip(objects, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = "default"


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cycle collector for a bulk job that builds millions of short-lived tuples.

    Those tuples are freed by reference counting, but every 700 allocations the collector walks the
    young ones, and every so often everything alive — a third of an import's time at a million rows.
    What exists before the job is frozen (never walked again); garbage cycles made during the job are
    collected at the end."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()
        gc.collect()
