"""How often each monitor's alerts were worth it: ``prodml alerts precision``.

An alert counts for every monitor that contributed a signal to it. People's marks
(acked: acted on; ignored: not worth it) are the ground truth; a monitor ignored
more often than acted on is noisy, and the report says which knob to turn."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from prodml.client import Client
from prodml.domain.monitoring import AlertState
from prodml.monitor.spec import MonitorSpec

NOISY = 0.5  # ignored share at or above this, over at least MIN_DECIDED marks: retune
MIN_DECIDED = 3


@dataclass(frozen=True)
class Precision:
    model: str
    monitor: str
    fired: int
    acked: int
    ignored: int
    undecided: int
    noisiest: tuple[str, ...]  # subjects most often in ignored alerts
    suggestion: str | None

    @property
    def precision(self) -> float | None:
        decided = self.acked + self.ignored
        return self.acked / decided if decided else None


def report(client: Client, model: str | None, since: datetime | None) -> list[Precision]:
    found = client.metadata.alerts(model, since=since.timestamp() if since else None)
    tallies: dict[tuple[str, str], Counter[str]] = {}
    subjects: dict[tuple[str, str], Counter[str]] = {}
    for alert in found:
        for monitor in alert.monitors:
            key = (alert.model, monitor)
            tallies.setdefault(key, Counter())[alert.state.value] += 1
            if alert.state is AlertState.IGNORED:
                noisy = subjects.setdefault(key, Counter())
                noisy.update(s.subject for s in alert.signals if s.monitor == monitor)
    specs = {
        name: MonitorSpec.from_json(text) for name, text in client.metadata.monitor_specs().items()
    }
    out = []
    for (name, monitor), counts in sorted(tallies.items()):
        noisiest = tuple(s for s, _ in subjects.get((name, monitor), Counter()).most_common(3))
        out.append(
            Precision(
                name,
                monitor,
                sum(counts.values()),
                counts["acked"],
                counts["ignored"],
                counts["open"],
                noisiest,
                _suggest(specs.get(name), monitor, counts, noisiest),
            )
        )
    return out


def _suggest(
    spec: MonitorSpec | None, monitor: str, counts: Counter[str], noisiest: tuple[str, ...]
) -> str | None:
    decided = counts["acked"] + counts["ignored"]
    if decided < MIN_DECIDED or counts["ignored"] / decided < NOISY:
        return None
    if monitor == "slo":
        return f"SLO(s) {', '.join(noisiest)} breach without consequence: revisit the objective."
    if monitor in ("inputs", "predictions") and noisiest:
        names = ", ".join(noisiest)
        return (
            f"Most ignored alerts name {names}: add them to `ignore:` in the monitor spec if "
            "they are ids or free text, or lower `sensitivity.inputs`."
        )
    key = "inputs" if monitor == "predictions" else monitor
    current = spec.sensitivity.get(key, 0.01) if spec is not None else 0.01
    return (
        f"Lower sensitivity.{key} from {current:g} to {current / 10:g} in the monitor spec "
        "(prodml monitor set), or lengthen the window."
    )
