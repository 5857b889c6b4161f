"""Fuzzing the gateway's edge. In process (httpx.ASGITransport), hypothesis sends
arbitrary JSON, broken well-formed bodies and raw bytes to the predict and infer
routes of a signed, a tensor and an unsigned model: each is answered or refused
with a 4xx naming the field, never a 5xx. Well-formed bodies, drawn from the
contract or from the published OpenAPI document, are answered. Against a real
uvicorn server, schemathesis walks every route statefully (admin routes too, auth
on, a token on half the calls) and finds no 5xx and no unnamed input refusal."""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import itertools
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pytest
import schemathesis
from fuzz_bodies import (
    EDGES,
    EMPTY_BODIES,
    MAX_ROWS,
    RAW_BODIES,
    REQUEST_ID,
    REQUEST_IDS,
    field_values,
    free_rows,
    infer_bodies,
    json_values,
    mutated,
    plain_value,
    predict_bodies,
    signed_rows,
    tensor_rows,
    verdict,
)
from gateway_contract import answered_or_refused, refusal_problem
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from running_gateways import FOREIGN, Send, serving, uvicorn_gateway
from serving_helpers import Constant, crown, gateway, logged

import prodml
from prodml.client import Client
from prodml.deploy import rollouts
from prodml.errors import ProdmlError

NAMES = ("signed", "tensor", "free")
WIDTH = 3  # of the tensor model's rows
SIGNED_EXAMPLE = pa.table(
    {
        "small": pa.array([1, 2], pa.int8()),
        "count": pa.array([1, 2], pa.int64()),
        "big": pa.array([1, 2], pa.uint64()),
        "ratio": pa.array([0.5, None], pa.float64()),  # the one nullable column
        "single": pa.array([0.5, 1.5], pa.float32()),
        "flag": pa.array([True, False], pa.bool_()),
        "city": pa.array(["a", "b"], pa.string()),
        "seen": pa.array([1, 2], pa.timestamp("us")),
    }
)
FUZZ = settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def log_models(client: Client, previous: bool = False) -> None:
    """Models ``signed`` (three versions; v1 the champion, or v2 after v1 with
    ``previous``), ``tensor`` and ``free`` (no signature). Each answers a constant,
    whatever a row holds, so only the gateway can fail a request."""
    with prodml.start_run("fuzz", client=client) as run:
        signed = [run.log_model(Constant(i), "signed", example=SIGNED_EXAMPLE) for i in range(3)]
        tensor = run.log_model(Constant(7), "tensor", example=np.zeros((2, WIDTH)))
        free = run.log_model(Constant(8), "free")
    for version in [*signed[: 2 if previous else 1], tensor, free]:
        crown(client, version)


@dataclasses.dataclass
class Fuzzed:
    client: Client
    send: Send
    columns: list[dict[str, Any]]  # the signed model's signature
    stop: contextlib.ExitStack

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent = {"content-type": "application/json", **(headers or {})}
        return self.send("POST", path, content=content, headers=sent)

    def well_formed(self, model: str) -> st.SearchStrategy[list[Any]]:
        if model == "signed":
            return signed_rows(self.columns)
        return tensor_rows(WIDTH) if model == "tensor" else free_rows()


@pytest.fixture
def fuzzed(sqlite_client: Client) -> Iterator[Fuzzed]:
    """The three models served in process (the unsigned one by choice)."""
    log_models(sqlite_client)
    signature = sqlite_client.metadata.get_model_version("signed", "1").signature
    with contextlib.ExitStack() as stack:
        send = stack.enter_context(serving(gateway(sqlite_client, NAMES, allow_unsigned=True)))
        yield Fuzzed(sqlite_client, send, signature["columns"], stack)


def route(model: str, kind: str) -> str:
    return f"/v1/models/{model}/predict" if kind == "predict" else f"/v2/models/{model}/infer"


ROUTES = st.tuples(st.sampled_from(NAMES), st.sampled_from(["predict", "infer"]))


# --- in process --------------------------------------------------------------------------


