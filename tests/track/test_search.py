"""Run search: the filter language on each kind of field and operator, order and
pages, and hostile filters refused without touching the store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import prodml
from prodml.client import Client
from prodml.domain.run import RunStatus
from prodml.errors import InvalidInputError


def _run(
    client: Client,
    name: str,
    config: dict[str, Any],
    params: dict[str, Any],
    metrics: dict[str, list[float]],
    hypothesis: str | None = None,
    experiment: str = "delay",
    fail: bool = False,
) -> str:
    run = prodml.start_run(
        experiment, config={"name": name, **config}, hypothesis=hypothesis, client=client
    )
    run.log_params(params)
    for key, values in metrics.items():
        for value in values:
            run.log_metric(key, value)
    run.end(RunStatus.FAILED if fail else RunStatus.FINISHED, "boom" if fail else None)
    return run.id


@pytest.fixture
def runs(client: Client) -> dict[str, str]:
    """Five runs; auc's latest value is what counts (alpha logged 0.99 first)."""
    return {
        "alpha": _run(
            client,
            "alpha",
            {"depth": 6, "opt": {"name": "adam"}, "flag": True},
            {"lr": 0.1, "trees": "10", "loss": "log"},
            {"auc": [0.99, 0.70]},
            "More TREES help",
        ),
        "beta": _run(
            client,
            "beta",
            {"depth": 8, "opt": {"name": "sgd"}, "flag": False},
            {"lr": 0.01, "trees": "9", "loss": "hinge"},
            {"auc": [0.80]},
            "deeper is better",
        ),
        "gamma": _run(
            client,
            "gamma",
            {"depth": 6, "opt": {"name": "sgd"}},
            {"lr": 0.5, "trees": "100"},
            {"auc": [0.85], "loss": [0.3]},
        ),
        "delta": _run(
            client,
            "delta",
            {"depth": "six"},
            {"lr": "fast"},
            {"auc": [0.60]},
            "trees again",
            experiment="eta",
            fail=True,
        ),
        "empty": _run(client, "empty", {}, {}, {}),
    }


def _names(client: Client, text: str, **options: Any) -> list[str]:
    page = prodml.search_runs(text, client=client, limit=100, **options)
    assert page.total == len(page.runs)
    return [run.config["name"] for run in page.runs]


def _set(client: Client, text: str) -> set[str]:
    return set(_names(client, text))


def test_metric_terms_compare_the_latest_value_with_each_operator(
    client: Client, runs: dict[str, str]
) -> None:
    assert _set(client, "metrics.auc > 0.75") == {"beta", "gamma"}  # alpha's latest is 0.70
    assert _set(client, "metrics.auc >= 0.8") == {"beta", "gamma"}
    assert _set(client, "metrics.auc < 0.7") == {"delta"}
    assert _set(client, "metrics.auc <= 0.7") == {"alpha", "delta"}
    assert _set(client, "metrics.auc = 0.8") == {"beta"}
    assert _set(client, "metrics.auc != 0.8") == {"alpha", "gamma", "delta"}
    assert _set(client, "metrics.auc in (0.6, 0.85)") == {"gamma", "delta"}
    assert _set(client, "metric.loss < 1") == {"gamma"}


def test_params_compare_numbers_as_numbers_and_quoted_values_as_text(
    client: Client, runs: dict[str, str]
) -> None:
    assert _set(client, "params.trees > 9") == {"alpha", "gamma"}  # 10 and 100 beat 9
    assert _set(client, "params.trees > '9'") == set()  # as text '9' sorts after '10', '100'
    assert _set(client, "params.trees < '9'") == {"alpha", "gamma"}
    assert _set(client, "params.lr = 0.1") == {"alpha"}
    assert _set(client, "params.lr = '0.1'") == {"alpha"}
    assert _set(client, "params.lr >= 0.1") == {"alpha", "gamma"}
    assert _set(client, "params.lr = fast") == {"delta"}
    assert _set(client, "params.loss in (log, hinge)") == {"alpha", "beta"}
    assert _set(client, "params.loss != log") == {"beta"}
    assert _set(client, "params.loss ~ 'OG'") == {"alpha"}


def test_config_terms_read_nested_keys_by_their_dotted_path(
    client: Client, runs: dict[str, str]
) -> None:
    assert _set(client, "config.depth = 6") == {"alpha", "gamma"}
    assert _set(client, "config.depth in (6, 8)") == {"alpha", "beta", "gamma"}
    assert _set(client, "config.depth != 6") == {"beta", "delta"}  # 'six' is not 6 either
    assert _set(client, "config.depth = six") == {"delta"}
    assert _set(client, "config.opt.name = adam") == {"alpha"}
    assert _set(client, 'config.opt.name = "sgd" and config.depth > 7') == {"beta"}
    assert _set(client, "config.flag = true") == {"alpha"}
    assert _set(client, "config.name ~ 'ET'") == {"beta"}  # contains, any case


