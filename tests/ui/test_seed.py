"""The seeded store the dashboard's tests share holds every kind of object a page shows."""

from __future__ import annotations

from seed import SeededStore

import prodml


def test_the_seed_writes_the_whole_loop(seeded_store: SeededStore) -> None:
    client, seeded = seeded_store.client, seeded_store.seeded

    assert [d.version for d in prodml.list_datasets(seeded.dataset, client=client)] == [1, 2]
    assert len(prodml.list_runs(seeded.model, client=client)) == 3
    assert prodml.get_model(f"{seeded.model}@champion", client=client).version == 2
    assert prodml.get_model(f"{seeded.model}@challenger", client=client).version == 3
    moves = prodml.model_history(seeded.model, client=client).moves
    assert [m.forced for m in moves if m.alias == "champion"] == [False, True]
    (rollout, _), *_ = prodml.rollout_status(seeded.model, client=client)
    assert (rollout.id, rollout.current.label) == (seeded.rollout_id, "canary 10%")
    assert prodml.get_alert(seeded.open_alert, client=client).state == "open"
    incident = prodml.get_incident(seeded.incident, client=client)["incident"]
    assert incident.alert_ids == (seeded.incident_alert,)
