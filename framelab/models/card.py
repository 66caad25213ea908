"""The README model card written into every model folder.

Figures show their 95% interval in brackets wherever ``dev_metrics.json`` keeps one beside them
(:mod:`framelab.figures`), with a warning line when the dev split has fewer than 100 articles.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from framelab import __version__
from framelab.config import Config
from framelab.figures import interval_of, shown, with_interval
from framelab.models.folder import ModelMeta
from framelab.models.provenance import APACHE_LINK, BaseSource, CorpusSource, base_line, base_source, corpus_source
from framelab.models.stock import MODULE_FILE, THRESHOLDS_KEY, refusal_reason
from framelab.tasks import get_task


def _row(name: str, scores: dict) -> str:
    figures = " | ".join(shown(scores, key) for key in ("precision", "recall", "f1"))
    return f"| {name} | {figures} | {scores.get('support', '')} |"


def metrics_table(scores: dict) -> str:
    """A markdown table of micro, macro, 'any' and per-label figures (with 95% intervals where kept)."""
    lines = ["| | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
    lines.append(_row("**micro**", scores["micro"]))
    lines.append(_row("**macro**", scores["macro"]))
    if "any" in scores:
        lines.append(_row("**any label**", scores["any"]))
    for name, s in scores["per_label"].items():
        lines.append(_row(name, s))
    return "\n".join(lines)


def interval_note(dev_metrics: dict) -> str:
    """How the card's bracketed intervals were drawn, and the warning of a dev split with few articles."""
    boot = dev_metrics.get("bootstrap")
    if boot is None:
        return ""
    note = (
        f"\n\nIn brackets: 95% intervals, percentile bootstrap over the {boot['n_groups']} {boot['groups']} "
        f"({boot['resamples']} resamples)."
    )
    return note + (f"\n\n> **Warning**: {boot['warning']}." if "warning" in boot else "")


def classifier_metrics(dev_metrics: dict, config: Config) -> str:
    """The dev-metrics section of a sequence classifier's card: cross-validated figures (k-fold), tuned and 0.5
    thresholds (multi-label) or arg-max."""
    if "cross_validated" in dev_metrics:
        return _cross_validated(dev_metrics) + interval_note(dev_metrics)
    if "argmax" in dev_metrics:
        argmax = dev_metrics["argmax"]
        return (
            f"Dev split, arg-max (accuracy {shown(argmax, 'accuracy')}):\n\n"
            + metrics_table(argmax)
            + interval_note(dev_metrics)
        )
    at_half = dev_metrics["at_0.5"]
    table = (
        f"Dev split, thresholds tuned on this same split ({config.train.threshold_rule.replace('_', '-')} rule), "
        "so optimistic:\n\n"
        + metrics_table(dev_metrics["at_tuned_thresholds"])
        + f"\n\nDev split at a 0.5 threshold: micro-F1 {shown(at_half['micro'], 'f1')}, "
        + f"macro-F1 {shown(at_half['macro'], 'f1')}."
    )
    if "fine_tuned_alone_at_0.5" in dev_metrics:
        table += (
            " The fine-tuned model alone, at 0.5: "
            f"micro-F1 {dev_metrics['fine_tuned_alone_at_0.5']['micro']['f1']:.3f}."
        )
    return table + interval_note(dev_metrics)


def _pooled(figure: dict) -> str:
    """The pooled out-of-fold figure with its 95% interval, when the fold summary keeps one."""
    return with_interval(figure["pooled"], interval_of(figure, "pooled")) if "pooled" in figure else "–"


