"""``framelab eval`` for span models: span identification and technique classification beside the baselines."""

from __future__ import annotations

import json
from pathlib import Path

from framelab.eval import plots
from framelab.eval.report import EvalResult
from framelab.models.folder import atomic_folder
from framelab.predict import Predictor
from framelab.spans.analysis import answer_gold_spans, article_spans, article_tokens, si_scores, tc_scores
from framelab.spans.baseline import LexiconTagger, tfidf_technique_answers
from framelab.spans.data import load_span_split


def evaluate_spans(predictor: Predictor, dataset_dir: Path, split: str, out: Path) -> EvalResult:
    """Score ``split`` with a span model and write ``metrics.json``, ``report.md`` and a per-technique plot.

    Span identification is the SemEval-2020 SI measure over article offsets
    (labels ignored), with label-aware figures per technique; technique
    classification names the technique of every gold span (SemEval-2020 TC).
    Baselines: the phrase lexicon (SI) and TF-IDF on the span text (TC).
    """
    meta = predictor.meta
    data, names = load_span_split(dataset_dir, split, meta.labels)
    train, _ = load_span_split(dataset_dir, "train", meta.labels)
    tokens = predictor.token_probabilities(data.texts)
    found = article_spans(data.article_ids, data.unit_starts, data.texts, tokens, names, meta.thresholds)
    answers = answer_gold_spans(article_tokens(data.article_ids, data.unit_starts, tokens), data.gold, names)
    lexicon = LexiconTagger().fit(train)
    lexicon_found = {aid: lexicon.tag(text) for aid, text in data.article_texts.items()}
    metrics = {
        "task": "spans",
        "split": split,
        "model_dir": str(predictor.model_dir),
        "data_dir": str(dataset_dir),
        "n_articles": len(data.gold),
        "n_units": len(data.texts),
        "threshold": meta.thresholds[0] if meta.thresholds else None,
        "model": {"span_identification": si_scores(found, data.gold), "technique_classification": tc_scores(answers, data.gold)},
        "baseline": {
            "span_identification": si_scores(lexicon_found, data.gold),
            "technique_classification": tc_scores(tfidf_technique_answers(train, data.gold, data.article_texts, names), data.gold),
            "lexicon_phrases": len(lexicon.lexicon),
        },
    }
    with atomic_folder(out) as tmp:
        _write(tmp, metrics, names)
    return EvalResult(out, metrics)


def _write(folder: Path, metrics: dict, names: list[str]) -> None:
    model, base = metrics["model"], metrics["baseline"]
    msi, mtc = model["span_identification"], model["technique_classification"]
    bsi, btc = base["span_identification"], base["technique_classification"]
    support = [msi["per_label"].get(n, {"n_gold": 0})["n_gold"] for n in names]
    plots.per_label_f1(
        folder / "per_label_f1.png",
        names,
        [msi["per_label"].get(n, {"f1": 0.0})["f1"] for n in names],
        [bsi["per_label"].get(n, {"f1": 0.0})["f1"] for n in names],
        support,
    )
    lines = [
        f"# Evaluation: `{metrics['model_dir']}` on `{metrics['data_dir']}` ({metrics['split']})",
        "",
        f"Task **spans**: {metrics['n_articles']} articles, {metrics['n_units']} units, tag threshold {metrics['threshold']}.",
        "Span identification is the SemEval-2020 Task 11 SI measure (partial credit for overlap, labels ignored,",
        "per article over character offsets); technique classification names the technique of every gold span (TC).",
        "Baselines, fitted on the train split: a phrase lexicon for SI, TF-IDF + logistic regression on the span text for TC.",
        "",
        "| system | SI precision | SI recall | SI F1 | label-aware span F1 | TC micro-F1 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for title, si, tc in (("framelab model", msi, mtc), ("baseline", bsi, btc)):
        lines.append(f"| {title} | {si['precision']:.3f} | {si['recall']:.3f} | {si['f1']:.3f} | {si['labelled']['f1']:.3f} | {tc['f1']:.3f} |")
    lines += ["", "## Per technique", "", "| technique | gold spans | model span F1 | lexicon span F1 | model TC F1 | TF-IDF TC F1 |", "|---|---:|---:|---:|---:|---:|"]
    for n, count in zip(names, support):
        f1 = [f"{scores['per_label'].get(n, {'f1': 0.0})['f1']:.3f}" for scores in (msi, bsi, mtc, btc)]
        lines.append(f"| {n} | {count} | {' | '.join(f1)} |")
    lines += ["", "![per-technique span F1](per_label_f1.png)", ""]
    (folder / "report.md").write_text("\n".join(lines), encoding="utf-8")
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
