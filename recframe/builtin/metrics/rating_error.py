"""Built-in rating-error metrics: RMSE and MAE of predicted against held-out ratings.

They need the ranker's rating predictions (``needs_predictions``), take no cut-off, and score
the run as a whole; lower is better.
"""

from __future__ import annotations

import numpy as np

from recframe import FloatArray, Metric, MetricConfig, MetricInput


class _PredictionError(Metric):
    """A metric of predicted ratings against held-out ones: of the run, no cut-off, lower is better."""

    per_user = False
    bounds = (0.0, np.inf)
    higher_is_better = False
    needs_predictions = True

    @property
    def label(self) -> str:
        """The bare name: no cut-off applies."""
        return self.name

    def errors(self, data: MetricInput) -> FloatArray:
        """Return ``r̂ - r`` of every held-out rating."""
        assert data.ratings is not None
        return data.ratings.predicted - data.ratings.actual


class RMSEConfig(MetricConfig):
    """Parameters of :class:`RMSE` (``k`` is not used)."""


class RMSE(_PredictionError):
    """RMSE of the predicted ratings over every held-out rating: ``sqrt(mean((r̂ - r)^2))``.

    Predictions come from the ranker's ``predict`` (``item_cf``, ``user_cf``); pairs no
    neighbour can predict get the ranker's fallback (their number is reported as
    ``n_prediction_fallback``).
    """

    name = "rmse"
    Config = RMSEConfig

    def compute(self, data: MetricInput) -> float:
        """Return the root mean squared error."""
        return float(np.sqrt(np.mean(self.errors(data) ** 2)))


class MAEConfig(MetricConfig):
    """Parameters of :class:`MAE` (``k`` is not used)."""


class MAE(_PredictionError):
    """MAE of the predicted ratings over every held-out rating: ``mean(|r̂ - r|)`` (see :class:`RMSE`)."""

    name = "mae"
    Config = MAEConfig

    def compute(self, data: MetricInput) -> float:
        """Return the mean absolute error."""
        return float(np.mean(np.abs(self.errors(data))))
