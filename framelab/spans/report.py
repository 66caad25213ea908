"""``framelab eval`` for span models: span identification and technique classification beside the baselines.

Every figure carries its 95% interval over resamples of the split's articles
(:mod:`framelab.eval.bootstrap`): each article's own SI and TC figures give its
additive credits (overlap shares and span counts), which the bootstrap sums.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from framelab.config import Config
from framelab.eval import plots
from framelab.eval.bootstrap import (
    DEFAULT_RESAMPLES,
    Lead,
    Resamples,
    Tally,
    attach,
    f1_of,
    intervals_of,
    prf,
)
from framelab.eval.classifier import interval_lines
from framelab.eval.result import EvalResult
from framelab.figures import shown
from framelab.models.folder import atomic_folder
from framelab.models.predictor import Predictor
from framelab.spans.analysis import (
    answer_gold_spans,
    article_spans,
    article_tokens,
    gold_from_ids,
    ranked_answers,
    si_scores,
    tc_scores,
)
from framelab.spans.baseline import LexiconTagger, tfidf_technique_answers
from framelab.spans.data import load_span_split
from framelab.splits import TaskData


def _credits(figures: dict) -> list[float]:
    """A figure block's additive credits for :func:`framelab.eval.bootstrap.prf`: its P and R times their counts."""
    n_pred, n_gold = figures["n_pred"], figures["n_gold"]
    return [figures["precision"] * n_pred, n_pred, figures["recall"] * n_gold, n_gold]


def span_identification_with_interval(found: dict, gold: dict, resamples: int = DEFAULT_RESAMPLES) -> dict:
    """SemEval-2020 span identification of ``found`` against ``gold``, with the 95% intervals of its precision,
    recall and F1 over resampled articles (each article's own figures give its credits)."""
    articles = sorted(gold)
    draws = Resamples.draw(articles, resamples)
    credits = np.array([_credits(si_scores({a: found.get(a, [])}, {a: gold[a]})) for a in articles])
    resampled = dict(zip(("precision", "recall", "f1"), prf(draws.totals(credits, articles))))
    return attach(si_scores(found, gold), intervals_of(resampled))


def _article_credits(found: dict, answers: dict, gold: dict, names: list[str]) -> dict[str, np.ndarray]:
    """Each article's SI, label-aware SI and TC credits, overall and per technique, from its own figures."""
    articles, index = sorted(gold), {n: j for j, n in enumerate(names)}
    out = {key: np.zeros((len(articles), 4)) for key in ("si", "labelled", "tc")}
    out |= {key: np.zeros((len(articles), len(names), 4)) for key in ("si_label", "tc_label")}
    for k, aid in enumerate(articles):
        si = si_scores({aid: found.get(aid, [])}, {aid: gold[aid]})
        tc = tc_scores({aid: answers.get(aid, [])}, {aid: gold[aid]})
        out["si"][k], out["labelled"][k], out["tc"][k] = _credits(si), _credits(si["labelled"]), _credits(tc)
        for key, figures in (("si_label", si), ("tc_label", tc)):
            for label, block in figures["per_label"].items():
                out[key][k, index[label]] = _credits(block)
    return out


def _span_intervals(credits: dict, figures: dict, names: list[str], articles: list[str], draws: Resamples) -> dict:
    """The SI and TC figures of one system with their 95% intervals."""

    def block(totals: np.ndarray) -> dict:
        return dict(zip(("precision", "recall", "f1"), prf(totals)))

    def per_label(key: str, shown_labels: dict) -> dict:
        totals = draws.totals(credits[key], articles)
        return {n: block(totals[:, j]) for j, n in enumerate(names) if n in shown_labels}

    si, tc = figures["span_identification"], figures["technique_classification"]
    si_values = block(draws.totals(credits["si"], articles))
    si_values |= {"labelled": block(draws.totals(credits["labelled"], articles))}
    si_values |= {"per_label": per_label("si_label", si["per_label"])}
    tc_values = block(draws.totals(credits["tc"], articles)) | {"per_label": per_label("tc_label", tc["per_label"])}
    return {
        **figures,
        "span_identification": attach(si, intervals_of(si_values)),
        "technique_classification": attach(tc, intervals_of(tc_values)),
    }


