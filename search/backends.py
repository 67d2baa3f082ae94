"""The token index per database: FTS5 on SQLite, a GIN-indexed tsvector on PostgreSQL."""

from __future__ import annotations

from django.db import connection
from django.db.models.expressions import RawSQL

from .tokens import name_tokens, query_terms, type_token

CANDIDATE_LIMIT = 2000

SQLITE_SETUP = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5("
    "tokens, content='search_searchentry', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 0', prefix='2 3 4')",
    "CREATE TRIGGER IF NOT EXISTS search_fts_ai AFTER INSERT ON search_searchentry BEGIN "
    "INSERT INTO search_fts(rowid, tokens) VALUES (new.id, new.tokens); END",
    "CREATE TRIGGER IF NOT EXISTS search_fts_ad AFTER DELETE ON search_searchentry BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, tokens) VALUES ('delete', old.id, old.tokens); END",
    "CREATE TRIGGER IF NOT EXISTS search_fts_au AFTER UPDATE ON search_searchentry BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, tokens) VALUES ('delete', old.id, old.tokens); "
    "INSERT INTO search_fts(rowid, tokens) VALUES (new.id, new.tokens); END",
]
SQLITE_TEARDOWN = [
    "DROP TRIGGER IF EXISTS search_fts_au",
    "DROP TRIGGER IF EXISTS search_fts_ad",
    "DROP TRIGGER IF EXISTS search_fts_ai",
    "DROP TABLE IF EXISTS search_fts",
]
POSTGRES_SETUP = [
    "CREATE INDEX IF NOT EXISTS search_entry_tsv_idx ON search_searchentry USING gin (to_tsvector('simple', tokens))",
]
POSTGRES_TEARDOWN = ["DROP INDEX IF EXISTS search_entry_tsv_idx"]


def _fts5_query(object_type: str, words: list[list[str]]) -> str:
    parts = [f'"{type_token(object_type)}"']
    for alternatives in words:
        ors = " OR ".join(f'"{a}"*' for a in alternatives)
        parts.append(f"({ors})")
    return " AND ".join(parts)


def _tsquery(object_type: str, words: list[list[str]]) -> str:
    parts = [type_token(object_type)]
    for alternatives in words:
        parts.append("(" + " | ".join(f"{a}:*" for a in alternatives) + ")")
    return " & ".join(parts)


def candidate_ids_sql(object_type: str, query: str) -> tuple[str, list] | None:
    """SQL selecting ids of records of one type whose tokens match; None when the query has no words."""
    words = query_terms(query)
    if not words:
        return None
    if connection.vendor == "sqlite":
        # A join streams FTS matches and stops at the limit; `IN (MATCH …)` would collect every match first.
        # Only a constant is concatenated; the query text is a bound parameter.
        sql = (
            "SELECT e.object_id FROM search_fts f JOIN search_searchentry e ON e.id = f.rowid "  # noqa: S608
            "WHERE search_fts MATCH %s LIMIT " + str(CANDIDATE_LIMIT)
        )
        return sql, [_fts5_query(object_type, words)]
    sql = (
        "SELECT e.object_id FROM search_searchentry e WHERE e.object_type = %s AND "  # noqa: S608
        "to_tsvector('simple', e.tokens) @@ to_tsquery('simple', %s) LIMIT " + str(CANDIDATE_LIMIT)
    )
    return sql, [object_type, _tsquery(object_type, words)]


def filter_matching(qs, query: str):
    """Narrow `qs` to records whose search tokens match `query` (unchanged when the query has no words)."""
    candidates = candidate_ids_sql(qs.model.object_type, query)
    if candidates is None:
        return qs
    return qs.filter(pk__in=RawSQL(*candidates))  # noqa: S611 - SQL is ours, the query is a bound parameter


def names_match(words: list[list[str]], names) -> bool:
    """Every query word is a prefix of a token of one of `names`, as the index would find it."""
    tokens = set().union(*(name_tokens(name) for name in names))
    return all(any(token.startswith(alternatives) for token in tokens) for alternatives in map(tuple, words))


def filter_matching_names(qs, query: str):
    """`filter_matching` by the records' names alone: the index's matches among `qs`, kept when their names
    match every word (the index holds phones and e-mails in the same tokens). A public pool's members
    search so: they see phones and e-mails only after claiming, and a search by them would tell which
    waiting record has that number."""
    from .indexer import NAME_FIELDS

    candidates = candidate_ids_sql(qs.model.object_type, query)
    if candidates is None:
        return qs
    words = query_terms(query)
    fields = NAME_FIELDS[qs.model.object_type]
    rows = qs.order_by().filter(pk__in=RawSQL(*candidates)).values_list("pk", *fields)  # noqa: S611 - ours
    return qs.filter(pk__in=[pk for pk, *names in rows if names_match(words, names)])
