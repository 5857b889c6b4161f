"""Run search in the SQL store: one filtered, sorted, paged query.

A run's config (flattened to dotted keys), params and tags are kept one value a
row in ``run_values`` (written with the run's start, its params and its tags),
indexed by (kind, key, number) and (kind, key, first characters); metric terms
read ``latest_metrics``, indexed by (key, value). Each term becomes
``runs.id IN (indexed subquery)`` and each sort key an outer join, so the
database walks indexes on SQLite and PostgreSQL alike. Every value a user typed
is a bound parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from prodml.domain.run import Run
from prodml.domain.run_query import AllOf, AnyOf, Condition, Field, Op, RunQuery, SortKey, Term
from prodml.stores import driver, schema
from prodml.stores.run_values import INSERT_VALUE, value_row
from prodml.stores.sql_runs import RunQueries
from prodml.stores.sql_runs import _run as stored_run

KINDS = {Field.CONFIG: "config", Field.PARAM: "param", Field.TAG: "tag"}
_COLUMNS = {
    "author": schema.runs.c.author,
    "ended": schema.runs.c.ended_at,
    "experiment": schema.runs.c.experiment,
    "hypothesis": schema.runs.c.hypothesis,
    "id": schema.runs.c.id,
    "started": schema.runs.c.started_at,
    "status": schema.runs.c.status,
}


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(column: Any, text: str) -> ColumnElement[bool]:
    return sa.func.lower(column).like(_like(text), escape="\\")


def _ordered(column: Any, op: Op, value: Any) -> ColumnElement[bool]:
    compare = {
        Op.EQ: column.__eq__,
        Op.NE: column.__ne__,
        Op.LT: column.__lt__,
        Op.LE: column.__le__,
        Op.GT: column.__gt__,
        Op.GE: column.__ge__,
    }[op]
    result: ColumnElement[bool] = compare(value)
    return result


def _value_test(term: Term) -> ColumnElement[bool]:
    table = schema.run_values.c
    numbers = [v for v in term.values if isinstance(v, float)]
    texts = [v for v in term.values if isinstance(v, str)]
    if term.op is Op.CONTAINS:
        return _contains(table.value, str(term.values[0]))
    if term.op is Op.IN:
        parts: list[ColumnElement[bool]] = [table.num.in_(numbers)] if numbers else []
        if texts:
            heads = sorted({text[: schema.VALUE_HEAD] for text in texts})
            parts.append(sa.and_(table.head.in_(heads), table.value.in_(texts)))
        return sa.or_(*parts)
    if numbers:
        if term.op is Op.NE:  # a text value is not that number either
            return sa.or_(table.num != numbers[0], table.num.is_(None))
        return _ordered(table.num, term.op, numbers[0])
    text = texts[0]
    if term.op is Op.EQ:
        return sa.and_(table.head == text[: schema.VALUE_HEAD], table.value == text)
    return _ordered(table.value, term.op, text)


def _attribute_test(term: Term) -> ColumnElement[bool]:
    column = _COLUMNS[term.key]
    if term.op is Op.CONTAINS:
        return _contains(column, str(term.values[0]))
    if term.op is Op.IN:
        return column.in_(list(term.values))
    value = term.values[0]
    if term.key == "id" and term.op is Op.EQ and isinstance(value, str) and len(value) < 32:
        escaped = value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return column.like(escaped + "%", escape="\\")  # an id prefix, as elsewhere
    return _ordered(column, term.op, value)


def _term(term: Term, probe: bool) -> ColumnElement[bool]:
    """A term as ``runs.id IN (indexed subquery)`` when it drives the search, or as a
    probe of each candidate run's own row (``EXISTS``, a primary-key lookup)."""
    if term.field is Field.ATTRIBUTE:
        return _attribute_test(term)
    table: Any
    if term.field is Field.METRIC:
        table = schema.latest_metrics.c
        test = (
            table.value.in_(list(term.values))
            if term.op is Op.IN
            else _ordered(table.value, term.op, term.values[0])
        )
        tests = [table.key == term.key, test]
    else:
        table = schema.run_values.c
        tests = [table.kind == KINDS[term.field], table.key == term.key, _value_test(term)]
    runs = schema.runs.c
    if probe:
        return sa.exists(sa.select(sa.literal(1)).where(table.run_id == runs.id, *tests))
    return runs.id.in_(sa.select(table.run_id).where(*tests))


def _cost(node: Condition) -> int:
    """How poorly a condition narrows the runs through an index (0 best): equality on
    an indexed value first, ranges next, contains and not-equal last."""
    if isinstance(node, AllOf):
        return min(_cost(part) for part in node.parts)
    if isinstance(node, AnyOf):
        return 3
    if node.field is Field.ATTRIBUTE:
        if node.key in ("id", "experiment") and node.op in (Op.EQ, Op.IN):
            return 0
        return 2 if node.key == "started" else 3
    if node.op in (Op.EQ, Op.IN):
        return 0
    return 3 if node.op in (Op.NE, Op.CONTAINS) else 2


