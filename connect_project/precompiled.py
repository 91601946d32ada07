"""Per-request reads by primary key whose SQL is built once per process and database.

The options endpoint reads the signed-in user and the item on every request (each keystroke); building those queries
through the ORM cost more than running them. The rows are still read every time: only the SQL is kept.
"""

import threading

_PLACEHOLDER_PK = 2_147_483_000  # stands for the real id while a query is compiled
_compiled: dict[tuple[str, str], str] = {}
_lock = threading.Lock()


def sql_by_pk(name: str, alias: str, queryset_on) -> str:
    """The SQL of `queryset_on(alias).filter(pk=<id>)` on database `alias`, with the id as its only parameter (%s).

    `name` says which query it is: only the first call for a name and database builds the queryset and compiles it.
    """
    key = (name, alias)
    sql = _compiled.get(key)
    if sql is None:
        query = queryset_on(alias).filter(pk=_PLACEHOLDER_PK).query
        sql, params = query.get_compiler(using=alias).as_sql()
        if tuple(params) != (_PLACEHOLDER_PK,):  # the id must be the query's only parameter
            raise RuntimeError(f"Unexpected parameters in the {name} query.")
        with _lock:
            _compiled[key] = sql
    return sql
