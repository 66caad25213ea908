"""framelab: framing, persuasion-technique and stance classifiers for news."""

__version__ = "0.1.0"
