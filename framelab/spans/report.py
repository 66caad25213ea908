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
from framelab.models.card import interval_note
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


def si_credits(found: dict, gold: dict, names: list[str]) -> dict[str, np.ndarray]:
    """Each article's SI and label-aware SI credits, overall and per technique, from its own figures."""
    articles, index = sorted(gold), {n: j for j, n in enumerate(names)}
    out = {key: np.zeros((len(articles), 4)) for key in ("si", "labelled")} | {
        "si_label": np.zeros((len(articles), len(names), 4))
    }
    for k, aid in enumerate(articles):
        si = si_scores({aid: found.get(aid, [])}, {aid: gold[aid]})
        out["si"][k], out["labelled"][k] = _credits(si), _credits(si["labelled"])
        for label, block in si["per_label"].items():
            out["si_label"][k, index[label]] = _credits(block)
    return out


def tc_credits(answers: dict, gold: dict, names: list[str]) -> dict[str, np.ndarray]:
    """Each article's TC credits, overall and per technique, from its own figures."""
    articles, index = sorted(gold), {n: j for j, n in enumerate(names)}
    out = {"tc": np.zeros((len(articles), 4)), "tc_label": np.zeros((len(articles), len(names), 4))}
    for k, aid in enumerate(articles):
        tc = tc_scores({aid: answers.get(aid, [])}, {aid: gold[aid]})
        out["tc"][k] = _credits(tc)
        for label, block in tc["per_label"].items():
            out["tc_label"][k, index[label]] = _credits(block)
    return out


def _block(totals: np.ndarray) -> dict:
    return dict(zip(("precision", "recall", "f1"), prf(totals)))


def _per_label(totals: np.ndarray, names: list[str], shown_labels: dict) -> dict:
    return {n: _block(totals[:, j]) for j, n in enumerate(names) if n in shown_labels}


def si_with_intervals(si: dict, credits: dict, names: list[str], draws: Resamples) -> dict:
    """The SI figures ``si`` (:func:`si_scores` of every article of ``draws``) with their 95% intervals."""
    articles = list(draws.groups)
    values = _block(draws.totals(credits["si"], articles)) | {
        "labelled": _block(draws.totals(credits["labelled"], articles)),
        "per_label": _per_label(draws.totals(credits["si_label"], articles), names, si["per_label"]),
    }
    return attach(si, intervals_of(values))


def tc_with_intervals(tc: dict, credits: dict, names: list[str], draws: Resamples) -> dict:
    """The TC figures ``tc`` (:func:`tc_scores` of every article of ``draws``) with their 95% intervals."""
    articles = list(draws.groups)
    values = _block(draws.totals(credits["tc"], articles)) | {
        "per_label": _per_label(draws.totals(credits["tc_label"], articles), names, tc["per_label"]),
    }
    return attach(tc, intervals_of(values))


