"""Keeping transformers' stock token-classification pipeline away from a span tagger.

A span tagger has two independent sigmoid channels per technique (``B-`` and
``I-``, :mod:`framelab.tagging`) and no ``O`` tag, so the stock pipeline's
soft-max over all channels would give every token some technique. The model
folder therefore declares its own ``token-classification`` pipeline in
``config.json`` (``custom_pipelines``), which makes ``pipeline(...)`` stop: without
``trust_remote_code`` transformers refuses to run it, and with it the declared
class (a small file in the folder) raises an error that says what to use instead.
"""

from __future__ import annotations

MODULE_FILE = "framelab_span_tagger.py"

#: ``config.custom_pipelines`` of every span tagger.
CUSTOM_PIPELINES = {
    "token-classification": {
        "impl": "framelab_span_tagger.FramelabSpanTagger",
        "pt": ["AutoModelForTokenClassification"],
        "tf": [],
        "type": "text",
    }
}

MESSAGE = (
    "this is a framelab span tagger: each technique has its own independent B-/I- sigmoid channels and no O tag, "
    "which transformers' token-classification pipeline cannot read (it would give every token a technique). "
    "Score it with framelab: framelab.load(folder).score(text), or `framelab score --model <folder> <article.txt>`."
)

_MODULE_TEXT = f'''"""Written by framelab: stops transformers' token-classification pipeline from mislabelling \
this span tagger."""

from transformers import TokenClassificationPipeline


class FramelabSpanTagger(TokenClassificationPipeline):
    """Declared in config.json (custom_pipelines) so that pipeline(...) fails with the reason instead of \
labelling every token."""

    def __init__(self, *args, **kwargs):
        raise ValueError({MESSAGE!r})
'''


def declare(model) -> None:
    """Mark a span tagger's config so that the stock pipeline refuses it."""
    model.config.custom_pipelines = CUSTOM_PIPELINES


def module_file() -> dict[str, str]:
    """The file the model folder carries for the declared pipeline class: name → text."""
    return {MODULE_FILE: _MODULE_TEXT}
