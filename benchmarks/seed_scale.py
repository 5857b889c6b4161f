"""A store at the dashboard benchmark's scale, seeded in minutes.

1. **Template**: the project's own demo (``examples/demo.py``) is run once into a
   cached store (``<cache>/dashboard-template``, see ``_anchor.cache_root``): one of
   every object the SDK makes (datasets, runs, model versions with aliases and
   evaluations, a rollout, a monitor with its windows, alerts, an incident, events,
   lineage, prediction-log segments), with exactly the shape the SDK gives them.
2. **Copy**: the template's rows are copied into the target store (a copy of the
   SQLite file, or every table into a fresh PostgreSQL database), its blobs linked.
3. **Scale**: bulk inserts through the store's SQLAlchemy tables, each row copied
   from a template row with new ids and times: runs and metrics through
   ``run_search.seed_runs`` (100,000 runs x 10 params, 10 metrics x 10 points each
   at scale 1), model versions (100) with aliases, an evaluation each and their
   events and lineage (``_seed_loop``), a month of hourly windows for three monitors
   with alerts and incidents, and the prediction log (10 million rows at scale 1)
   written as large Parquet segments with pyarrow in the log's layout.
4. **Compaction**: the log is compacted as a team's scheduled ``prodml predictions
   compact`` keeps it (the demo's gateway wrote a segment a second).

    .venv/bin/python benchmarks/seed_scale.py --store sqlite --scale 0.01 --keep /tmp/s
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from _anchor import cache_root
from _harness import REPO, prodml_env

TEMPLATE = "dashboard-template"


@dataclass
class Seeded:
    store: str
    home: Path
    metadata_url: str
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def settings(self) -> dict[str, Any]:
        return {"home": str(self.home), "metadata_url": self.metadata_url, "user": "bench"}

    def describe(self) -> str:
        counts = ", ".join(f"{count:,} {name}" for name, count in self.counts.items())
        spent = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in self.seconds.items())
        return f"{counts} (seeding: {spent})" if spent else f"{counts} (seeded before)"


def stores_wanted(choice: str) -> list[str]:
    return ["sqlite", "postgresql"] if choice == "both" else [choice]


def template_home() -> Path:
    """The demo's store, built once (a few minutes) and reused."""
    root = cache_root() / TEMPLATE
    home = root / ".prodml"
    if (root / "done").exists():
        return home
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    print(f"building the template store (examples/demo.py) in {root} ...", flush=True)
    with (root / "demo.log").open("w") as log:
        completed = subprocess.run(
            [sys.executable, str(REPO / "examples" / "demo.py")],
            cwd=root, env=prodml_env(home), stdout=log, stderr=subprocess.STDOUT, check=False,
        )  # fmt: skip
    if completed.returncode != 0:
        # Its monitoring part depends on timing and can end early on a busy machine;
        # what it stored before is still the SDK's and enough for a template.
        print(f"the demo exited with {completed.returncode} (see {root / 'demo.log'})")
    _complete(home)
    (root / "done").write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    return home


def _complete(home: Path) -> None:
    """Make sure the template holds alerts (one acked), an incident and its events,
    raised through the monitor's own functions on the demo's latest windows."""
    from prodml.client import Client
    from prodml.domain.monitoring import AlertClass, Signal
    from prodml.monitor import alerts, context
    from prodml.monitor.spec import MonitorSpec
    from prodml.sdk import incidents, monitoring

    client = Client(home=str(home), user="bench")
    try:
        store = client.metadata
        if not store.monitor_specs():
            raise SystemExit(f"the demo stored no monitor; see {home.parent / 'demo.log'}")
        if store.alerts():
            return
        model, text = next(iter(store.monitor_specs().items()))
        spec = MonitorSpec.from_json(text)
        with store.engine.connect() as connection:
            windows = connection.execute(sa.text(
                "SELECT start, \"end\", stats FROM monitor_windows WHERE model = :m"
                " AND kind = 'traffic' AND rows > 0 ORDER BY start DESC LIMIT 12"
            ), {"m": model}).all()  # fmt: skip
        raised = []
        for column, (start, end, stats) in zip(
            ("dep_delay", "distance"), (windows[-1], windows[0]), strict=True
        ):
            signal = Signal(
                monitor="inputs", subject=column, statistic="psi", kind=AlertClass.DRIFT,
                observed=0.41, expected=0.02, score=20.5,
                message=f"{column} moved: PSI 0.41 (bound 0.02)",
            )  # fmt: skip
            made = functools.partial(
                context.for_window, client, model, start, end, json.loads(stats), [signal], []
            )
            alert, _ = alerts.raise_or_fold(client, spec, start, end, [signal], made)
            raised.append(alert.id)
        monitoring.ack_alert(raised[-1], "real: upstream unit change", client=client)
        opened = incidents.open_incident(raised[:1], client=client)
        incidents.close_incident(opened.id, "upstream fixed the unit", client=client)
    finally:
        client.close()