def test_any_json_sent_to_predict_or_infer_is_answered_or_refused_naming_the_field(
    fuzzed: Fuzzed,
) -> None:
    for model, kind in itertools.product(NAMES, ("predict", "infer")):
        for body in EMPTY_BODIES:  # the shapes of nothing, which random JSON may miss
            answered_or_refused(fuzzed.post(route(model, kind), body), body)

    @FUZZ
    @given(ROUTES, st.data())
    def check(target: tuple[str, str], data: st.DataObject) -> None:
        model, kind = target
        well_formed = fuzzed.well_formed(model)
        forms = predict_bodies(well_formed) if kind == "predict" else infer_bodies(well_formed)
        body = data.draw(json_values | mutated(forms) | RAW_BODIES)
        answered_or_refused(fuzzed.post(route(model, kind), body), body)

    check()


def test_each_value_is_taken_or_refused_as_its_column_type_says(fuzzed: Fuzzed) -> None:
    def judge(column: dict[str, Any], value: Any, body: Any) -> None:
        response = fuzzed.post(route("signed", "predict"), body)
        payload = answered_or_refused(response, body)
        taken = verdict(value, column["type"], column.get("nullable") is not False)
        wanted = {200} if taken else {422} if taken is False else {200, 422}
        shown = f"{column} holding {str(value)[:200]}: {response.status_code} {payload}"
        assert response.status_code in wanted, shown
        if response.status_code == 422:
            assert column["name"] in payload["field"], shown

    plain = {column["name"]: plain_value(column["type"]) for column in fuzzed.columns}
    for column, value in itertools.product(fuzzed.columns, EDGES):  # every edge, every run
        judge(column, value, {**plain, column["name"]: value})

    @settings(FUZZ, max_examples=150)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        rows = data.draw(signed_rows(fuzzed.columns))
        column = data.draw(st.sampled_from(fuzzed.columns))
        value = data.draw(field_values)
        rows[data.draw(st.integers(0, len(rows) - 1))][column["name"]] = value
        judge(column, value, data.draw(predict_bodies(st.just(rows))))

    check()


def test_well_formed_requests_to_every_model_are_answered(fuzzed: Fuzzed) -> None:
    @FUZZ
    @given(ROUTES, st.data())
    def check(target: tuple[str, str], data: st.DataObject) -> None:
        model, kind = target
        rows = data.draw(fuzzed.well_formed(model))
        forms = predict_bodies if kind == "predict" else infer_bodies
        body = data.draw(forms(st.just(rows)))
        response = fuzzed.post(route(model, kind), body)
        assert response.status_code == 200, f"{response.text[:400]} for {str(body)[:400]}"
        payload = response.json()
        answers = payload["predictions"] if kind == "predict" else payload["outputs"][0]["data"]
        assert len(answers) == len(rows)

    check()


def test_every_answered_row_is_in_the_prediction_log_which_stays_queryable(
    fuzzed: Fuzzed,
) -> None:
    answered: list[int] = []  # rows of each answered request

    @settings(FUZZ, max_examples=30)
    @given(st.data())
    def send(data: st.DataObject) -> None:  # to every route each time
        for model, kind in itertools.product(NAMES, ("predict", "infer")):
            rows = data.draw(fuzzed.well_formed(model))
            forms = predict_bodies if kind == "predict" else infer_bodies
            body = data.draw(forms(st.just(rows)))
            if fuzzed.post(route(model, kind), body).status_code == 200:
                answered.append(len(rows))

    send()
    fuzzed.stop.close()  # the gateway stops: the log is flushed
    sql = "SELECT count(*) AS n FROM predictions"
    assert logged(fuzzed.client, sql) == [{"n": sum(answered)}]


