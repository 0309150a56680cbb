"""Synthetic families with known ground truth: associative-memory Potts sequences and linear factors."""