def test_tags_are_set_on_a_run_and_searched(client: Client, runs: dict[str, str]) -> None:
    prodml.tag_run(runs["beta"], {"reviewed": "yes", "priority": "2"}, client=client)
    prodml.tag_run(runs["gamma"][:8], {"reviewed": "no"}, client=client)

    assert _set(client, "tags.reviewed = yes") == {"beta"}
    assert _set(client, "tags.priority >= 2") == {"beta"}
    assert _set(client, "tags.reviewed in (yes, no)") == {"beta", "gamma"}
    assert prodml.get_run(runs["beta"], client=client).tags == {"reviewed": "yes", "priority": "2"}
    prodml.tag_run(runs["beta"], {"reviewed": "no"}, client=client)
    assert _set(client, "tags.reviewed = no") == {"beta", "gamma"}


def test_attributes_status_hypothesis_experiment_and_times(
    client: Client, runs: dict[str, str]
) -> None:
    assert _set(client, "status = failed") == {"delta"}
    assert _set(client, "status in (finished, running)") == {"alpha", "beta", "gamma", "empty"}
    assert _set(client, "hypothesis ~ 'trees'") == {"alpha", "delta"}
    assert _set(client, "experiment = eta") == {"delta"}
    assert _set(client, "author = tester and experiment != eta") == {
        "alpha",
        "beta",
        "gamma",
        "empty",
    }
    assert len(_names(client, "started > 1h")) == 5
    assert _names(client, "started < 1h") == []
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    assert len(_names(client, f"ended < '{later}'")) == 5
    assert _set(client, f"id = {runs['gamma'][:10]}") == {"gamma"}
    assert _names(client, "", experiment="eta") == ["delta"]


def test_and_binds_tighter_than_or_and_parentheses_group(
    client: Client, runs: dict[str, str]
) -> None:
    assert _set(client, "config.depth = 8 or config.depth = 6 and metrics.auc > 0.8") == {
        "beta",
        "gamma",
    }
    assert _set(client, "(config.depth = 8 or config.depth = 6) and metrics.auc > 0.8") == {"gamma"}
    assert _set(client, "((status = failed)) OR (params.lr = 0.1 AND (config.flag = true))") == {
        "alpha",
        "delta",
    }


def test_order_by_any_field_with_missing_values_last_either_way(
    client: Client, runs: dict[str, str]
) -> None:
    assert _names(client, "", order_by="metrics.auc desc") == [
        "gamma",
        "beta",
        "alpha",
        "delta",
        "empty",
    ]
    assert _names(client, "", order_by=["metrics.auc"]) == [
        "delta",
        "alpha",
        "beta",
        "gamma",
        "empty",
    ]
    assert _names(client, "", order_by="-params.lr") == ["gamma", "alpha", "beta", "delta", "empty"]
    by_depth = _names(client, "config.depth != 0", order_by="config.depth")
    assert set(by_depth[:2]) == {"alpha", "gamma"} and by_depth[2:] == ["beta", "delta"]
    tied = prodml.search_runs("config.depth = 6", "config.depth", client=client).runs
    assert [run.id for run in tied] == sorted([runs["alpha"], runs["gamma"]])  # ties by id


def test_pages_are_stable_across_ties_and_tokens_belong_to_their_search(client: Client) -> None:
    made = {_run(client, f"tie{i}", {"depth": 1}, {}, {"auc": [0.5]}) for i in range(7)}
    seen: list[str] = []
    page = prodml.search_runs("metrics.auc = 0.5", "metrics.auc desc", limit=3, client=client)
    while True:
        assert page.total == 7
        seen += [run.id for run in page.runs]
        if page.next_page_token is None:
            break
        token = page.next_page_token
        page = prodml.search_runs(
            "metrics.auc = 0.5", "metrics.auc desc", limit=3, page_token=token, client=client
        )
    assert seen == sorted(made)
    with pytest.raises(InvalidInputError, match="another filter or order"):
        prodml.search_runs("metrics.auc > 0", page_token=token, client=client)
    with pytest.raises(InvalidInputError, match="not one this search gave"):
        prodml.search_runs("", page_token="not-a-token", client=client)
    assert [
        r.id for r in prodml.search_runs("", "config.depth", limit=2, offset=5, client=client).runs
    ] == sorted(made)[5:]


def _store_state(client: Client) -> tuple[Any, ...]:
    with client.metadata.engine.connect() as connection:
        tables = sorted(sa.inspect(connection).get_table_names())
        counts = tuple(
            connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()
            for table in ("runs", "params", "run_values", "latest_metrics", "events")
        )
    return tuple(tables), counts


