"""The sequence-classification tasks: techniques, frames, genre and stance (see
:mod:`framelab.classification.tasks`)."""