def evaluate_spans(
    predictor: Predictor, dataset_dir: Path, split: str, out: Path, *, resamples: int = DEFAULT_RESAMPLES
) -> EvalResult:
    """Score ``split`` with a span model and write ``metrics.json``, ``report.md`` and a per-technique plot.

    Span identification is the SemEval-2020 SI measure over article offsets
    (labels ignored), with label-aware figures per technique; technique
    classification names the technique of every gold span (SemEval-2020 TC).
    Baselines: the phrase lexicon (SI) and TF-IDF on the span text (TC).
    Each figure carries its 95% interval over ``resamples`` resamples of the articles.
    """
    meta = predictor.meta
    data, names = load_span_split(dataset_dir, split, meta.labels)
    train, _ = load_span_split(dataset_dir, "train", meta.labels)
    tokens = predictor.token_probabilities(data.texts)
    found = article_spans(data.article_ids, data.unit_starts, data.texts, tokens, names, meta.thresholds)
    answers = answer_gold_spans(article_tokens(data.article_ids, data.unit_starts, tokens), data.gold, names)
    lexicon = LexiconTagger().fit(train)
    lexicon_found = {aid: lexicon.tag(text) for aid, text in data.article_texts.items()}
    tfidf_answers = tfidf_technique_answers(train, data.gold, data.article_texts, names)
    articles = sorted(data.gold)
    draws = Resamples.draw(articles, resamples)
    metrics = {
        "task": "spans",
        "split": split,
        "model_dir": str(predictor.model_dir),
        "data_dir": str(dataset_dir),
        "n_articles": len(data.gold),
        "n_units": len(data.texts),
        "threshold": meta.thresholds[0] if meta.thresholds else None,
        "bootstrap": draws.describe(),
        "model": {
            "span_identification": si_scores(found, data.gold),
            "technique_classification": tc_scores(answers, data.gold),
        },
        "baseline": {
            "span_identification": si_scores(lexicon_found, data.gold),
            "technique_classification": tc_scores(tfidf_answers, data.gold),
            "lexicon_phrases": len(lexicon.lexicon),
        },
    }
    model_credits = _article_credits(found, answers, data.gold, names)
    metrics["model"] = _span_intervals(model_credits, metrics["model"], names, articles, draws)
    base_credits = _article_credits(lexicon_found, tfidf_answers, data.gold, names)
    metrics["baseline"] = _span_intervals(base_credits, metrics["baseline"], names, articles, draws)
    with atomic_folder(out) as tmp:
        _write(tmp, metrics, names)
    return EvalResult(out, metrics, Lead("span F1", articles, Tally(model_credits["si"], articles, f1_of)))


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
        *interval_lines(metrics["bootstrap"]),
        "",
        "| system | SI precision | SI recall | SI F1 | label-aware span F1 | TC micro-F1 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for title, si, tc in (("framelab model", msi, mtc), ("baseline", bsi, btc)):
        figures = [shown(si, "precision"), shown(si, "recall"), shown(si, "f1"), shown(si["labelled"], "f1")]
        lines.append(f"| {title} | {' | '.join(figures)} | {shown(tc, 'f1')} |")
    lines += [
        "",
        "## Per technique",
        "",
        "| technique | gold spans | model span F1 | lexicon span F1 | model TC F1 | TF-IDF TC F1 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for n, count in zip(names, support):
        f1 = [
            shown(scores["per_label"][n], "f1") if n in scores["per_label"] else "0.000"
            for scores in (msi, bsi, mtc, btc)
        ]
        lines.append(f"| {n} | {count} | {' | '.join(f1)} |")
    lines += ["", "![per-technique span F1](per_label_f1.png)", ""]
    (folder / "report.md").write_text("\n".join(lines), encoding="utf-8")
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")


def card_metrics(dev_metrics: dict, config: Config) -> str:
    """The dev-metrics section of a span tagger's card: span identification and technique classification, per technique."""
    tuned = dev_metrics["at_tuned_threshold"]
    si, tc = tuned["span_identification"], tuned["technique_classification"]
    lines = []
    if "cross_validated" in dev_metrics:
        cv = dev_metrics["cross_validated"]
        f1 = cv["span_f1"]
        how = cv.get("how", "each fold judged at the tag threshold tuned on the other folds' out-of-fold tokens")
        pooled = f"; all folds pooled, {shown(f1, 'pooled')}" if "pooled" in f1 else ""
        lines += [
            f"{cv['folds']}-fold cross-validation by article over the train and dev articles (seed {cv['seed']}); "
            f"{how}. Span identification **F1 {f1['mean']:.3f} ± {f1['std']:.3f}** over folds{pooled}. "
            f"The model was then refit on every article for {dev_metrics['refit']['epochs']:g} epochs. "
            "Below, the out-of-fold tokens of every article:",
            "",
        ]
    lines += [
        f"Dev split at the tuned tag threshold {tuned['threshold']:.2f} (tuned on this same split, so optimistic):",
        "",
        f"- span identification (SemEval-2020 SI, partial credit): P {si['precision']:.3f}, R {si['recall']:.3f}, **F1 {si['f1']:.3f}** "
        f"({si['n_pred']} predicted, {si['n_gold']} gold spans after merging); at 0.5: F1 {dev_metrics['at_0.5']['span_identification']['f1']:.3f}",
        f"- technique classification of the gold spans (SemEval-2020 TC): **micro-F1 {tc['f1']:.3f}** over {tc['n_gold']} spans",
        "",
        "| technique | gold spans | span F1 (same technique) | TC F1 |",
        "|---|---:|---:|---:|",
    ]
    for name, s in si["per_label"].items():
        c = tc["per_label"].get(name, {"f1": 0.0})
        lines.append(f"| {name} | {s['n_gold']} | {s['f1']:.3f} | {c['f1']:.3f} |")
    if "choices" in dev_metrics:
        lines += ["", "Choices made from data:", ""]
        lines += [f"- {c['choice']}: {c['shown']}, {c['made_on']}." for c in dev_metrics["choices"]]
        for fold in dev_metrics["cross_validated"]["per_fold"]:
            lines += [
                f"- fold {fold['fold']}, {name} {fold['choices'][name]['value']:g}: {fold['choices'][name]['made_on']}."
                for name in ("epochs", "threshold")
            ]
    return "\n".join(lines)


def technique_classification_scores(
    probs: np.ndarray, decided: np.ndarray, data: TaskData, names: list[str], *, resamples: Resamples | None = None
) -> dict:
    """``span_techniques``' extra figure: SemEval-2020 TC micro-F1, a span listed k times getting its k most
    probable techniques (with its 95% interval over articles given ``resamples``)."""
    gold = gold_from_ids(data.ids, data.targets, names)
    answers = ranked_answers(data.ids, probs, names)
    figures = tc_scores(answers, gold)
    if resamples is None:
        return {"technique_classification": figures}
    articles = sorted(gold)
    credits = np.array([_credits(tc_scores({a: answers.get(a, [])}, {a: gold[a]})) for a in articles])
    interval = intervals_of(dict(zip(("precision", "recall", "f1"), prf(resamples.totals(credits, articles)))))
    return {"technique_classification": attach(figures, interval)}


def summarize_training(dev_metrics: dict) -> str:
    """Dev span F1 at the tuned threshold and TC micro-F1, as ``framelab train`` prints them."""
    tuned = dev_metrics["at_tuned_threshold"]
    si, tc = tuned["span_identification"], tuned["technique_classification"]
    return f"dev span F1 {si['f1']:.3f} (threshold {tuned['threshold']:.2f}), technique classification micro-F1 {tc['f1']:.3f}; trained in {dev_metrics['train_runtime_seconds']:.0f} s"


def summarize_evaluation(metrics: dict) -> str:
    """Span F1 and TC micro-F1 of the model and the baseline, as ``framelab eval`` prints them."""
    lines = [f"{'':<18}{'span F1 [95% interval]':<26}TC micro-F1 [95% interval]"]
    for title, s in (("model", metrics["model"]), ("baseline", metrics["baseline"])):
        lines.append(
            f"{title:<18}{shown(s['span_identification'], 'f1'):<26}{shown(s['technique_classification'], 'f1')}"
        )
    return "\n".join(lines)