def _cross_validated(dev_metrics: dict) -> str:
    cv = dev_metrics["cross_validated"]
    lines = [
        f"{cv['folds']}-fold cross-validation by article over the train and dev articles (seed {cv['seed']}); "
        f"{cv.get('how', 'each fold decided at thresholds tuned on the other folds')}. Mean ± std over folds, and the "
        "figure of every fold's decisions pooled, with its 95% interval over resampled articles:",
        "",
        "| measure | mean | std | pooled [95% interval] |",
        "|---|---:|---:|---:|",
    ]
    for name in ("micro_f1", "macro_f1", "any_f1"):
        if name in cv:
            f = cv[name]
            lines.append(f"| {name.replace('_', '-')} | {f['mean']:.3f} | {f['std']:.3f} | {_pooled(f)} |")
    per_example = cv["labels_per_example"]
    lines += [
        "",
        f"Labels per example: {per_example['predicted']:.3f} predicted, {per_example['gold']:.3f} gold. "
        f"The saved model is refit on all {dev_metrics['refit']['examples']} examples "
        f"for {dev_metrics['refit']['epochs']:g} epochs "
        "(the median best epoch of the folds), with thresholds tuned on every out-of-fold prediction.",
        "",
        "| label | F1 mean | F1 std | pooled F1 [95% interval] |",
        "|---|---:|---:|---:|",
        *(f"| {n} | {f['mean']:.3f} | {f['std']:.3f} | {_pooled(f)} |" for n, f in cv["per_label_f1"].items()),
        *_choice_lines(dev_metrics),
    ]
    return "\n".join(lines)


def _choice_lines(dev_metrics: dict) -> list[str]:
    """The refit's choices from data and each fold's, with the data each was made on (k-fold runs that list them)."""
    if "choices" not in dev_metrics:
        return []
    lines = ["", "Choices made from data:", ""]
    lines += [f"- {c['choice']}: {c['shown']}, {c['made_on']}." for c in dev_metrics["choices"]]
    for fold in dev_metrics["cross_validated"]["per_fold"]:
        made = {name: c for name, c in fold.get("choices", {}).items() if isinstance(c, dict)}
        lines += [f"- fold {fold['fold']}, {name}{_value(c['value'])}: {c['made_on']}." for name, c in made.items()]
    return lines


def _value(value) -> str:
    """A chosen number as the card shows it after the choice's name; nothing for a table of values."""
    return f" {value:g}" if isinstance(value, (int, float)) else ""


def _task_line(meta: ModelMeta) -> str:
    if get_task(meta.task).head == "token":
        return (
            f"B/I tags per technique on {meta.unit} units, windows of {meta.max_length} tokens "
            f"with stride {meta.stride}"
        )
    kind = "multi-label" if meta.multi_label else "single-label"
    if meta.article_level:
        return (
            f"{kind}, article level, windows of {meta.max_length} tokens with stride {meta.stride}, "
            f"{meta.pooling}-pooled"
        )
    return f"{kind}, {meta.unit} units, up to {meta.max_length} tokens"


def _blend_line(meta: ModelMeta) -> str:
    if not meta.lexical_weight:
        return ""
    w = meta.lexical_weight
    return (
        f"- **Probabilities**: {1 - w:g} × the fine-tuned model + {w:g} × a TF-IDF + logistic-regression model "
        "fitted on the same train split (`lexical.json`, `lexical.safetensors`); the thresholds apply to the blend\n"
    )


def _stance_metrics(dev_metrics: dict) -> list[dict]:
    """FNC-1's relative score and macro-F1: out of fold (their mean over folds) or on the dev split."""
    if "cross_validated" in dev_metrics:
        cv = dev_metrics["cross_validated"]
        where, relative, macro = (
            f"{cv['folds']}-fold cross-validated",
            cv["fnc_relative"]["mean"],
            cv["macro_f1"]["mean"],
        )
    else:
        st = dev_metrics["stance"]
        where, relative, macro = "dev", st["fnc_relative"], st["macro_f1"]
    return [
        {"type": "fnc1_relative_score", "name": f"{where} FNC-1 relative score", "value": round(relative, 4)},
        {"type": "f1", "name": f"{where} macro-F1 (agree, disagree, discuss, unrelated)", "value": round(macro, 4)},
    ]


