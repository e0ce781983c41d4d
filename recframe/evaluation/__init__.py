"""Offline evaluation: matching ranked lists against held-out interactions."""

from recframe.evaluation.protocol import hits_against, relevant_counts

__all__ = ["hits_against", "relevant_counts"]
