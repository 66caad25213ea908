"""What a technique classifier sees of a given span: the span's text, then the text around it.

The span goes in as the first segment and its surroundings as the second, so
the encoder can compare the phrase with its context (whether "they" is a
straw man or a name depends on the sentence around it). The context reaches
``CONTEXT_CHARS`` characters to each side, widened to whole words.
"""

from __future__ import annotations

#: Characters of surrounding text on each side of a span.
CONTEXT_CHARS = 150


def span_with_context(text: str, start: int, end: int) -> tuple[str, str]:
    """``(span text, context)`` for ``text[start:end]``."""
    left = max(0, start - CONTEXT_CHARS)
    while left > 0 and not text[left - 1].isspace():
        left -= 1
    right = min(len(text), end + CONTEXT_CHARS)
    while right < len(text) and not text[right].isspace():
        right += 1
    return text[start:end], text[left:right]