def headline_metrics(dev_metrics: dict) -> list[dict]:
    """The figures a card's metadata reports, as model-index metric entries (type, name, value)."""
    if "stance" in dev_metrics and "fnc_relative" in dev_metrics["stance"]:
        return _stance_metrics(dev_metrics)
    if "cross_validated" in dev_metrics and "span_f1" in dev_metrics["cross_validated"]:
        cv = dev_metrics["cross_validated"]
        return [
            {
                "type": "f1",
                "name": f"{cv['folds']}-fold cross-validated span-identification F1 (SemEval-2020 SI)",
                "value": round(cv["span_f1"]["mean"], 4),
            }
        ]
    if "cross_validated" in dev_metrics:
        cv = dev_metrics["cross_validated"]
        return [
            {
                "type": "f1",
                "name": f"{cv['folds']}-fold cross-validated micro-F1",
                "value": round(cv["micro_f1"]["mean"], 4),
            },
            {
                "type": "f1",
                "name": f"{cv['folds']}-fold cross-validated macro-F1",
                "value": round(cv["macro_f1"]["mean"], 4),
            },
        ]
    if "at_tuned_thresholds" in dev_metrics:
        tuned = dev_metrics["at_tuned_thresholds"]
        return [
            {"type": "f1", "name": "dev micro-F1 (thresholds tuned on dev)", "value": round(tuned["micro"]["f1"], 4)},
            {"type": "f1", "name": "dev macro-F1 (thresholds tuned on dev)", "value": round(tuned["macro"]["f1"], 4)},
        ]
    if "argmax" in dev_metrics:
        top = dev_metrics["argmax"]
        return [
            {"type": "accuracy", "name": "dev accuracy", "value": round(top["accuracy"], 4)},
            {"type": "f1", "name": "dev macro-F1", "value": round(top["macro"]["f1"], 4)},
        ]
    if "at_tuned_threshold" in dev_metrics:
        si = dev_metrics["at_tuned_threshold"]["span_identification"]
        return [{"type": "f1", "name": "dev span-identification F1 (SemEval-2020 SI)", "value": round(si["f1"], 4)}]
    return []


#: Stands for the Hub id in a card until ``framelab push --repo ID`` writes the id in its place.
HUB_ID = "<hub-id>"
#: The licence file a card's ``license_link`` points at (``license: other``), written beside ``README.md``.
LICENSE_FILE = "LICENSE.md"
#: ``license_name`` of ``license: other``: the base model's licence, and the training corpus's own terms.
LICENSE_NAME = "base-model-license-and-corpus-terms"


@dataclass(frozen=True)
class Provenance:
    """What a card says of where its model comes from: the base encoders, the corpus and the chosen licence."""

    bases: list[BaseSource]
    corpus: CorpusSource
    data_format: str
    #: ``model.license``: a Hub licence id, or ``other`` for :data:`LICENSE_NAME` explained in :data:`LICENSE_FILE`.
    license: str

    @classmethod
    def of(cls, bases: list[str], data_format: str, data_path: str, license: str) -> Provenance:
        """The provenance of a model fine-tuned from ``bases`` (``model.base`` values) on a ``data_format`` corpus."""
        return cls(
            [base_source(b) for b in dict.fromkeys(bases)], corpus_source(data_format, data_path), data_format, license
        )

    @property
    def hub_ids(self) -> list[str]:
        """The upstream Hub ids of the bases that have one."""
        return [b.hub_id for b in self.bases if b.hub_id]


def license_fields(provenance: Provenance) -> dict:
    """The card's licence metadata: the id ``model.license`` names, or ``other`` with its name and link."""
    if provenance.license != "other":
        return {"license": provenance.license}
    return {"license": "other", "license_name": LICENSE_NAME, "license_link": LICENSE_FILE}


def _base_licence(base: BaseSource) -> str:
    """One base encoder and its licence, as the licence section names them."""
    if base.hub_id is None:
        return f"the local encoder `{base.given}`, under whatever terms it came with"
    if base.license == "apache-2.0":
        return f"`{base.hub_id}`, released under Apache-2.0 ({APACHE_LINK})"
    return f"`{base.hub_id}`, under the licence its own card states (https://huggingface.co/{base.hub_id})"


