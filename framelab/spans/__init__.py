"""The span tasks: technique spans tagged per token (``spans``) and the technique of a given span
(``span_techniques``); records in :mod:`framelab.spans.tasks`."""
