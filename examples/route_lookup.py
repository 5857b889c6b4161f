"""A model with a production bug, for the demo's failed rollout: it adds a per-route
lateness rate looked up from its training data, and raises on a route it never saw
(the lookup's KeyError), as new-feature code often does on its first day."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression


class RouteLookupModel:
    def __init__(self, features: list[str]) -> None:
        self.features = features
        self.rates: dict[str, float] = {}
        self.model = LogisticRegression(max_iter=500)

    def fit(self, frame: pd.DataFrame, late: pd.Series) -> RouteLookupModel:
        self.rates = late.groupby(frame["dest"]).mean().to_dict()
        self.model.fit(self._matrix(frame), late)
        self.classes_ = self.model.classes_
        return self

    def _matrix(self, frame: pd.DataFrame) -> np.ndarray:
        route_rate = [self.rates[dest] for dest in frame["dest"]]  # KeyError on a new route
        return np.column_stack([frame[self.features].to_numpy(float), route_rate])

    def predict(self, frame: pd.DataFrame) -> Any:
        return self.model.predict(self._matrix(frame))

    def predict_proba(self, frame: pd.DataFrame) -> Any:
        return self.model.predict_proba(self._matrix(frame))
