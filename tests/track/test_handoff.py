"""Handing a run to a worker: forked and spawned processes log into a run they were
given with run.handle(); a run a child merely inherited still refuses; a worker
leaving never ends the run; params stay write-once across processes."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
from typing import Any

import pytest

import prodml
from prodml.client import Client
from prodml.errors import NotFoundError, ParamConflictError, RunStateError
from prodml.track.run import RunHandle

FORK = multiprocessing.get_context("fork")
SPAWN = multiprocessing.get_context("spawn")


def _log_folds(handle: RunHandle, worker: int, folds: int) -> None:
    os.environ["PRODML_FLUSH_INTERVAL"] = "60"  # only the durability points store anything
    with prodml.attach_run(handle) as run:
        for fold in range(folds):
            run.log_metric(f"auc_{worker}", 0.5 + fold / 100, step=fold)
        run.log_params({"workers": 2})


def _run_in(context: Any, target: Any, *args: Any) -> int:
    process = context.Process(target=target, args=args)
    process.start()
    process.join(timeout=120)
    return int(process.exitcode if process.exitcode is not None else -1)


@pytest.mark.parametrize("context", [FORK, SPAWN], ids=["fork", "spawn"])
def test_workers_log_into_a_run_they_were_handed_and_leaving_does_not_end_it(
    client: Client, context: Any
) -> None:
    with prodml.start_run("handed", client=client) as run:
        run.log_params({"workers": 2})
        exits = [_run_in(context, _log_folds, run.handle(), worker, 5) for worker in (1, 2)]
        assert exits == [0, 0]
        stored = client.metadata.get_run(run.id)
        assert stored.status.value == "running"
        assert stored.metrics == {"auc_1": 0.54, "auc_2": 0.54}
        assert [p.step for p in client.metadata.metric_history(run.id, "auc_2")] == [0, 1, 2, 3, 4]
        run.log_metric("auc", 0.6)
    stored = client.metadata.get_run(run.id)
    assert stored.status.value == "finished"
    assert stored.metrics == {"auc_1": 0.54, "auc_2": 0.54, "auc": 0.6}
    assert stored.params == {"workers": "2"}


def _log_and_return(handle: RunHandle) -> None:
    os.environ["PRODML_FLUSH_INTERVAL"] = "60"
    run = prodml.attach_run(handle)
    run.log_metric("loss", 0.25)  # neither flushed nor left: the worker's exit stores it


def test_what_a_worker_logged_outside_a_with_block_is_stored_when_it_exits(
    client: Client,
) -> None:
    with prodml.start_run("handed", client=client) as run:
        assert _run_in(FORK, _log_and_return, run.handle()) == 0
        assert client.metadata.get_run(run.id).metrics == {"loss": 0.25}
        assert client.metadata.get_run(run.id).status.value == "running"


def _fail_inside(handle: RunHandle) -> None:
    with prodml.attach_run(handle) as run:
        run.log_metric("loss", 0.5)
        raise ValueError("the worker broke")


def test_a_worker_that_fails_keeps_what_it_logged_and_the_run_goes_on(client: Client) -> None:
    with prodml.start_run("handed", client=client) as run:
        assert _run_in(FORK, _fail_inside, run.handle()) == 1
        stored = client.metadata.get_run(run.id)
        assert (stored.status.value, stored.metrics) == ("running", {"loss": 0.5})
    assert client.metadata.get_run(run.id).status.value == "finished"


def _log_inherited(run: Any) -> None:
    try:
        run.log_metric("loss", 99.0)
    except RunStateError as error:
        sys.exit(0 if "prodml.attach_run(handle)" in str(error) else 2)
    sys.exit(1)


def test_a_run_a_forked_child_merely_inherited_still_refuses(client: Client) -> None:
    with prodml.start_run("inherited", client=client) as run:
        run.log_metric("loss", 0.5)
        assert _run_in(FORK, _log_inherited, run) == 0
        assert client.metadata.get_run(run.id).status.value == "running"
    stored = client.metadata.get_run(run.id)
    assert (stored.status.value, stored.metrics) == ("finished", {"loss": 0.5})
    assert client.metadata.count_metric_points(run.id) == 1


def _set_seed(handle: RunHandle, value: int, ready: Any, go: Any, done: Any) -> None:
    run = prodml.attach_run(handle)
    ready.wait()  # both workers attached before either set the param
    if go is not None:
        go.wait()
    run.log_param("seed", value)
    try:
        run.flush()
    except ParamConflictError as error:
        sys.exit(3 if "'seed'" in str(error) and "already '1'" in str(error) else 4)
    finally:
        if done is not None:
            done.set()
    run.end()


def test_a_param_two_workers_set_differently_is_refused_to_the_second(client: Client) -> None:
    with prodml.start_run("seeds", client=client) as run:
        ready, first_done = FORK.Barrier(2), FORK.Event()
        first = FORK.Process(target=_set_seed, args=(run.handle(), 1, ready, None, first_done))
        second = FORK.Process(target=_set_seed, args=(run.handle(), 2, ready, first_done, None))
        for process in (first, second):
            process.start()
        for process in (first, second):
            process.join(timeout=120)
        assert (first.exitcode, second.exitcode) == (0, 3)
    assert client.metadata.get_run(run.id).params == {"seed": "1"}


def _set_lr(handle: RunHandle) -> None:
    with prodml.attach_run(handle) as run:
        run.log_params({"lr": 0.1, "batch": 32})


def test_the_owner_setting_a_param_a_worker_set_differently_is_refused(client: Client) -> None:
    run = prodml.start_run("seeds", client=client)
    assert _run_in(FORK, _set_lr, run.handle()) == 0
    run.log_params({"batch": 32, "momentum": 0.9})  # the same value as the worker's is fine
    run.flush()
    run.log_param("lr", 0.2)  # this process never saw the worker's 0.1: the store refuses it
    with pytest.raises(ParamConflictError, match=r"'lr' .* already '0\.1'"):
        run.flush()
    run.end()
    assert client.metadata.get_run(run.id).params == {"lr": "0.1", "batch": "32", "momentum": "0.9"}


def _start_child(handle: RunHandle) -> None:
    run = prodml.attach_run(handle)
    with run, prodml.start_run("trial", parent=run, client=run.client) as child:
        child.log_metric("auc", 0.7)


def test_a_worker_starts_a_child_run_of_the_run_it_was_handed(client: Client) -> None:
    with prodml.start_run("sweep", client=client) as run:
        assert _run_in(FORK, _start_child, run.handle()) == 0
    (child,) = client.metadata.list_runs("trial")
    assert (child.status.value, child.metrics) == ("finished", {"auc": 0.7})
    assert child.tags["prodml.parent"] == run.id
    owner = client.metadata.get_run(run.id)
    assert owner.environment["pid"] == os.getpid() != child.environment["pid"]
    assert client.metadata.get_run(run.id).status.value == "finished"


def test_only_a_running_run_can_be_attached(client: Client) -> None:
    with prodml.start_run("short", client=client) as run:
        handle = run.handle()
    with pytest.raises(RunStateError, match="finished"):
        prodml.attach_run(handle)
    with pytest.raises(NotFoundError, match="prodml runs list"):
        prodml.attach_run("0123456789ab", client=client)


def test_a_handle_pickles_and_shows_no_store_url_but_a_run_does_not_pickle(
    client: Client,
) -> None:
    with prodml.start_run("pickles", client=client) as run:
        handle = pickle.loads(pickle.dumps(run.handle()))
        assert handle == run.handle()
        assert client.settings.metadata_url not in repr(handle)
        with pytest.raises(RunStateError, match=r"run.handle\(\)"):
            pickle.dumps(run)


def test_a_run_attached_in_the_same_process_is_left_not_ended(client: Client) -> None:
    with prodml.start_run("here", client=client) as run:
        with prodml.attach_run(run.id, client=client) as same:
            same.log_metric("loss", 0.5)
        with pytest.raises(RunStateError, match="was left by this process"):
            same.log_metric("loss", 0.4)
        assert client.metadata.get_run(run.id).status.value == "running"
        run.log_metric("loss", 0.3, step=1)
    assert client.metadata.get_run(run.id).metrics == {"loss": 0.3}