def license_text(provenance: Provenance) -> str:
    """The licence section (and ``LICENSE.md``): the base's licence, and the corpus's terms, never relicensed."""
    bases = "; ".join(map(_base_licence, provenance.bases))
    corpus = provenance.corpus
    where = f" ({corpus.link})" if corpus.link else ""
    chosen = (
        f"The card's metadata says `{provenance.license}`, as `model.license` set it."
        if provenance.license != "other"
        else f"The card's metadata says `license: other` (`{LICENSE_NAME}`) for these two parts."
    )
    terms = (
        "The corpus is third-party data under its own terms, which are not restated or relicensed here: read them "
        "at its source"
        if corpus.link
        else "Its terms are set by whoever holds it, and this card does not know or restate them: check them"
    )
    return (
        f"The weights are fine-tuned from {bases}; that licence applies to them as a derivative.\n\n"
        f"They were trained on {corpus.name}{where}. {terms} before you use or redistribute this model. "
        f"{chosen}\n"
    )


def card_metadata(meta: ModelMeta, dev_metrics: dict, name: str, provenance: Provenance) -> dict:
    """The card's YAML front matter, as the Hugging Face Hub reads it (``huggingface_hub.ModelCard``)."""
    task = get_task(meta.task)
    return hub_metadata(
        provenance,
        name=name,
        task_name=meta.task,
        pipeline="token-classification" if task.head == "token" else "text-classification",
        metrics=headline_metrics(dev_metrics),
        library="transformers" if task.predictor is None else None,
        split="train and dev, out of fold" if "cross_validated" in dev_metrics else "dev",
    )


def hub_metadata(
    provenance: Provenance,
    *,
    name: str,
    task_name: str,
    pipeline: str,
    metrics: list[dict],
    library: str | None,
    split: str,
) -> dict:
    """Front matter of any framelab card: base model ids, licence, corpus, and the headline ``metrics``.

    ``library`` is ``transformers`` where transformers alone loads the whole model; the corpus is named in
    ``model-index`` (no Hub dataset id is claimed for it).
    """
    ids = provenance.hub_ids
    data = {
        **({"library_name": library} if library else {}),
        "pipeline_tag": pipeline,
        **({"base_model": ids[0] if len(ids) == 1 else ids} if ids else {}),
        **license_fields(provenance),
        "language": ["en"],
        "tags": ["framelab", task_name],
        "metrics": sorted({m["type"] for m in metrics}),
        "model-index": [
            {
                "name": name,
                "results": [
                    {
                        "task": {"type": pipeline, "name": task_name},
                        "dataset": {"name": provenance.corpus.name, "type": provenance.data_format, "split": split},
                        "metrics": metrics,
                    }
                ],
            }
        ],
    }
    return data


def provenance_sections(provenance: Provenance) -> str:
    """The card's base model, licence and citation sections."""
    bases = "\n".join(f"- {base_line(b)}" for b in provenance.bases)
    papers = [b.citation for b in provenance.bases if b.citation] + (
        [provenance.corpus.citation] if provenance.corpus.citation else []
    )
    cite = "\n".join(f"- {p}" for p in dict.fromkeys(papers))
    return f"""## Base model

{bases}

## Licence

{license_text(provenance)}
## Citation

```bibtex
@software{{framelab,
  title = {{framelab: framing, persuasion-technique and stance classifiers for news}},
  version = {{{__version__}}},
  note = {{model card: this repository}}
}}
```
{"" if not cite else chr(10) + "Please also cite what it is built on:" + chr(10) + chr(10) + cite + chr(10)}"""


