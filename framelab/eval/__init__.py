"""Evaluation: metric figures, the TF-IDF baseline, and report folders."""