HOSTILE = [
    ("params.loss = 'x'); DROP TABLE runs; --", "unmatched ')'"),
    ("params.loss = 'x\\'); DROP TABLE runs; --'", None),  # an escaped quote stays text
    ("metrics.auc;DROP TABLE runs = 1", "a key is"),
    ("config.`depth'); DELETE FROM runs; --` = 6", None),  # a backticked key, bound: no match
    ("params.loss = 'log'' OR 1=1 --'", "expected and, or"),  # a quote ends the text
    (" or ".join(["metrics.auc > 0.5"] * 10_000), "at most 4,096"),
    (" or ".join(["metrics.auc > 0.5"] * 100), "at most 64 terms"),
    ("(" * 40 + "status = failed" + ")" * 40, "nest deeper"),
    ("(metrics.auc > 0.5", "expected ')'"),
    ("metrics.auc > 0.5)", "unmatched ')'"),
    ('hypothesis ~ "trees', "never closed"),
    ("secret.key = 1", "unknown field"),
    ("metrics.auc > high", "compares with a number"),
    ("status = done", "a status is one of"),
    ("metrics.auc ~ 0.5", "takes the operators"),
    ("started > someday", "expected a time"),
    ("metrics.auc >", "expected a value"),
    ("metrics.auc 0.5", "expected an operator"),
    ("metrics.auc > 0.5 config.depth = 6", "expected and, or"),
    ("metrics.auc in 0.5", "expected '('"),
]


@pytest.mark.parametrize("text,message", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_filters_are_refused_clearly_and_change_nothing(
    client: Client, runs: dict[str, str], text: str, message: str | None
) -> None:
    before = _store_state(client)
    if message is None:
        assert prodml.search_runs(text, client=client).total == 0
    else:
        with pytest.raises(InvalidInputError) as refused:
            prodml.search_runs(text, client=client)
        assert message in str(refused.value)
        if "4,096" not in message:
            assert "position" in str(refused.value)
            assert "metrics.auc > 0.8 and config.depth = 6" in str(refused.value)
    assert _store_state(client) == before
    assert prodml.search_runs("", client=client).total == 5


@pytest.mark.parametrize("order", ["name", "metrics.auc sideways", "metrics.`a` desc extra", "", 7])
def test_bad_sort_keys_and_limits_are_refused(
    client: Client, runs: dict[str, str], order: Any
) -> None:
    with pytest.raises(InvalidInputError):
        prodml.search_runs("", order_by=order, client=client)
    for limit in (0, 1001, True):
        with pytest.raises(InvalidInputError, match="A page holds"):
            prodml.search_runs("", limit=limit, client=client)


def test_runs_stored_before_search_existed_are_found_after_the_upgrade(
    metadata_url: str, tmp_path: Path
) -> None:
    from alembic import command
    from alembic.config import Config

    from prodml.stores import engine as engines

    old = engines.create(metadata_url, busy_timeout=5)
    config = Config()
    config.set_main_option("script_location", str(Path(engines.__file__).with_name("migrations")))
    with old.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0007")
        connection.exec_driver_sql(
            "INSERT INTO runs (id, experiment, status, author, started_at, config, environment)"
            " VALUES ('a1b2c3d4e5f6', 'old', 'finished', 'tester', 1.0,"
            ' \'{"depth": 6, "opt": {"name": "adam"}}\', \'{}\')'
        )
        connection.exec_driver_sql(
            "INSERT INTO params (run_id, key, value) VALUES ('a1b2c3d4e5f6', 'lr', '0.1')"
        )
    old.dispose()

    client = Client(
        home=str(tmp_path / "home"), metadata_url=metadata_url, artifact_url=str(tmp_path / "b")
    )
    try:
        for text in ("config.depth = 6", "config.opt.name = adam", "params.lr < 0.2"):
            assert [run.id for run in prodml.search_runs(text, client=client).runs] == [
                "a1b2c3d4e5f6"
            ], text
    finally:
        client.close()


@pytest.mark.parametrize("order", ["metrics.auc desc", "metrics.auc", "-config.depth", "params.lr"])
def test_every_run_paged_in_order_matches_the_filtered_search_across_pages(
    client: Client, runs: dict[str, str], order: str
) -> None:
    nan_run = _run(client, "nan", {"depth": 7}, {"lr": 0.2}, {"auc": [float("nan")]})
    everything: list[str] = []
    token = None
    while True:  # no filter: walked in the sort key's index, then the runs without it
        page = prodml.search_runs("", order, limit=2, page_token=token, client=client)
        everything += [run.id for run in page.runs]
        assert page.total == 6
        token = page.next_page_token
        if token is None:
            break
    matched = prodml.search_runs("started > 1d", order, limit=100, client=client)
    assert everything == [run.id for run in matched.runs]
    assert len(set(everything)) == 6 and nan_run in everything