def test_bodies_drawn_from_the_published_schema_are_answered(fuzzed: Fuzzed) -> None:
    """The document's schema is no looser than the gateway: whatever it allows for
    the predict routes of signed models is answered (a 'columns' body cut to its
    shortest list, the one rule a schema cannot state)."""
    document = fuzzed.send("GET", "/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    operations = [schema[route(model, "predict")]["POST"] for model in ("signed", "tensor")]

    @FUZZ
    @given(st.one_of([operation.as_strategy() for operation in operations]))
    def check(case: Any) -> None:
        body = case.body
        if isinstance(body, dict) and "columns" in body:
            shortest = min(len(values) for values in body["columns"].values())
            body = {"columns": {k: v[:shortest] for k, v in body["columns"].items()}}
        response = fuzzed.post(case.formatted_path, body, dict(case.headers or {}))
        assert response.status_code == 200, f"{response.text[:400]} for {str(body)[:400]}"

    check()


def test_request_ids_are_kept_or_refused_naming_the_header_or_the_id_field(
    fuzzed: Fuzzed,
) -> None:
    printable = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=140)

    @FUZZ
    @given(REQUEST_IDS | printable | st.just(" a"), st.booleans())
    def check(request_id: str, in_body: bool) -> None:
        tensor = {"name": "a", "shape": [1], "datatype": "FP64", "data": [1.0]}
        if in_body:
            response = fuzzed.post(route("free", "infer"), {"id": request_id, "inputs": [tensor]})
        else:
            headers = {"x-request-id": request_id}
            response = fuzzed.post(route("free", "predict"), {"a": 1.0}, headers)
        payload = answered_or_refused(response, request_id)
        valid = REQUEST_ID.fullmatch(request_id) is not None
        if request_id:  # an empty id is left open: refused, or taken as none
            assert response.status_code == (200 if valid else 422), (request_id, payload)
        if response.status_code == 422:
            assert payload["field"] == ("id" if in_body else "x-request-id"), payload
        elif valid:
            assert payload["id" if in_body else "request_id"] == request_id

    check()


def test_bodies_and_row_counts_past_the_limits_are_refused_with_413(fuzzed: Fuzzed) -> None:
    read: list[int] = []

    async def endless() -> AsyncIterator[bytes]:  # no Content-Length: sent chunked
        for _ in range(1_000):  # 64 MiB, far past the 1 MiB limit
            read.append(1)
            yield b" " * 65_536

    declared = fuzzed.send(
        "POST", route("free", "predict"), content=b"{}", headers={"content-length": "1048577"}
    )
    streamed = fuzzed.send("POST", route("free", "predict"), content=endless())
    many = [{"a": 1.0}] * (MAX_ROWS + 1)
    bodies = {
        "list": many,
        "records": {"records": many},
        "instances": {"instances": many},
        "columns": {"columns": {"a": [1.0] * (MAX_ROWS + 1)}},
    }
    counted = {form: fuzzed.post(route("free", "predict"), body) for form, body in bodies.items()}
    tensor = {"name": "a", "shape": [MAX_ROWS + 1], "datatype": "FP64", "data": many}
    counted["infer"] = fuzzed.post(route("free", "infer"), {"inputs": [tensor]})
    counted["tensor rows"] = fuzzed.post(
        route("tensor", "predict"), [[0.0] * WIDTH] * (MAX_ROWS + 1)
    )

    for response in (declared, streamed, *counted.values()):
        assert response.status_code == 413, response.text
        answered_or_refused(response)
    assert declared.json()["field"] == streamed.json()["field"] == "body"
    assert len(read) <= 17, f"{len(read)} chunks of 64 KiB read past a 1 MiB limit"
    assert counted["columns"].json()["field"] == "columns"


