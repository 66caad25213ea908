"""The README dataset card written into every dataset folder by ``framelab data``."""

from __future__ import annotations

import yaml
from datasets import ClassLabel, Features, List

from framelab import __version__
from framelab.config import Config

# Hugging Face's size buckets, by number of units (the rows of the folder's own table).
_SIZE_BUCKETS = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))


def _size_category(units: int) -> str:
    return next((name for limit, name in _SIZE_BUCKETS if units < limit), "n>1M")


def card_metadata(config: Config, inventory: dict, stats: dict) -> dict:
    """The card's YAML header: what the Hub and ``huggingface_hub.DatasetCard`` read."""
    units = sum(split["units"] for split in stats["splits"].values())
    task_ids = (["multi-label-classification"] if inventory["techniques"] or inventory["frames"] else []) + (
        ["multi-class-classification"] if inventory["stances"] or inventory["genres"] else []
    )
    tags = ["framelab"] + [
        tag
        for kind, tag in (("techniques", "persuasion-techniques"), ("frames", "framing"), ("stances", "stance"))
        if inventory[kind]
    ]
    return {
        "pretty_name": f"framelab dataset: {config.name}",
        "task_categories": ["text-classification"],
        "task_ids": task_ids,
        "size_categories": [_size_category(units)],
        "tags": tags,
    }


def _labels_line(title: str, names: list[str]) -> str:
    return f"- **{title}** ({len(names)}): " + (", ".join(f"`{n}`" for n in names) if names else "none")


def _type_name(feature) -> str:
    if isinstance(feature, ClassLabel):
        return f"ClassLabel ({len(feature.names)} names)"
    if isinstance(feature, List):
        return f"list of {_type_name(feature.feature)}"
    if isinstance(feature, dict):
        return "{" + ", ".join(f"{key}: {_type_name(f)}" for key, f in feature.items()) + "}"
    return feature.dtype


def _features_table(features: Features) -> str:
    lines = ["| column | type |", "|---|---|"]
    lines.extend(f"| `{name}` | {_type_name(feature)} |" for name, feature in features.items())
    return "\n".join(lines)


def dataset_card(config: Config, inventory: dict, stats: dict, features: dict[str, Features]) -> str:
    """The dataset card: where the text came from, its splits, labels and columns, and how to load it."""
    d = config.data
    splits = list(stats["splits"])
    counts = ["| split | articles | units | units with a label | spans |", "|---|---:|---:|---:|---:|"]
    counts.extend(
        f"| {s} | {stats['splits'][s]['articles']} | {stats['splits'][s]['units']} "
        f"| {stats['splits'][s]['units_with_label']} | {stats['splits'][s]['spans']} |"
        for s in splits
    )
    tables = [
        f"### Units (this folder)\n\n{_features_table(features['units'])}",
        f"### `articles/`\n\n{_features_table(features['articles'])}",
    ]
    if "pairs" in stats["splits"][splits[0]]:
        tables.append(f"### `pairs/`\n\n{_features_table(features['pairs'])}")
    front = yaml.safe_dump(card_metadata(config, inventory, stats), sort_keys=False, allow_unicode=True)
    held_out = " / ".join(splits[1:]) or "no held-out split"
    line_labels = " or, for lines, the corpus's own line labels" if d.unit == "line" else ""
    return f"""---
{front}---

# {config.name}

Built by framelab {__version__} (`framelab data`) from a `{d.format}` corpus at `{d.path}`, cut into
{d.unit}s. The text is the corpus's own: this folder carries its licence and terms of use, so share it
only where they allow.

## Loading

```python
from datasets import load_from_disk

units = load_from_disk("{config.dataset_dir}")             # one row per {d.unit}: train / {held_out}
articles = load_from_disk("{config.dataset_dir}/articles")  # one row per article
names = units["{splits[0]}"].features["labels"].feature.names
```

Label columns are `ClassLabel` features: integers in the table, names in `features`.

## Splits

Drawn by article (seed {d.seed}, dev fraction {d.dev_fraction}, test fraction {d.test_fraction}): no
article has units in two splits.

{chr(10).join(counts)}

## Labels

{_labels_line("techniques", inventory["techniques"])}
{_labels_line("frames", inventory["frames"])}
{_labels_line("genres", inventory["genres"])}
{_labels_line("stances", inventory["stances"])}

Unit labels are the technique spans projected onto the units (a span labels a unit it shares at least
{d.min_overlap_chars} character(s) and {d.min_overlap_fraction:.0%} of its length with){line_labels}.
A unit's `start`/`end` are character offsets into its article's `text` (`text[start:end]` is the
unit); a unit's spans are offsets into the unit's own text, an article's spans into the article's.

## Columns

{(chr(10) * 2).join(tables)}

`stats.json` holds the counts per label and split and every data problem met; `data_config.json`
the settings the folder was built from.
"""