def _span_intervals(credits: dict, figures: dict, names: list[str], draws: Resamples) -> dict:
    """The SI and TC figures of one system with their 95% intervals."""
    return {
        **figures,
        "span_identification": si_with_intervals(figures["span_identification"], credits, names, draws),
        "technique_classification": tc_with_intervals(figures["technique_classification"], credits, names, draws),
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
    model_credits = si_credits(found, data.gold, names) | tc_credits(answers, data.gold, names)
    metrics["model"] = _span_intervals(model_credits, metrics["model"], names, draws)
    base_credits = si_credits(lexicon_found, data.gold, names) | tc_credits(tfidf_answers, data.gold, names)
    metrics["baseline"] = _span_intervals(base_credits, metrics["baseline"], names, draws)
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
        f"Task **spans**: {metrics['n_articles']} articles, {metrics['n_units']} units, "
        f"tag threshold {metrics['threshold']}.",
        "Span identification is the SemEval-2020 Task 11 SI measure (partial credit for overlap, labels ignored,",
        "per article over character offsets); technique classification names the technique of every gold span (TC).",
        "Baselines, fitted on the train split: a phrase lexicon for SI, "
        "TF-IDF + logistic regression on the span text for TC.",
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


def _cross_validated_lines(dev_metrics: dict) -> list[str]:
    cv = dev_metrics["cross_validated"]
    f1 = cv["span_f1"]
    how = cv.get("how", "each fold judged at the tag threshold tuned on the other folds' out-of-fold tokens")
    pooled = ""
    if "pooled" in f1:
        si = cv["pooled_span_identification"]
        pooled = (
            f"; every fold's spans pooled, each at its own threshold: **F1 {shown(f1, 'pooled')}** "
            f"(P {shown(si, 'precision')}, R {shown(si, 'recall')})"
        )
    return [
        f"{cv['folds']}-fold cross-validation by article over the train and dev articles (seed {cv['seed']}); "
        f"{how}. Span identification **F1 {f1['mean']:.3f} ± {f1['std']:.3f}** (mean ± std over folds){pooled}. "
        f"The model was then refit on every article for {dev_metrics['refit']['epochs']:g} epochs. Below, the "
        "out-of-fold tokens of every article:",
        "",
    ]


def card_metrics(dev_metrics: dict, config: Config) -> str:
    """The dev-metrics section of a span tagger's card: span identification and technique classification, per
    technique, each figure with its 95% interval over resampled articles where ``dev_metrics.json`` keeps one."""
    tuned = dev_metrics["at_tuned_threshold"]
    si, tc = tuned["span_identification"], tuned["technique_classification"]
    lines = _cross_validated_lines(dev_metrics) if "cross_validated" in dev_metrics else []
    at_half = dev_metrics["at_0.5"]["span_identification"]
    lines += [
        f"Dev split at the tuned tag threshold {tuned['threshold']:.2f} (tuned on this same split, so optimistic):",
        "",
        f"- span identification (SemEval-2020 SI, partial credit): P {shown(si, 'precision')}, "
        f"R {shown(si, 'recall')}, **F1 {shown(si, 'f1')}** ({si['n_pred']} predicted, {si['n_gold']} gold spans "
        f"after merging); at 0.5: F1 {shown(at_half, 'f1')}",
        f"- technique classification of the gold spans (SemEval-2020 TC): **micro-F1 {shown(tc, 'f1')}** over "
        f"{tc['n_gold']} spans",
        "",
        "| technique | gold spans | span F1 (same technique) | TC F1 |",
        "|---|---:|---:|---:|",
    ]
    for name, s in si["per_label"].items():
        c = tc["per_label"].get(name)
        lines.append(f"| {name} | {s['n_gold']} | {shown(s, 'f1')} | {shown(c, 'f1') if c else '0.000'} |")
    if "choices" in dev_metrics:
        lines += ["", "Choices made from data:", ""]
        lines += [f"- {c['choice']}: {c['shown']}, {c['made_on']}." for c in dev_metrics["choices"]]
        for fold in dev_metrics["cross_validated"]["per_fold"]:
            lines += [
                f"- fold {fold['fold']}, {name} {fold['choices'][name]['value']:g}: {fold['choices'][name]['made_on']}."
                for name in ("epochs", "threshold")
            ]
    note = interval_note(dev_metrics)
    return "\n".join(lines) + note


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
    """Dev span F1 at the tuned threshold and TC micro-F1 with their 95% intervals (k-fold: also the cross-validated
    figures), as ``framelab train`` prints them."""
    tuned = dev_metrics["at_tuned_threshold"]
    si, tc = tuned["span_identification"], tuned["technique_classification"]
    tuned_line = (
        f"span F1 {shown(si, 'f1')}, technique classification micro-F1 {shown(tc, 'f1')} (95% intervals); "
        f"trained in {dev_metrics['train_runtime_seconds']:.0f} s"
    )
    if "cross_validated" not in dev_metrics:
        return f"dev at threshold {tuned['threshold']:.2f}: {tuned_line}"
    cv = dev_metrics["cross_validated"]
    pooled = f", pooled {shown(cv['span_f1'], 'pooled')}" if "pooled" in cv["span_f1"] else ""
    return (
        f"{cv['folds']}-fold span F1 {cv['span_f1']['mean']:.3f} ± {cv['span_f1']['std']:.3f}{pooled}; "
        f"out of fold at the saved threshold {tuned['threshold']:.2f}: {tuned_line}"
    )


def summarize_evaluation(metrics: dict) -> str:
    """Span F1 and TC micro-F1 of the model and the baseline, as ``framelab eval`` prints them."""
    lines = [f"{'':<18}{'span F1 [95% interval]':<26}TC micro-F1 [95% interval]"]
    for title, s in (("model", metrics["model"]), ("baseline", metrics["baseline"])):
        lines.append(
            f"{title:<18}{shown(s['span_identification'], 'f1'):<26}{shown(s['technique_classification'], 'f1')}"
        )
    return "\n".join(lines)