def test_every_link_of_the_document_names_an_operation_and_its_parameters(
    fuzzed: Fuzzed,
) -> None:
    document = fuzzed.send("GET", "/openapi.json").json()
    operations = {
        operation["operationId"]: (path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post")
    }
    assert len(operations) == sum(
        len(set(item) - {"parameters"}) for item in document["paths"].values()
    )
    linked = set()
    for _, operation in operations.values():
        for link in operation["responses"]["200"].get("links", {}).values():
            path, _ = operations[link["operationId"]]
            names = {p["name"] for p in document["paths"][path].get("parameters", [])}
            assert set(link.get("parameters", {})) <= names, (link, path)
            linked.add(link["operationId"])
    served = {f"{kind}_{model}" for model in NAMES for kind in ("predict", "infer")}
    assert served | {"model_metadata", "model_ready", "rollback", "rollout_action"} <= linked


# --- a real server, walked statefully ----------------------------------------------------

CANARY = {"stages": [{"stage": "canary", "steps": [50], "min_duration": "1h"}]}
ALONE = settings(
    max_examples=10,
    deadline=None,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)
WALK = settings(
    max_examples=20,
    stateful_step_count=8,
    deadline=None,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    """``signed`` v2 the champion after v1, v3 its candidate; ``tensor`` and ``free``."""
    for name in FOREIGN:
        monkeypatch.delenv(name, raising=False)
    client = Client(home=str(tmp_path / "home"), user="tester", flush_interval=0.05)
    log_models(client, previous=True)
    yield client
    client.close()


@pytest.fixture
def deployer(store: Client) -> Iterator[Client]:
    """Auth on for everyone on the store (mode ``all``: predictions need a token too)
    and a client presenting the first deployer token: the one place where the walked
    gateway's access control is chosen."""
    change = prodml.enable_auth("all", "fuzzing the gateway", "fuzz", client=store)
    assert change.token
    client = Client(**{**dataclasses.asdict(store.settings), "token": change.token})
    yield client
    client.close()


def _keep_a_rollout(client: Client) -> None:
    """A canary of ``signed`` running, whatever the last scenario aborted or promoted."""
    for candidate in ("3", "2", "1"):
        with contextlib.suppress(ProdmlError):
            rollouts.start(client, "signed", candidate, CANARY, "fuzzing the gateway")
            return


def test_a_stateful_walk_of_every_route_with_auth_on_finds_no_5xx_and_no_unnamed_field(
    store: Client, deployer: Client
) -> None:
    token = deployer.settings.token
    calls: collections.Counter[str] = collections.Counter()
    problems: dict[str, str] = {}  # a request reproducing each distinct problem
    home = Path(store.settings.home)
    with uvicorn_gateway(home, *NAMES, "--allow-unsigned") as url:
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json", timeout=30)
        labels = {result.ok().label for result in schema.get_all_operations()}

        class Walk(schema.as_state_machine()):  # type: ignore[misc]
            def setup(self) -> None:
                _keep_a_rollout(deployer)

            def get_call_kwargs(self, case: Any) -> dict[str, Any]:
                self.token = sum(calls.values()) % 2 == 1  # on half the calls
                headers = {"Authorization": f"Bearer {token}"} if self.token else {}
                return {"headers": headers, "timeout": 30}

            def validate_response(self, response: Any, case: Any, *args: Any, **kw: Any) -> None:
                record(case, response, self.token)

        def record(case: Any, response: Any, with_token: bool) -> None:
            label = case.operation.label
            calls[label] += 1
            problem = refusal_problem(response.status_code, response.content, label)
            if problem is not None:
                sent = "with" if with_token else "without"
                example = f"{case.as_curl_command()}  ({sent} the deployer's token)"
                problems.setdefault(f"{label}: {re.sub(r'[0-9]+', 'N', problem)}", example)

        # A scenario replayed on a server it changed may diverge: go on. Walks are random,
        # so one may miss a route: walk again, a few times, until every route was called.
        for _ in range(4):
            with contextlib.suppress(Flaky):
                Walk.run(settings=WALK)
            if sum(calls.values()) >= WALK.max_examples * 4 and set(calls) >= labels:
                break
        # A route no walk reached is called on its own, with and without the token.
        missing = [r.ok() for r in schema.get_all_operations() if r.ok().label not in calls]
        for operation in missing:

            @ALONE
            @given(case=operation.as_strategy(), with_token=st.booleans())
            def call_alone(case: Any, with_token: bool) -> None:
                headers = {"Authorization": f"Bearer {token}"} if with_token else {}
                record(case, case.call(headers=headers, timeout=30), with_token)

            call_alone()
    assert not problems, "\n".join(
        f"{problem}\n  {example}" for problem, example in problems.items()
    )
    assert set(calls) == labels, f"never called: {sorted(labels - set(calls))}"
