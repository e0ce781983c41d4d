"""Offline evaluation: matching ranked lists against held-out interactions."""

from recframe.evaluation.protocol import HeldOut, held_out, metric_input

__all__ = ["HeldOut", "held_out", "metric_input"]
