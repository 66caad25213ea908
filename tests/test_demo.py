"""``make demo``'s picture (framelab/demo.py): its techniques model on its held-out article.

The sentences are named by text. The fast test checks that they are what the sample corpus marks in the demo's
article and that the article is held out; the slow one trains the demo's techniques model (about a minute on one
busy core: too slow for the fast suite) and checks that it tags every loaded sentence and no plain one. The
article's two sentences with only other techniques (an appeal to fear, a vague quote) are in neither list: the
model misses them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import framelab
from framelab.config import load_config
from framelab.dataset import build_dataset
from framelab.demo import ARTICLE, CONFIGS, held_out_article
from framelab.splits import load_table
from framelab.train.run import train

from .conftest import SAMPLE

#: The sentences of the demo's article with a Loaded_Language span.
LOADED = (
    "Traders warn of ‘ghost town’ as congestion charge looms",
    "Shopkeepers in Harrowgate Vale have warned that the town centre could become a ghost town if the council "
    "presses ahead with its £9.50 congestion charge.",
    "Several speakers accused the council of riding roughshod over local people and of consulting only after the "
    "decision had, in effect, been made.",
    "“They are killing the town, and they don’t even have the decency to show up.”",
)
#: The sentences of the demo's article with no span: plain reporting (the splitter cuts after "Cllr.").
PLAIN = (
    "At a packed meeting in the Corn Exchange on Thursday, more than 200 traders and residents heard that takings "
    "at some shops had already fallen by 15 per cent since the plans were announced.",
    "“People are scared off before it has even started,” said Mr. Derek Halloran, who runs a shoe shop on the High "
    "Street.",
    "The Harrowgate Chamber of Trade’s own survey found 44 per cent of businesses opposed to the scheme.",
    "Only 38 per cent backed it, and supporters were mostly cafés rather than shops selling bulky goods.",
    "Cllr.",
    "Dana Whitlock, who leads on transport, did not attend the meeting.",
    "Mrs. Joan Pettifer, of Bell Lane, said the mood in the room was one of anger.",
)


def _techniques_config(workdir: Path, *sets: str):
    """The demo's techniques config, its dataset (and model) under ``workdir``."""
    return load_config(CONFIGS[0], [f"data.path={SAMPLE}", f"data.output_dir={workdir / 'dataset'}", *sets])


def test_the_named_sentences_are_the_held_out_articles_gold(tmp_path: Path) -> None:
    config = _techniques_config(tmp_path)
    build_dataset(config)
    assert held_out_article(config.dataset_dir)["id"] == ARTICLE
    assert ARTICLE not in {row["id"] for row in load_table(config.dataset_dir, "articles", "train")}
    units = [u for u in load_table(config.dataset_dir, "units", "dev") if u["article_id"] == ARTICLE]
    assert [u["text"] for u in units if "Loaded_Language" in u["labels"]] == list(LOADED)
    assert [u["text"] for u in units if not u["labels"]] == list(PLAIN)


@pytest.mark.slow
def test_the_demo_model_tags_the_loaded_sentences_and_leaves_plain_ones_alone(tmp_path: Path) -> None:
    config = _techniques_config(tmp_path, f"output_dir={tmp_path / 'model'}")
    build_dataset(config)
    model_dir = train(config).model_dir
    article = held_out_article(config.dataset_dir)
    scored = framelab.load(model_dir).score({"id": article["id"], "text": article["text"]})[0]
    tagged = {u.unit.text for u in scored.units if u.predictions[model_dir.name].labels}
    missed, wrongly_tagged = set(LOADED) - tagged, set(PLAIN) & tagged
    assert (missed, wrongly_tagged) == (set(), set())