def condition(
    node: Condition, probe: bool = False, joined: Mapping[str, Any] | None = None
) -> ColumnElement[bool]:
    """The SQL of a condition: in each conjunction the part that narrows best drives
    (an indexed subquery) and the others probe the runs it finds, so a selective term
    is never intersected with a large one on SQLite, which has no statistics. A
    top-level probe of a metric the search sorts by reads the sort's joined row."""
    if isinstance(node, AllOf):
        driver = min(range(len(node.parts)), key=lambda index: _cost(node.parts[index]))
        parts = [
            _joined(part, joined) if i != driver and joined else None
            for i, part in enumerate(node.parts)
        ]
        return sa.and_(
            *(
                found if found is not None else condition(part, probe or i != driver)
                for i, (part, found) in enumerate(zip(node.parts, parts, strict=True))
            )
        )
    if isinstance(node, AnyOf):
        return sa.or_(*(condition(part, probe) for part in node.parts))
    return _term(node, probe)


def _joined(node: Condition, joined: Mapping[str, Any]) -> ColumnElement[bool] | None:
    if not isinstance(node, Term) or node.field is not Field.METRIC or node.key not in joined:
        return None
    value = joined[node.key].c.value
    if node.op is Op.IN:
        return value.in_(list(node.values))  # type: ignore[no-any-return]
    return _ordered(value, node.op, node.values[0])


def _sorted(
    query: sa.Select[Any],
    keys: Sequence[SortKey],
    first_inner: bool = False,
    newest_first: bool = True,
) -> tuple[sa.Select[Any], list[ColumnElement[Any]], dict[str, Any]]:
    """The query with an outer join per sort key (an inner join for the first when
    ``first_inner``: only runs that have it), the order (missing values last in either
    direction; newest first without keys; then run id), and the joined latest values
    by metric."""
    runs = schema.runs
    order: list[ColumnElement[Any]] = []
    metrics: dict[str, Any] = {}
    joined: Any = runs
    for index, key in enumerate(keys):
        columns: list[Any]
        if key.field is Field.ATTRIBUTE:
            columns = [_COLUMNS[key.key]]
        elif key.field is Field.METRIC:
            latest = schema.latest_metrics.alias(f"sort_{index}")
            on = sa.and_(latest.c.run_id == runs.c.id, latest.c.key == key.key)
            if first_inner and index == 0:
                joined = joined.join(latest, sa.and_(on, latest.c.value.is_not(None)))
            else:
                joined = joined.outerjoin(latest, on)
            metrics.setdefault(key.key, latest)
            columns = [latest.c.value]
        else:
            values = schema.run_values.alias(f"sort_{index}")
            on = sa.and_(
                values.c.run_id == runs.c.id,
                values.c.kind == KINDS[key.field],
                values.c.key == key.key,
            )
            joined = (joined.join if first_inner and index == 0 else joined.outerjoin)(values, on)
            columns = [values.c.num, values.c.value]  # numbers first, by value; then text
        for column in columns:
            order.append((column.desc() if key.descending else column.asc()).nulls_last())
    if not keys and newest_first:
        order.append(runs.c.started_at.desc())
    order.append(runs.c.id.asc())
    return query.select_from(joined), order, metrics


def _holding(key: SortKey) -> tuple[sa.Select[Any], ColumnElement[bool]]:
    """For a metric or value sort key: a count of the runs that have a value for it
    (an index range) and the test that a run has one."""
    runs = schema.runs.c
    table = schema.latest_metrics if key.field is Field.METRIC else schema.run_values
    if key.field is Field.METRIC:
        tests = [table.c.key == key.key, table.c.value.is_not(None)]
    else:
        tests = [table.c.kind == KINDS[key.field], table.c.key == key.key]
    counting = sa.select(sa.func.count()).select_from(table).where(*tests)
    has = sa.exists(sa.select(sa.literal(1)).where(table.c.run_id == runs.id, *tests))
    return counting, has


def _page(connection: sa.Connection, query: sa.Select[Any], offset: int, limit: int) -> list[str]:
    return [row[0] for row in connection.execute(query.limit(limit).offset(offset))]


def _browse(connection: sa.Connection, query: RunQuery) -> tuple[list[str], int]:
    """A page of every run: counted on their own, and walked in an index's order
    where there is one (by start; by a metric or value for the runs that have it,
    then the runs that do not), so that the page never waits for sorting them all."""
    runs = schema.runs
    total = int(connection.execute(sa.select(sa.func.count()).select_from(runs)).scalar_one())
    first = query.order[0] if query.order else None
    if first is None or first.field is Field.ATTRIBUTE:
        paging, order, _ = _sorted(sa.select(runs.c.id), query.order)
        return _page(connection, paging.order_by(*order), query.offset, query.limit), total
    counting, has = _holding(first)
    holding = int(connection.execute(counting).scalar_one())
    paging, order, _ = _sorted(sa.select(runs.c.id), query.order, first_inner=True)
    ids = _page(connection, paging.order_by(*order), query.offset, query.limit)
    if len(ids) < query.limit:
        rest, order, _ = _sorted(sa.select(runs.c.id), query.order[1:], newest_first=False)
        rest = rest.where(sa.not_(has)).order_by(*order)
        start = max(0, query.offset - holding)
        ids += _page(connection, rest, start, query.limit - len(ids))
    return ids, total


