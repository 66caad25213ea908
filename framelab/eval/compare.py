"""``framelab eval --compare A B``: two models of one task on the same split, and whether their difference is noise.

Each model is evaluated as ``framelab eval`` would (its task's report), and the
figure that report leads with (micro-F1 for the shared classifier report, the
FNC-1 relative score, span F1) is compared example by example: a paired
bootstrap over the split's articles scores both models on the same resamples,
so that what both get right or wrong together cancels out of A − B
(:func:`framelab.eval.bootstrap.paired_bootstrap`). When the difference's 95%
interval holds 0, the split cannot tell the two models apart.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from framelab.errors import ConfigError
from framelab.eval.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, PairedDifference, Resamples, paired_bootstrap
from framelab.eval.result import EvalResult
from framelab.figures import with_interval
from framelab.models.ensemble import load_model
from framelab.models.folder import atomic_folder
from framelab.models.predictor import inference_progress
from framelab.output import claim
from framelab.tasks import get_task


@dataclass
class Comparison:
    """Two models' lead figure on one split, with the paired difference A − B."""

    task: str
    split: str
    data_dir: str
    figure: str
    model_a: str
    model_b: str
    difference: PairedDifference
    bootstrap: dict
    #: The folder holding ``compare.md``, ``compare.json`` and both reports, when one was asked for.
    out: Path | None = None

    def lines(self) -> list[str]:
        """What ``framelab eval --compare`` prints: each model's figure with its interval, then the verdict."""
        d, b = self.difference, self.bootstrap
        return [
            f"{self.figure} on {self.split} of {self.data_dir}, 95% intervals over {b['n_groups']} {b['groups']} "
            f"({b['resamples']} paired resamples)",
            f"A  {with_interval(d.a, d.a_interval)}  {self.model_a}",
            f"B  {with_interval(d.b, d.b_interval)}  {self.model_b}",
            d.verdict(),
        ]

    def as_dict(self) -> dict:
        """``compare.json``."""
        return {
            "task": self.task,
            "split": self.split,
            "data_dir": self.data_dir,
            "figure": self.figure,
            "a": self.model_a,
            "b": self.model_b,
            "bootstrap": self.bootstrap,
            **self.difference.as_dict(),
        }


def _check_comparable(a, b, model_a: Path, model_b: Path) -> None:
    """Refuse two models whose lead figures would not be measured the same way."""
    if a.meta.task != b.meta.task:
        raise ConfigError(
            f"--compare: {model_a} is a {a.meta.task} model but {model_b} is a {b.meta.task} model; "
            "compare two models of the same task"
        )
    if list(a.meta.labels) != list(b.meta.labels):
        only = sorted(set(a.meta.labels) ^ set(b.meta.labels)) or ["(the same labels in another order)"]
        raise ConfigError(
            f"--compare: {model_a} and {model_b} label different things ({', '.join(only[:5])}), so their figures "
            "count different gold labels; compare models trained with the same labels"
        )


def _evaluated(predictor, model_dir: Path, dataset_dir: Path, split: str, out: Path, resamples: int) -> EvalResult:
    with inference_progress(f"{model_dir.name} on {split}"):
        result = get_task(predictor.meta.task).evaluate(predictor, dataset_dir, split, out, resamples=resamples)
    if result.lead is None:
        raise ConfigError(f"--compare: the {predictor.meta.task} report names no figure to compare example by example")
    return result


def _report(comparison: Comparison) -> str:
    warning = comparison.bootstrap.get("warning")
    lines = [
        f"# Comparison on `{comparison.data_dir}` ({comparison.split}): task **{comparison.task}**",
        "",
        f"- A: `{comparison.model_a}` (its report: [a/report.md](a/report.md))",
        f"- B: `{comparison.model_b}` (its report: [b/report.md](b/report.md))",
        "",
        "```",
        *comparison.lines(),
        "```",
        "",
        "A paired bootstrap: both models are scored on the same resamples of the split's "
        f"{comparison.bootstrap['groups']}, so what both get right or wrong together cancels out of A \u2212 B, "
        "whose interval is then usually narrower than the two models' own. When it holds 0, this split cannot "
        "tell the two models apart.",
    ]
    if warning:
        lines += ["", f"> **Warning**: {warning}."]
    return "\n".join(lines) + "\n"


def compare_models(
    model_a: str | Path,
    model_b: str | Path,
    dataset_dir: str | Path,
    split: str = "dev",
    out: str | Path | None = None,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    force: bool = False,
) -> Comparison:
    """Evaluate both models on ``split`` and bootstrap the difference of their lead figure.

    With ``out``, the folder gets ``compare.md``, ``compare.json`` and each
    model's report (``a/``, ``b/``); without, the reports go to a temporary folder.
    ``out`` is checked and held before the models load, as every report folder
    (:func:`framelab.output.claim`; ``force`` replaces a folder framelab did not write).
    """
    model_a, model_b, dataset_dir = Path(model_a), Path(model_b), Path(dataset_dir)
    inputs = [model_a, model_b, dataset_dir]
    with claim(out, folder=True, what="the report folder (--out)", kind="report", inputs=inputs, force=force):
        return _compare(model_a, model_b, dataset_dir, split, Path(out) if out else None, resamples, seed)


def _compare(
    model_a: Path, model_b: Path, dataset_dir: Path, split: str, out: Path | None, resamples: int, seed: int
) -> Comparison:
    a, b = load_model(model_a), load_model(model_b)
    _check_comparable(a, b, model_a, model_b)
    with atomic_folder(out) if out else tempfile.TemporaryDirectory(prefix="framelab-compare-") as folder:
        folder = Path(folder)
        first = _evaluated(a, model_a, dataset_dir, split, folder / "a", resamples)
        second = _evaluated(b, model_b, dataset_dir, split, folder / "b", resamples)
        lead_a, lead_b = first.lead, second.lead
        if lead_a.name != lead_b.name or lead_a.ids != lead_b.ids:
            raise ConfigError(f"--compare: {model_a} and {model_b} were not scored on the same examples of {split}")
        draws = Resamples.draw(lead_a.tally.groups, resamples, seed)
        comparison = Comparison(
            task=a.meta.task,
            split=split,
            data_dir=str(dataset_dir),
            figure=lead_a.name,
            model_a=str(model_a),
            model_b=str(model_b),
            difference=paired_bootstrap(lead_a.tally, lead_b.tally, draws),
            bootstrap=draws.describe(first.metrics["bootstrap"]["groups"]),
            out=out,
        )
        if out:
            (folder / "compare.md").write_text(_report(comparison), encoding="utf-8")
            (folder / "compare.json").write_text(json.dumps(comparison.as_dict(), indent=2), encoding="utf-8")
    return comparison
