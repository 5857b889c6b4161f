"""The floor under prodml's run rate: the same rows written with bare ``sqlite3``.

A store is made with prodml (its schema and indexes), then each run is the two
transactions prodml writes, statement for statement, through the ``sqlite3``
module with no other code around them: the run, its config's search rows and its
start event; then its end, end event, params (and their search rows), metric
points and latest values. Same settings as prodml's store: WAL,
``synchronous=NORMAL``, foreign keys on, the WAL checkpointed by a background
thread. What this rate is short of a goal, no Python library on this machine can
make up; several processes wait for each other with SQLite's own busy handler.

The worker follows ``_tracking_concurrent``: argv n_runs, prints "ready", waits
for a line on stdin, prints one JSON line.
"""

from __future__ import annotations

from pathlib import Path

from _tracking_concurrent import Together, count_rows, run_together, summary

FLOOR_RUNS = """
import json, os, sqlite3, sys, time, uuid

import prodml
from prodml.stores.checkpoint import LAST_RESORT_PAGES, Checkpointer
from prodml.track.environment import run_environment

n_runs = int(sys.argv[1])
home = os.environ["PRODML_HOME"]
client = prodml.Client(home=home)
client.metadata  # the schema, migrated to the head
client.close()
database = os.path.join(home, "prodml.db")
db = sqlite3.connect(database, isolation_level=None, timeout=60)
for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON",
               f"wal_autocheckpoint={LAST_RESORT_PAGES}"):
    db.execute(f"PRAGMA {pragma}")
checkpointer = Checkpointer(database, 60)
environment = json.dumps(run_environment()[0], default=str, sort_keys=True)
VALUE = "INSERT INTO run_values (run_id, kind, key, value, head, num) VALUES (?, ?, ?, ?, ?, ?)"
EVENT = ("INSERT INTO events (at, actor, action, subject_kind, subject_id, reason, details)"
         " VALUES (?, ?, ?, ?, ?, ?, ?)")


def transaction(statements):
    db.execute("BEGIN IMMEDIATE")
    for sql, rows in statements:
        db.executemany(sql, rows)
    db.execute("COMMIT")
    checkpointer.committed()


def one_run(experiment="bench-batch"):
    run, now = uuid.uuid4().hex, time.time()
    transaction([
        ("INSERT INTO runs (id, experiment, status, author, started_at, hypothesis, config,"
         " environment, git_commit) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
         [(run, experiment, "running", "me", now, "speed", '{"lr": 0.1}', environment,
           None)]),
        (VALUE, [(run, "config", "lr", "0.1", "0.1", 0.1)]),
        (EVENT, [(now, "me", "run.started", "run", run, "speed",
                  json.dumps({"experiment": experiment, "inputs": []}))]),
    ])
    ended = time.time()
    transaction([
        ("UPDATE runs SET status = ?, ended_at = ?, error = ? WHERE id = ?",
         [("finished", ended, None, run)]),
        (EVENT, [(ended, "me", "run.finished", "run", run, None, "{}")]),
        ("INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)"
         " ON CONFLICT (run_id, key) DO NOTHING", [(run, f"p{j}", str(j)) for j in range(10)]),
        (VALUE + " ON CONFLICT (run_id, kind, key) DO NOTHING",
         [(run, "param", f"p{j}", str(j), str(j), float(j)) for j in range(10)]),
        ("INSERT INTO metrics (run_id, key, step, value, ts) VALUES (?, ?, ?, ?, ?)",
         [(run, f"m{j}", 0, j / 10, ended) for j in range(10)]),
        ("INSERT INTO latest_metrics (run_id, key, step, value, ts) VALUES (?, ?, ?, ?, ?)"
         " ON CONFLICT (run_id, key) DO UPDATE SET step = excluded.step, value = excluded.value,"
         " ts = excluded.ts WHERE excluded.step > latest_metrics.step OR (excluded.step ="
         " latest_metrics.step AND excluded.ts >= latest_metrics.ts)",
         [(run, f"m{j}", 0, j / 10, ended) for j in range(10)]),
    ])


one_run("warmup")
print("ready", flush=True)
sys.stdin.readline()
failed, errors = 0, []
started, cpu = time.time(), time.process_time()
for _ in range(n_runs):
    try:
        one_run()
    except sqlite3.Error as error:
        failed, errors = failed + 1, errors + [str(error)[:200]]
        if db.in_transaction:
            db.execute("ROLLBACK")
ended = time.time()
checkpointer.close()
print(json.dumps({"start": started, "end": ended, "failed": failed, "errors": errors[:3],
                  "cpu": time.process_time() - cpu,
                  "version": sqlite3.sqlite_version}))
"""

FLOOR_STORED = "SELECT count(*) FROM runs WHERE experiment = 'bench-batch' AND status = 'finished'"


def floor_together(
    python: str, env: dict[str, str], home: Path, processes: int, runs_each: int
) -> Together:
    """Runs per second of ``processes`` bare-sqlite3 writers at once (1 for one process)."""
    timing = run_together(
        [python, "-c", FLOOR_RUNS], runs_each, processes, env=env, cwd=home.parent
    )
    stored = count_rows(home / "prodml.db", FLOOR_STORED)
    return summary(processes, runs_each, timing, stored)