def _runs_by_id(connection: sa.Connection, ids: list[str]) -> dict[str, Run]:
    """Runs with their params, latest metrics, tags and inputs, in two queries (each
    round trip counts on a remote database)."""
    rows = connection.execute(sa.select(schema.runs).where(schema.runs.c.id.in_(ids))).all()
    text, number = sa.cast(sa.null(), sa.Text), sa.cast(sa.null(), sa.Float(precision=53))
    p, m = schema.params.c, schema.latest_metrics.c
    v, e = schema.run_values.c, schema.edges.c
    parts = sa.union_all(
        sa.select(sa.literal("param"), p.run_id, p.key, p.value, number).where(p.run_id.in_(ids)),
        sa.select(sa.literal("metric"), m.run_id, m.key, text, m.value).where(m.run_id.in_(ids)),
        sa.select(sa.literal("tag"), v.run_id, v.key, v.value, number).where(
            v.kind == "tag", v.run_id.in_(ids)
        ),
        sa.select(sa.literal("input"), e.target_id, e.source_id, text, number).where(
            e.target_kind == "run", e.source_kind == "dataset", e.target_id.in_(ids)
        ),
    )
    found: dict[str, dict[str, Any]] = {
        run_id: {"param": {}, "metric": {}, "tag": {}, "input": {}} for run_id in ids
    }
    for part, run_id, key, value, score in connection.execute(parts):
        found[run_id][part][key] = score if part == "metric" else value
    return {
        row.id: replace(
            stored_run(
                row,
                found[row.id]["param"],
                found[row.id]["metric"],
                tuple(found[row.id]["input"]),
            ),
            tags=found[row.id]["tag"],
        )
        for row in rows
    }


def _search(connection: sa.Connection, query: RunQuery, where: Condition) -> tuple[list[str], int]:
    """A page of the runs a condition matches: the total is a window count taken in
    the same query before the page is cut (counted apart only past the last page)."""
    total_column = sa.func.count().over().label("total")
    paging, order, joined = _sorted(sa.select(schema.runs.c.id, total_column), query.order)
    paging = paging.where(condition(where, joined=joined)).order_by(*order)
    rows = connection.execute(paging.limit(query.limit).offset(query.offset)).all()
    if rows:
        return [row.id for row in rows], int(rows[0].total)
    counting = sa.select(sa.func.count()).select_from(schema.runs).where(condition(where))
    return [], int(connection.execute(counting).scalar_one())


class RunSearchQueries(RunQueries):
    def search_runs(self, query: RunQuery) -> tuple[list[Run], int]:
        """The runs of one page of ``query`` in its order, and how many match in all."""
        with self.read() as connection:
            if query.where is None:
                ids, total = _browse(connection, query)
            else:
                ids, total = _search(connection, query, query.where)
            found = _runs_by_id(connection, ids) if ids else {}
        return [found[run_id] for run_id in ids if run_id in found], total

    def list_runs(
        self,
        experiment: str | None = None,
        limit: int | None = None,
        ids: Iterable[str] | None = None,
    ) -> list[Run]:
        """Runs as :meth:`RunQueries.list_runs` reads them, with their tags."""
        runs = super().list_runs(experiment, limit, ids)
        tags = self.run_tags([run.id for run in runs]) if runs else {}
        return [replace(run, tags=tags[run.id]) if run.id in tags else run for run in runs]

    def set_run_tags(
        self,
        run_id: str,
        tags: Mapping[str, str],
        links: Sequence[tuple[tuple[str, str], str]] = (),
    ) -> None:
        """Set (or replace) tags of a run, with one event naming them, and add lineage
        edges into it (``links``, as :meth:`insert_run` takes them)."""
        rows = [value_row(run_id, "tag", key, value) for key, value in tags.items()]
        values = schema.run_values.c
        with self.write() as connection:
            for source, relation in links:
                self.link(connection, source, ("run", run_id), relation)
            connection.execute(
                sa.delete(schema.run_values).where(
                    values.run_id == run_id, values.kind == "tag", values.key.in_(list(tags))
                )
            )
            driver.execute_many(connection, INSERT_VALUE, [row for row in rows if row is not None])
            self.event(connection, "run.tagged", ("run", run_id), None, {"tags": dict(tags)})

    def run_tags(self, run_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        values = schema.run_values.c
        query = sa.select(values.run_id, values.key, values.value).where(
            values.kind == "tag", values.run_id.in_(list(run_ids))
        )
        found: dict[str, dict[str, str]] = {}
        with self.read() as connection:
            for run_id, key, value in connection.execute(query):
                found.setdefault(run_id, {})[key] = value
        return found