def stock_pipeline_section(meta: ModelMeta, model_dir: Path) -> str:
    """What the card says of transformers' stock pipeline: how it gives framelab's labels, or why it refuses."""
    reason = refusal_reason(meta)
    if reason is not None:
        return (
            f"transformers' stock pipeline refuses this folder, since it would give other answers than framelab: "
            f"{reason}. Without `trust_remote_code` it stops there; with it, `{MODULE_FILE}` (declared in "
            "`config.json`) raises that reason. Score it with framelab, as above."
            + (f" `config.json` holds the thresholds too (`{THRESHOLDS_KEY}`)." if meta.thresholds else "")
        )
    call = f'pipeline("text-classification", model="{model_dir}", truncation=True, max_length={meta.max_length}'
    if not meta.multi_label:
        return (
            f"transformers' stock pipeline gives framelab's label of each {meta.unit}, cut as framelab cuts the "
            f"article (`framelab.units.split_units`): `{call})(texts)`."
        )
    return f"""transformers' stock pipeline gives framelab's labels of each {meta.unit}, given the {meta.unit}s as
framelab cuts the article (`framelab.units.split_units`) and the thresholds `config.json` holds too
(`{THRESHOLDS_KEY}`):

```python
from transformers import AutoConfig, pipeline

thresholds = AutoConfig.from_pretrained("{model_dir}").{THRESHOLDS_KEY}
classify = {call}, top_k=None)
labels = [[s["label"] for s in scores if s["score"] >= thresholds[s["label"]]] for scores in classify(texts)]
```"""


_USE = """## Intended use

Research on how news is written: measuring framing, persuasion techniques and stance across many
articles, and pointing an analyst at passages worth reading. Scores are probabilities from a model trained
on a small annotated corpus; they support human judgement and aggregate statistics.

## Limitations

- Not a fact checker and not a verdict on an article or its author: a persuasion technique is a way of
  writing, found in honest and dishonest texts alike.
- Trained on {data}; quality drops on other outlets, topics, periods and languages (our own dev split
  overstates it: see the dev figures below and docs/benchmarks.md).
- Rare labels are learnt from a handful of examples; their predictions are the least reliable.
- The decision thresholds were tuned on the dev split (or out of fold); the probabilities keep their
  ranking under any threshold you choose instead.

## Training data

{data_line}
"""


_TRANSFORMERS = """

With transformers alone, on the units framelab would cut ({unit}s), this gives framelab's probabilities and
labels:

```python
import json

import torch
from huggingface_hub import snapshot_download
from transformers import AutoModelForSequenceClassification, AutoTokenizer

folder = snapshot_download("{hub_id}")
meta = json.load(open(f"{{folder}}/framelab.json", encoding="utf-8"))
tokenizer = AutoTokenizer.from_pretrained(folder)
model = AutoModelForSequenceClassification.from_pretrained(folder, use_safetensors=True).eval()
units = ["First {unit} of an article.", "Another {unit}."]
batch = tokenizer(units, truncation=True, max_length=meta["max_length"], padding=True, return_tensors="pt")
with torch.inference_mode():
    logits = model(**batch).logits
{decide}
labels = [[meta["labels"][j] for j in row.nonzero().flatten().tolist()] for row in decided]
```"""

_SIGMOID = """probs = torch.sigmoid(logits)
decided = probs >= torch.tensor(meta["thresholds"])"""

_SOFTMAX = """probs = torch.softmax(logits, dim=-1)
decided = torch.nn.functional.one_hot(probs.argmax(dim=-1), probs.shape[-1])"""


def _why_not_transformers(meta: ModelMeta) -> str:
    """Why transformers alone would not give this model's answers, or "" when it does."""
    task = get_task(meta.task)
    if task.predictor is not None:
        return "its head is not a transformers head (framelab.json names the parts framelab joins)"
    if task.head == "token":
        return "its B-/I- channels are independent sigmoids with no O tag, decoded into spans by framelab"
    if task.level == "span":
        return "it reads (span, context) pairs that framelab cuts around each given span"
    if meta.article_level:
        return f"an article is cut into windows whose logits framelab pools ({meta.pooling})"
    if meta.lexical_weight:
        return "its probabilities average in a TF-IDF model that transformers does not load"
    return ""