@contextlib.contextmanager
def seed(store: str, folder: Path, scale: float, postgres: str, *, keep: bool) -> Iterator[Seeded]:
    """A seeded store under ``folder/<store>``; reused as it is when ``keep`` and it is
    complete; a PostgreSQL database is dropped at the end unless ``keep``."""
    home = folder / store / ".prodml"
    database = f"prodml_bench_{'kept' if keep else os.getpid()}"
    url = (
        f"sqlite:///{home / 'prodml.db'}"
        if store == "sqlite"
        else _database_url(postgres, database)
    )
    seeded = Seeded(store, home, url)
    marker = folder / store / f"seeded-{scale:g}"
    try:
        if keep and marker.exists():
            seeded.counts = _counts(url)
        else:
            _fresh(seeded, postgres, database)
            _scale_up(seeded, scale)
            marker.write_text("done")
        yield seeded
    finally:
        if store == "postgresql" and not keep:
            _drop(postgres, database)


def _fresh(seeded: Seeded, postgres: str, database: str) -> None:
    started = time.perf_counter()
    template = template_home()
    shutil.rmtree(seeded.home.parent, ignore_errors=True)
    seeded.home.mkdir(parents=True)
    shutil.copytree(template / "blobs", seeded.home / "blobs", copy_function=os.link)
    shutil.copytree(template / "predictions", seeded.home / "predictions", copy_function=os.link)
    source = sqlite3.connect(template / "prodml.db")
    target = sqlite3.connect(seeded.home / "template.db")
    source.backup(target)
    source.close()
    target.close()
    if seeded.store == "sqlite":
        (seeded.home / "template.db").rename(seeded.home / "prodml.db")
        _open(seeded.metadata_url).close()  # migrated to the head revision
    else:
        _drop(postgres, database)
        _admin(postgres, f'CREATE DATABASE "{database}"')
        copy_tables(f"sqlite:///{seeded.home / 'template.db'}", seeded.metadata_url)
    seeded.seconds["template"] = time.perf_counter() - started


def _open(url: str) -> Any:
    from prodml.stores.metadata import open_metadata

    return open_metadata(url, "bench")


def copy_tables(source_url: str, target_url: str) -> None:
    """Every table of the schema, row for row, from one store into a fresh one (both
    migrated to the head first); serial ids keep their values and sequences move on."""
    from prodml.stores import schema

    source, target = _open(source_url), _open(target_url)
    try:
        with source.engine.connect() as reading, target.engine.begin() as writing:
            for table in schema.metadata.sorted_tables:
                rows = [dict(row._mapping) for row in reading.execute(table.select())]
                writing.execute(table.delete())  # what a migration put there (counters)
                if rows:
                    writing.execute(table.insert(), rows)
                serial = table.autoincrement_column
                if rows and serial is not None and writing.dialect.name == "postgresql":
                    writing.execute(sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', '{serial.name}'),"
                        f" (SELECT max({serial.name}) FROM {table.name}))"
                    ))  # fmt: skip
    finally:
        source.close()
        target.close()


def _scale_up(seeded: Seeded, scale: float) -> None:
    import _seed_loop

    from prodml.client import Client
    from prodml.sdk.predictions import compact_predictions

    client = Client(**seeded.settings)
    try:
        _seed_loop.scale_up(client, seeded, scale)
        # The log as a team keeps it: a scheduled `prodml predictions compact` merges a
        # gateway's segment-a-second (the template's demo traffic) into a few files.
        started = time.perf_counter()
        compact_predictions(older_than=0, grace=0, client=client)
        seeded.seconds["compaction"] = time.perf_counter() - started
    finally:
        client.close()
    seeded.counts.update(_counts(seeded.metadata_url))


def _counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(_driver_url(url))
    tables = ("runs", "metrics", "model_versions", "monitor_windows", "alerts", "events")
    with engine.connect() as connection:
        counts = {
            t: int(connection.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar() or 0)
            for t in tables
        }
    engine.dispose()
    return counts


def _driver_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _database_url(postgres: str, database: str) -> str:
    return str(sa.make_url(postgres).set(database=database).render_as_string(hide_password=False))


def _admin(postgres: str, statement: str) -> None:
    engine = sa.create_engine(_driver_url(postgres), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(statement))
    engine.dispose()


def _drop(postgres: str, database: str) -> None:
    _admin(postgres, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--keep", type=Path, required=True)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    options = parser.parse_args(argv)
    with seed(options.store, options.keep, options.scale, options.postgres, keep=True) as seeded:
        print(f"{seeded.store} at {seeded.metadata_url}: {seeded.describe()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
