"""``make demo``: the whole workflow on the shipped sample corpus.

Builds the sample dataset, trains a techniques model and a frames model with
the default base model, evaluates both beside the TF-IDF baseline, scores one
held-out sample article to JSONL and HTML, and prints where everything lies.

The techniques model is ``configs/demo-techniques.yaml``: fine-tuned whole, as
``configs/sample-techniques.yaml`` has it, the model learns only the label
rates of the 551 training sentences (on sample-003, the plain news report the
demo used to score, every sentence got Loaded_Language 0.43-0.46 and the tuned
threshold of 0.45 tagged 6 of its 12); with the embeddings and the lowest five
layers frozen (their outputs computed once: :mod:`framelab.train.frozen`), the
top layer and the head trained at a higher rate, and only the labels of 15 or
more training sentences, it tells loaded sentences from plain ones and trains in
a quarter of the time.

The scored article, :data:`ARTICLE`, is a news report from the dev split (never
trained on) that quotes loaded language between plain reporting;
``tests/test_demo.py`` pins what the model tags there.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from framelab.config import load_config
from framelab.dataset import build_dataset, stats_table
from framelab.errors import ConfigError
from framelab.eval.report import evaluate_model
from framelab.score.scorer import score
from framelab.splits import load_table
from framelab.train.run import train

CONFIGS = ("configs/demo-techniques.yaml", "configs/sample-frames.yaml")
#: The held-out article the demo scores: a news report with quoted loaded language, in the dev split.
ARTICLE = "sample-031"
OUT = Path("outputs/demo")


def held_out_article(dataset_dir: Path) -> dict:
    """:data:`ARTICLE`'s row of the dataset's dev split; an error if the split holds it elsewhere."""
    for article in load_table(dataset_dir, "articles", "dev"):
        if article["id"] == ARTICLE:
            return article
    raise ConfigError(f"{ARTICLE} is not in the dev split of {dataset_dir}: the demo scores a held-out article")


def run_demo() -> dict[str, str]:
    """Run every stage and return the outputs by name."""
    started = time.perf_counter()
    outputs: dict[str, str] = {}
    configs = [load_config(path) for path in CONFIGS]
    dataset = build_dataset(configs[0], force=True)
    print(stats_table(dataset.stats))
    outputs["dataset"] = str(dataset.path)
    for config in configs:
        print(f"\n== training {config.name} ({config.train.task}) ==")
        result = train(config)
        outputs[f"model: {config.train.task}"] = str(result.model_dir)
        report = evaluate_model(result.model_dir, config.dataset_dir, "dev")
        outputs[f"report: {config.train.task}"] = f"{report.report_dir}/report.md"
        m, b = report.metrics["model"], report.metrics["baseline"]
        print(
            f"{config.train.task} on dev: model micro-F1 {m['micro']['f1']:.3f} / macro-F1 {m['macro']['f1']:.3f};"
            f" TF-IDF baseline micro-F1 {b['micro']['f1']:.3f} / macro-F1 {b['macro']['f1']:.3f}"
        )

    article = held_out_article(configs[0].dataset_dir)
    OUT.mkdir(parents=True, exist_ok=True)
    article_path = OUT / f"{article['id']}.txt"
    article_path.write_text(article["text"], encoding="utf-8")
    models = [configs[0].model_dir, configs[1].model_dir]
    for fmt, name in (("jsonl", "predictions.jsonl"), ("html", "predictions.html")):
        summary = score(models, [article_path], fmt=fmt, out=OUT / name, progress=False)
        outputs[f"scored article ({fmt})"] = summary.outputs[0]
    outputs["scored article (input)"] = str(article_path)
    print(f"\n== demo finished in {time.perf_counter() - started:.0f} s; outputs ==")
    for name, path in outputs.items():
        print(f"  {name:<26} {path}")
    (OUT / "outputs.json").write_text(json.dumps(outputs, indent=2), encoding="utf-8")
    return outputs


if __name__ == "__main__":
    run_demo()