def usage_section(meta: ModelMeta, hub_id: str = HUB_ID) -> str:
    """How to use the pushed model: with framelab (always its answers), and with transformers alone where that
    gives the same answers (a unit classifier without a TF-IDF blend)."""
    target = ', "target": "The headline"' if get_task(meta.task).has_target else ""
    text = f"""## How to use

```python
import framelab
from huggingface_hub import snapshot_download

model = framelab.load(snapshot_download("{hub_id}"))
print(model.score([{{"text": "An article to score."{target}}}]).to_pandas())
```"""
    why = _why_not_transformers(meta)
    if why:
        return text + f"\n\nTransformers alone does not give framelab's answers here: {why}.\n"
    decide = _SIGMOID if meta.multi_label else _SOFTMAX
    return text + _TRANSFORMERS.format(hub_id=hub_id, unit=meta.unit, decide=decide) + "\n"


def write_model_card(folder: Path, meta: ModelMeta, config: Config, dev_metrics: dict) -> None:
    """Write ``README.md``: metadata for the Hub, intended use and limitations, data, labels, dev metrics and how to
    score."""
    stats_path = Path(meta.extra.get("dataset", "")) / "stats.json"
    data_line = f"`{config.data.format}` corpus `{config.data.path}`, {meta.unit} units"
    if stats_path.is_file():
        stats = json.loads(stats_path.read_text(encoding="utf-8"))
        counts = ", ".join(f"{s}: {v['articles']} articles / {v['units']} units" for s, v in stats["splits"].items())
        data_line += f" ({counts}; split by article, seed {config.data.seed})"
    table = get_task(meta.task).card_metrics(dev_metrics, config)
    thresholds = ""
    if meta.thresholds:
        thresholds = "\n".join(f"| {n} | {t:.2f} |" for n, t in zip(meta.labels, meta.thresholds))
        thresholds = "\n## Decision thresholds\n\n| label | threshold |\n|---|---:|\n" + thresholds + "\n"
    name = folder.name if not folder.name.startswith(".") else config.model_dir.name
    provenance = Provenance.of([meta.base_model], config.data.format, config.data.path, config.model.license)
    front = yaml.safe_dump(card_metadata(meta, dev_metrics, name, provenance), sort_keys=False, allow_unicode=True)
    training = (
        f"{config.train.epochs:g} epochs, batch {config.train.batch_size}, "
        f"learning rate {config.train.learning_rate:g}, rare labels: {config.train.rare_labels}, "
        f"seed {config.train.seed}; {dev_metrics.get('train_runtime_seconds', '?')} s"
    )
    text = f"""---
{front}---

# {name}: framelab `{meta.task}` model

Fine-tuned from {_base_names(provenance)} by framelab {meta.framelab_version} on {provenance.corpus.name}.

- **Task**: {meta.task} ({_task_line(meta)})
- **Data**: {data_line}
- **Labels** ({len(meta.labels)}): {", ".join(meta.labels)}
{_blend_line(meta)}- **Training**: {training}

{_USE.format(data=f"`{config.data.path}` ({config.data.format})", data_line=data_line)}
## Dev metrics

{table}
{thresholds}
## How to score

```bash
framelab score --model {config.model_dir} --format jsonl --out predictions.jsonl article.txt
framelab eval --model {config.model_dir} --data {config.dataset_dir} --split dev
```

Everything scoring needs is in this folder: weights (`model.safetensors`), tokenizer, `config.json`
(id2label), `framelab.json` (task, unit, labels, thresholds, window settings), `training_config.yaml`
and `dev_metrics.json`{", plus the TF-IDF model it averages in" if meta.lexical_weight else ""}.

*How to use* below scores it from Python: with framelab, or with transformers alone where that gives the
same answers.

{usage_section(meta)}

{stock_pipeline_section(meta, config.model_dir)}
{provenance_sections(provenance)}"""
    (folder / "README.md").write_text(text, encoding="utf-8")
    (folder / LICENSE_FILE).write_text(f"# Licence\n\n{license_text(provenance)}", encoding="utf-8")


def _base_names(provenance: Provenance) -> str:
    """The base encoders as the card's first line names them: Hub ids, else the folder given."""
    return " + ".join(f"`{b.hub_id or b.given}`" for b in provenance.bases)
