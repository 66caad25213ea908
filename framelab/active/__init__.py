"""Active learning: which unlabelled articles to annotate next (``framelab select``).

- :mod:`framelab.active.strategies`: the selection rules (uncertainty, diversity, both, random) as one registry,
  on arrays; the CLI and ``bench/active.py`` both pick through :func:`~framelab.active.strategies.select`.
- :mod:`framelab.active.pool`: a pool of articles scored by saved models, turned into what the rules read.
- :mod:`framelab.active.labelstudio`: the Label Studio import file of the articles picked.
"""
