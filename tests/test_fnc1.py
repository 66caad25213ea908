"""FNC-1 headline–body stance: the dataset (bodies once, split by body), the two-stage model, its report and the fnc1
writer.

The corpus here is hand-written (tests/fixtures/fnc1: 10 fictional bodies, 50
pairs); the model is the tiny random BERT, so the figures mean nothing, only
that every part runs and every pair comes out.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from markupsafe import escape
from transformers import AutoModelForSequenceClassification, AutoTokenizer

import framelab.stance.train as stance_train
from framelab.cli import main
from framelab.config import TrainConfig, load_config
from framelab.dataset import build_dataset
from framelab.errors import ConfigError, DataError
from framelab.eval.scores import stance_scores
from framelab.models.ensemble import load_model
from framelab.models.folder import read_meta
from framelab.models.out_of_fold import load_out_of_fold
from framelab.models.stock import refusal_message
from framelab.readers.stance import fnc1_stories, place_headlines
from framelab.score.scorer import score
from framelab.splits import TaskData
from framelab.stance.data import FNC1_LABELS, RELATED, PairSplit, load_pair_split, load_pooled
from framelab.stance.evaluate import fnc1_scores
from framelab.stance.features import FEATURES, Closest, SentenceEncoder, pair_features
from framelab.stance.folds import story_folds
from framelab.stance.predictor import stance_evidence
from framelab.stance.stage_two import CUE_FEATURES, FUSION_FILE, Fusion, cue_counts, mean_logits, member_folder
from framelab.stance.tasks import FNC1
from framelab.stance.train import (
    EmbeddingCache,
    focal_loss,
    member_configs,
    repeated_rows,
    run_fold,
    stage_two_loss,
    weighted_loss,
)
from framelab.tasks import register, task_names
from framelab.train.trainer import load_tokenizer, start
from framelab.types import Article
from framelab.units import split_units

from .conftest import REPO, SHARED_DATA, assert_stock_pipeline_refuses, dry_run_push

FIXTURE = Path(__file__).parent / "fixtures" / "fnc1"

#: Every stage-2 lever moved off its default, in a k-fold run (the cue fusion needs the inner fold).
LEVERS = {
    "train.stage_two_top_k": "2",
    "train.stage_two_loss": "focal",
    "train.stage_two_class_weight_power": "1",
    "train.stage_two_disagree_repeats": "3",
    "train.stage_two_seeds": "2",
    "train.stage_two_cues": "true",
}

# The entry point in pyproject.toml finds the task once framelab is (re)installed; an older install does not list it.
if "fnc1" not in task_names():
    register(FNC1)


def _config(tmp: Path, model_base: Path | str = "default", **extra: str):
    sets = [
        f"data.path={FIXTURE}",
        f"data.output_dir={tmp / 'data'}",
        f"output_dir={tmp / 'model'}",
        f"model.base={model_base}",
        "model.max_length=64",
        "train.epochs=1",
        "train.batch_size=8",
        "train.logging_steps=1",
        "data.dev_fraction=0.3",
        *(f"{k}={v}" for k, v in extra.items()),
    ]
    return load_config(REPO / "configs" / "fnc1.yaml", sets)


def test_bodies_stored_once_pairs_split_by_body(tmp_path: Path) -> None:
    from datasets import load_from_disk

    result = build_dataset(_config(tmp_path))
    out = result.path
    articles, pairs, units = (
        load_from_disk(str(out / "articles")),
        load_from_disk(str(out / "pairs")),
        load_from_disk(str(out)),
    )
    bodies = {s: set(articles[s]["id"]) for s in articles}
    assert sum(len(b) for b in bodies.values()) == 10 and not bodies["train"] & bodies["dev"]
    assert sorted(len(b) for b in bodies.values()) == [3, 7]
    every = sorted(p for s in pairs for p in pairs[s]["pair"])
    assert every == list(range(50))
    for s in pairs:
        assert set(pairs[s]["body_id"]) <= bodies[s]
        assert set(units[s]["article_id"]) == bodies[s]
    assert json.loads((out / "labels.json").read_text())["stances"] == ["agree", "disagree", "discuss", "unrelated"]
    assert pairs["train"].features["stance"].names == ["agree", "disagree", "discuss", "unrelated"]
    assert json.loads((out / "data_config.json").read_text())["seed"] == 13
    assert result.stats["splits"]["train"]["pairs"] + result.stats["splits"]["dev"]["pairs"] == 50


def test_fnc1_scores_by_hand() -> None:
    names = ["agree", "disagree", "discuss", "unrelated"]
    gold = ["agree", "unrelated", "discuss", "disagree", "unrelated"]
    pred = ["agree", "unrelated", "agree", "unrelated", "discuss"]
    # 1.0 (exact related) + 0.25 (unrelated) + 0.25 (related, wrong class) + 0 + 0 = 1.5;
    # max 1 + 0.25 + 1 + 1 + 0.25 = 3.5
    eye = np.eye(4, dtype=np.int64)
    data = TaskData([str(i) for i in range(5)], [""] * 5, eye[[names.index(g) for g in gold]], [""] * 5)
    scores = fnc1_scores(None, eye[[names.index(p) for p in pred]], data, names)
    assert scores["stance"]["fnc_relative"] == pytest.approx(1.5 / 3.5)
    assert scores["stance"]["macro_f1"] == pytest.approx(stance_scores(pred, gold, names)["macro_f1"])
    assert scores["confusion_matrix"]["rows_gold_columns_predicted"] == [
        [1, 0, 0, 0],
        [0, 0, 0, 1],
        [1, 0, 0, 0],
        [0, 0, 1, 1],
    ]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    tmp = tmp_path_factory.mktemp("fnc1")
    overrides = [
        f"data.path={FIXTURE}",
        f"data.output_dir={tmp / 'data'}",
        f"output_dir={tmp / 'model'}",
        f"model.base={tiny_model_dir}",
    ]
    overrides += [
        "model.max_length=64",
        "train.epochs=1",
        "train.batch_size=8",
        "train.logging_steps=1",
        "data.dev_fraction=0.3",
    ]
    sets = [a for o in overrides for a in ("--set", o)]
    assert main(["data", "--config", str(REPO / "configs" / "fnc1.yaml"), *sets]) == 0
    assert main(["train", "--config", str(REPO / "configs" / "fnc1.yaml"), *sets]) == 0
    return tmp


def test_push_dry_run_of_an_fnc1_folder_reports_the_fnc1_score(
    trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    card = dry_run_push(trained / "model", tmp_path / "upload", monkeypatch, caplog)
    dev = json.loads((trained / "model" / "dev_metrics.json").read_text(encoding="utf-8"))
    figures = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert figures["fnc1_relative_score"] == round(dev["stance"]["fnc_relative"], 4)
    assert figures["f1"] == round(dev["stance"]["macro_f1"], 4)
    assert card.data.eval_results[0].dataset_type == "fnc1" and "FNC-1" in card.data.eval_results[0].dataset_name
    assert "https://github.com/FakeNewsChallenge/fnc-1" in card.text and "Pomerleau" in card.text
    assert '"target": "The headline"' in card.text


def test_model_folder_holds_both_stages_without_pickle(trained: Path) -> None:
    folder = trained / "model"
    for name in (
        "framelab.json",
        "model.safetensors",
        "relatedness.json",
        "relatedness.safetensors",
        "similarity/model.safetensors",
        "README.md",
    ):
        assert (folder / name).is_file(), name
    assert not [p for p in folder.rglob("*") if p.suffix in (".bin", ".pkl", ".pickle", ".pt")]
    dev = json.loads((folder / "dev_metrics.json").read_text())
    assert {"stance", "confusion_matrix", "relatedness_accuracy", "stage_two_on_gold_related"} <= set(dev)
    assert sum(map(sum, dev["confusion_matrix"]["rows_gold_columns_predicted"])) == dev["n_dev_pairs"]


def test_the_stock_pipeline_refuses_the_fnc1_folder_whose_config_is_stage_two_alone(
    trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import AutoConfig

    folder = trained / "model"
    # A stock pipeline would read these three classes and never say unrelated.
    assert sorted(AutoConfig.from_pretrained(folder).id2label.values()) == sorted(RELATED)
    message = refusal_message(read_meta(folder))
    assert "stage 2 alone" in message and "no unrelated" in message
    assert "stock pipeline refuses this folder" in (folder / "README.md").read_text(encoding="utf-8")
    assert_stock_pipeline_refuses(folder, "text-classification", message, tmp_path / "modules", monkeypatch)


def test_eval_reports_relative_score_macro_f1_and_confusion(trained: Path, capsys) -> None:
    out = trained / "report"
    assert main(["eval", "--model", str(trained / "model"), "--data", str(trained / "data"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "relative" in printed and "majority-class baseline" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    for system in ("model", "baseline", "majority_baseline"):
        assert {"fnc_relative", "macro_f1", "per_label"} <= set(metrics[system]["stance"])
        assert (
            sum(map(sum, metrics[system]["confusion_matrix"]["rows_gold_columns_predicted"])) == metrics["n_examples"]
        )
    assert metrics["majority_baseline"]["stance"]["per_label"]["unrelated"]["recall"] == 1.0
    assert "## FNC-1 measures" in (out / "report.md").read_text()
    # Intervals resample stories (each with all its pairs), not pairs.
    assert "relative [95% interval]" in printed and metrics["bootstrap"]["groups"] == "stories"
    stories = set(load_pair_split(trained / "data", "dev")[0].groups)
    assert metrics["bootstrap"]["n_groups"] == len(stories) < metrics["n_examples"]
    stance = metrics["model"]["stance"]
    assert stance["ci95"]["fnc_relative"][0] <= stance["fnc_relative"] <= stance["ci95"]["fnc_relative"][1]


def test_training_dev_figures_and_card_carry_intervals_over_stories(trained: Path) -> None:
    dev = json.loads((trained / "model" / "dev_metrics.json").read_text())
    stories = load_pair_split(trained / "data", "dev")[0].groups
    assert dev["bootstrap"]["groups"] == "stories" and dev["bootstrap"]["n_groups"] == len(set(stories))
    st = dev["stance"]
    for block, key in ((st, "fnc_relative"), (st, "macro_f1"), (st["per_label"]["agree"], "f1")):
        assert block["ci95"][key][0] <= block[key] <= block["ci95"][key][1], key
    assert (
        dev["ci95"]["relatedness_accuracy"][0] <= dev["relatedness_accuracy"] <= dev["ci95"]["relatedness_accuracy"][1]
    )
    card = (trained / "model" / "README.md").read_text()
    low, high = st["ci95"]["fnc_relative"]
    assert f"FNC-1 relative score {st['fnc_relative']:.4f} [{low:.4f}, {high:.4f}]" in card
    assert re.search(r"\| agree \| \d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\] \|", card)
    assert f"only {len(set(stories))} stories in this split (fewer than 100)" in card
    assert f"{st['fnc_relative']:.4f} [{low:.4f}, {high:.4f}]" in FNC1.summarize_training(dev)


def test_intervals_resample_stories_in_eval_and_compare(trained: Path, tmp_path: Path) -> None:
    """Two bodies that share a related headline are one story: one group of the bootstrap, not two."""
    folder, _ = _shared_fixture(tmp_path)
    data_dir = build_dataset(_config(tmp_path, **{"data.path": str(folder), "data.dev_fraction": "0"})).path
    pairs = load_pair_split(data_dir, "train")[0]
    story_of_body: dict[str, set[str]] = {}
    for pair, story in zip(pairs.ids, pairs.groups):
        story_of_body.setdefault(pair.rsplit("#", 1)[0], set()).add(story)
    assert all(len(s) == 1 for s in story_of_body.values()) and len(story_of_body) == 10
    # "Harbour pier: what we know so far" discusses bodies 100 and 101, "Bridge toll: report confirms the news"
    # agrees with 102 and 103 (SHARED_ROWS): 10 bodies, 8 stories.
    assert story_of_body["100"] == story_of_body["101"] == {"story-100"}
    assert story_of_body["102"] == story_of_body["103"] == {"story-102"}
    assert len(set(pairs.groups)) == 8

    out = tmp_path / "report"
    args = ["--data", str(data_dir), "--split", "train", "--resamples", "200"]
    assert main(["eval", "--model", str(trained / "model"), *args, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["bootstrap"]["groups"] == "stories" and metrics["bootstrap"]["n_groups"] == 8
    assert "over the split's 8 stories" in (out / "report.md").read_text()
    assert (
        main(["eval", "--compare", str(trained / "model"), str(trained / "model"), *args, "--out", str(out / "c")]) == 0
    )
    compared = json.loads((out / "c" / "compare.json").read_text())
    assert compared["bootstrap"]["groups"] == "stories" and compared["bootstrap"]["n_groups"] == 8


def test_fnc1_writer_every_row_in_input_order(trained: Path, tmp_path: Path) -> None:
    # An unlabelled stances file, as the competition's test file is, with a BOM and CRLF line ends.
    rows = list(csv.reader((FIXTURE / "train_stances.csv").open(encoding="utf-8", newline="")))
    rows = [r[:2] for r in rows]
    rows = rows[:1] + rows[1:][::-1]
    stances = tmp_path / "test_stances_unlabeled.csv"
    stances.write_bytes(b"\xef\xbb\xbf" + "".join(",".join(f'"{c}"' for c in r) + "\r\n" for r in rows).encode())
    shutil.copy(FIXTURE / "train_bodies.csv", tmp_path / "test_bodies.csv")
    out = tmp_path / "submission.csv"
    assert (
        main(
            [
                "score",
                "--model",
                str(trained / "model"),
                "--format",
                "fnc1",
                "--out",
                str(out),
                "--quiet",
                str(stances),
                str(tmp_path / "test_bodies.csv"),
            ]
        )
        == 0
    )
    got = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert list(got[0]) == ["Headline", "Body ID", "Stance"]
    assert [(g["Headline"], g["Body ID"]) for g in got] == [tuple(r) for r in rows[1:]]
    assert {g["Stance"] for g in got} <= {"agree", "disagree", "discuss", "unrelated"}


def test_fnc1_inputs_bad_rows_name_file_and_row(trained: Path, tmp_path: Path) -> None:
    (tmp_path / "bodies.csv").write_text("Body ID,articleBody\n1,Some body text.\n", encoding="utf-8")
    (tmp_path / "stances.csv").write_text("Headline,Body ID\nA headline,1\nAnother,2\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"stances.csv:3: row 3: Body ID '2' is not in the bodies file"):
        score(
            [trained / "model"],
            [tmp_path / "stances.csv", tmp_path / "bodies.csv"],
            fmt="fnc1",
            out=tmp_path / "o.csv",
            progress=False,
        )
    assert not (tmp_path / "o.csv").exists()


def test_several_targets_each_article_toward_each(trained: Path, tmp_path: Path) -> None:
    article = tmp_path / "pier.txt"
    article.write_text("The harbour council voted to close the old pier. Residents were split.", encoding="utf-8")
    for fmt in ("jsonl", "csv", "html"):
        out = tmp_path / f"o.{fmt}"
        args = [
            "score",
            "--model",
            str(trained / "model"),
            "--format",
            fmt,
            "--out",
            str(out),
            "--quiet",
            "--target",
            "Pier closes",
            "--target",
            "Beetle found",
        ]
        assert main([*args, str(article)]) == 0
    records = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    predictions = records[-1]["predictions"]
    assert sorted(predictions) == ["model@Beetle found", "model@Pier closes"]
    assert (
        predictions["model@Pier closes"]["target"] == "Pier closes"
        and len(predictions["model@Pier closes"]["labels"]) == 1
    )
    assert "Beetle found" in (tmp_path / "o.html").read_text()


# ------------------------------------------------------- stance toward any claim, with the sentences it rests on

#: Two claims, each treated as the headline of every article.
CLAIMS = ("The harbour pier will close", "Zürich's beetle is a new species")


def _articles(folder: Path) -> dict[str, str]:
    """Four of the fixture's bodies as .txt files in ``folder`` (one with a non-ASCII letter and a blank line, so
    that offsets count characters, not bytes); their texts by article id."""
    folder.mkdir()
    with (FIXTURE / "train_bodies.csv").open(encoding="utf-8", newline="") as handle:
        bodies = [r["articleBody"] for r in csv.DictReader(handle)][:4]
    bodies[1] = bodies[1].replace("river valley", "river valley near Zürich")
    texts = {}
    for i, body in enumerate(bodies):
        (folder / f"body{i}.txt").write_text(body, encoding="utf-8")
        texts[f"body{i}"] = body
    return texts


@pytest.fixture(scope="module")
def split_model(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained folder with its relatedness threshold at the median of the test pairs' relatedness: about half
    of them are related (stage 2 reads them), the others unrelated."""
    copy = tmp_path_factory.mktemp("fnc1-split") / "model"
    shutil.copytree(trained / "model", copy)
    texts = list(_articles(copy.parent / "articles").values())
    predictor = load_model(copy)
    probs = predictor.probabilities([t for _ in CLAIMS for t in texts], [c for c in CLAIMS for _ in texts])
    related = np.sort(1.0 - probs[:, FNC1_LABELS.index("unrelated")])
    stage_one = json.loads((copy / "relatedness.json").read_text(encoding="utf-8"))
    stage_one["threshold"] = float(related[len(related) // 2 - 1] + related[len(related) // 2]) / 2
    (copy / "relatedness.json").write_text(json.dumps(stage_one), encoding="utf-8")
    return copy


def _score_cli(model: Path, articles: Path, fmt: str, out: Path) -> None:
    targets = [a for c in CLAIMS for a in ("--target", c)]
    assert (
        main(["score", "--model", str(model), "--format", fmt, "--out", str(out), "--quiet", *targets, str(articles)])
        == 0
    )


def test_stance_evidence_round_trips_and_backs_every_related_stance(split_model: Path) -> None:
    import framelab

    articles = split_model.parent / "articles"
    texts = {p.stem: p.read_text(encoding="utf-8") for p in articles.iterdir()}
    out = split_model.parent / "stance.jsonl"
    _score_cli(split_model, articles, "jsonl", out)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    seen = {"related": 0, "unrelated": 0}
    for record in (r for r in records if r["type"] == "article"):
        text = texts[record["article_id"]]
        sentences = [(u.start, u.end) for u in split_units(Article("a", text), "sentence")]
        assert sorted(record["predictions"]) == sorted(f"model@{c}" for c in CLAIMS)
        for claim in CLAIMS:
            prediction = record["predictions"][f"model@{claim}"]
            assert prediction["target"] == claim and len(prediction["labels"]) == 1
            assert sorted(prediction["scores"]) == sorted(FNC1_LABELS)
            evidence = prediction["stance_evidence"]
            if prediction["labels"] == ["unrelated"]:
                seen["unrelated"] += 1
                assert evidence == []
                continue
            seen["related"] += 1
            assert 0 < len(evidence) <= min(len(sentences), TrainConfig().stage_two_top_k)
            for v in evidence:
                assert text[v["start"] : v["end"]] == v["text"] and (v["start"], v["end"]) in sentences
            # In body order, ranked by similarity to the claim.
            assert [v["start"] for v in evidence] == sorted(v["start"] for v in evidence)
            by_rank = sorted(evidence, key=lambda v: v["rank"])
            assert [v["rank"] for v in by_rank] == list(range(1, len(evidence) + 1))
            assert [v["similarity"] for v in by_rank] == sorted((v["similarity"] for v in evidence), reverse=True)
    assert seen["related"] and seen["unrelated"], seen
    # The Python API gives the same evidence.
    results = framelab.load(split_model).score([{"id": "x", "text": texts["body1"]}], target=CLAIMS[1])
    (prediction,) = results[0].predictions.values()
    jsonl = next(r for r in records if r["type"] == "article" and r["article_id"] == "body1")
    expected = [
        {k: v for k, v in e.items() if k != "text"}
        for e in jsonl["predictions"][f"model@{CLAIMS[1]}"]["stance_evidence"]
    ]
    assert [dataclasses.asdict(v) for v in prediction.evidence] == expected


def test_stance_evidence_in_csv_and_marked_in_html(split_model: Path) -> None:
    articles = split_model.parent / "articles"
    texts = {p.stem: p.read_text(encoding="utf-8") for p in articles.iterdir()}
    _score_cli(split_model, articles, "csv", split_model.parent / "stance.csv")
    rows = list(csv.DictReader((split_model.parent / "stance.csv").open(encoding="utf-8", newline="")))
    stances = {(r["article_id"], r["model"]): r["labels"] for r in rows if r["level"] == "article"}
    evidence = [r for r in rows if r["level"] == "stance_evidence"]
    assert {(r["article_id"], r["model"]) for r in evidence} == {k for k, v in stances.items() if v != "unrelated"}
    for r in evidence:
        assert texts[r["article_id"]][int(r["start"]) : int(r["end"])] == r["text"]
        assert r["labels"] == stances[(r["article_id"], r["model"])] and -1.0 <= float(r["weight"]) <= 1.0
    page = split_model.parent / "stance.html"
    _score_cli(split_model, articles, "html", page)
    html = page.read_text(encoding="utf-8")
    for r in evidence:
        name, claim = escape(r["model"]), escape(r["model"].split("@", 1)[1])
        assert f"The sentences {name} read for its stance toward <q>{claim}</q>" in html
        # The sentence marked in its stance's look, then a tag: the stance and the sentence's similarity to the claim.
        label, similarity = r["labels"], f"{float(r['weight']):.2f}"
        mark = rf'<mark class="evidence" title="{label}: read #\d, similarity {similarity}" style="[^"]*">'
        tag = rf'</mark><span class="tag" data-label="{label}" style="[^"]*">{label} <small>similarity {similarity}<'
        assert re.search(mark + re.escape(str(escape(r["text"]))) + tag, html)


def test_stance_evidence_ranks_the_sentences_read_by_similarity() -> None:
    offsets = [(0, 5), (6, 12), (13, 20), (21, 30), (31, 40)]
    found = stance_evidence(offsets, Closest(np.array([1, 3, 4]), np.array([0.2, 0.9, 0.5])))
    assert [(v.start, v.end, v.similarity, v.rank) for v in found] == [
        (6, 12, 0.2, 3),
        (21, 30, 0.9, 1),
        (31, 40, 0.5, 2),
    ]
    assert stance_evidence(offsets, Closest(np.array([], dtype=np.int64), np.array([]))) == []


def test_an_fnc1_model_without_a_target_is_refused_in_one_line(trained: Path, tmp_path: Path, capsys) -> None:
    article = tmp_path / "pier.txt"
    article.write_text("The harbour council voted to close the old pier.", encoding="utf-8")
    out = tmp_path / "o.jsonl"
    assert main(["score", "--model", str(trained / "model"), "--out", str(out), "--quiet", str(article)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "has no stance target" in line and '--target "…"' in line
    assert not out.exists()


REAL = SHARED_DATA / "fnc-1"


@pytest.mark.real_data
@pytest.mark.skipif(not (REAL / "train_stances.csv").is_file(), reason=f"FNC-1 not found at {REAL}")
def test_real_fnc1_data_split_by_story_and_submission(trained: Path, tmp_path: Path) -> None:
    from datasets import load_from_disk

    config = load_config(REPO / "configs" / "fnc1.yaml", [f"data.path={REAL}", f"data.output_dir={tmp_path / 'data'}"])
    started = time.perf_counter()
    result = build_dataset(config)
    seconds = time.perf_counter() - started
    print(f"framelab data on FNC-1: {seconds:.1f} s")
    assert seconds < 120  # 35 s measured on 2 busy cores; the budget is 60 s
    articles, pairs = load_from_disk(str(result.path / "articles")), load_from_disk(str(result.path / "pairs"))
    train, dev = set(articles["train"]["id"]), set(articles["dev"]["id"])
    assert len(train) + len(dev) == 1683 and not train & dev
    # 191 stories, the largest naming 2,506 pairs (1,278 of them related): no giant component.
    stories = result.stats["stories"]
    assert (stories["stories"], stories["largest_story_pairs"]) == (191, 2506)
    assert len(pairs["train"]) + len(pairs["dev"]) + stories["pairs_dropped_across_splits"] == 49972
    assert not set(pairs["train"]["headline"]) & set(pairs["dev"]["headline"])
    assert set(pairs["dev"]["body_id"]) <= dev and set(pairs["train"]["body_id"]) <= train
    assert len(result.stats["warnings"]) == 402  # repeated (headline, Body ID) rows of the official file, kept

    # A submission for the first 2,000 official rows, unlabelled (tiny untrained model: only the shape is checked).
    with (REAL / "train_stances.csv").open(encoding="utf-8", newline="") as handle:
        given = [(r["Headline"], r["Body ID"]) for r in csv.DictReader(handle)][:2000]
    stances = tmp_path / "stances_unlabeled.csv"
    with stances.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([("Headline", "Body ID"), *given])
    out = tmp_path / "submission.csv"
    score([trained / "model"], [stances, REAL / "train_bodies.csv"], fmt="fnc1", out=out, progress=False)
    with out.open(encoding="utf-8", newline="") as handle:
        got = list(csv.DictReader(handle))
    assert [(r["Headline"], r["Body ID"]) for r in got] == given
    assert {r["Stance"] for r in got} <= {"agree", "disagree", "discuss", "unrelated"}


# ---------------------------------------------------------------- stories: splits and folds no headline or body crosses

#: (headline, Body ID, stance) by hand. Stories: {A, B, 1, 2}, {C, 3}, {D, 4} and the lone body 5; E, F and G have
#: no related pair, so each is a story of its own.
HAND = [
    ("A", "1", "agree"),
    ("A", "2", "discuss"),
    ("B", "2", "disagree"),
    ("C", "3", "agree"),
    ("D", "4", "agree"),
    ("A", "3", "unrelated"),
    ("C", "1", "unrelated"),
    ("E", "1", "unrelated"),
    ("E", "4", "unrelated"),
    ("E", "3", "unrelated"),
    ("F", "5", "unrelated"),
    ("D", "5", "unrelated"),
    ("G", "1", "unrelated"),
    ("G", "3", "unrelated"),
]

#: Rows added to the fixture so that stories span several bodies and some unrelated pairs join two stories.
SHARED_ROWS = [
    ("Harbour pier: what we know so far", "101", "discuss"),  # related to 100 and 101: one story
    ("Bridge toll: report confirms the news", "103", "agree"),  # related to 102 and 103: one story
    ("Harbour pier: report confirms the news", "104", "unrelated"),
    ("Beetle species: what we know so far", "105", "unrelated"),
    ("Bridge toll: officials deny the story is true", "106", "unrelated"),
    ("Library hours makes headlines again", "107", "unrelated"),  # a headline with no related pair, two bodies
    ("Train strike: report confirms the news", "100", "unrelated"),
]


def _shared_fixture(tmp: Path) -> tuple[Path, list[tuple[str, str, str]]]:
    """The fixture's bodies with its stances plus :data:`SHARED_ROWS`; the rows in file order."""
    folder = tmp / "fnc1-shared"
    folder.mkdir()
    shutil.copy(FIXTURE / "train_bodies.csv", folder / "train_bodies.csv")
    with (FIXTURE / "train_stances.csv").open(encoding="utf-8", newline="") as handle:
        rows = [tuple(r) for r in csv.reader(handle)][1:] + SHARED_ROWS
    with (folder / "train_stances.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([("Headline", "Body ID", "Stance"), *rows])
    return folder, rows


def test_stories_and_the_unrelated_pairs_that_cross_by_hand() -> None:
    headlines, bodies, stances = zip(*HAND)
    stories = fnc1_stories(headlines, bodies, [s != "unrelated" for s in stances])
    assert [stories.names[s] for s in stories.of_body] == [
        "story-1", "story-1", "story-1", "story-3", "story-4", "story-3", "story-1",
        "story-1", "story-4", "story-3", "story-5", "story-5", "story-1", "story-3",
    ]  # fmt: skip
    assert [stories.names[stories.of_headline[i]] for i in (0, 2, 6, 7, 10, 12)] == [
        "story-1", "story-1", "story-3", "headline-0", "headline-1", "headline-2",
    ]  # fmt: skip
    body_side = [{"1": 0, "2": 0, "3": 1, "4": 1, "5": 0}[b] for b in bodies]
    head_side = place_headlines(stories, body_side)
    # E's bodies sit on sides 0, 1, 1: E goes to 1; F's one body on 0; G's two bodies on 0 and 1: a tie, the smaller.
    assert head_side[[7, 10, 12]].tolist() == [1, 0, 0]
    dropped = np.flatnonzero(head_side != np.asarray(body_side)).tolist()
    assert dropped == [5, 6, 7, 11, 13]
    assert all(HAND[i][2] == "unrelated" for i in dropped)
    with pytest.raises(ValueError, match="story-1 has bodies on two sides"):
        place_headlines(stories, [{"1": 0, "2": 1, "3": 1, "4": 1, "5": 0}[b] for b in bodies])


def _random_pairs(seed: int) -> PairSplit:
    """40 bodies and 36 headlines: 30 with one to three related bodies and three unrelated ones, 6 with none."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, int, str]] = []
    for h in range(36):
        related = rng.choice(40, size=rng.integers(1, 4), replace=False) if h < 30 else []
        rows += [(f"h{h}", int(b), str(rng.choice(RELATED))) for b in related]
        rows += [(f"h{h}", int(b), "unrelated") for b in rng.choice(40, size=3, replace=False) if b not in related]
    body_ids = [f"b{b}" for b in range(40)]
    return PairSplit(
        [f"{body_ids[b]}#{i}" for i, (_, b, _) in enumerate(rows)],
        [h for h, _, _ in rows],
        np.array([b for _, b, _ in rows]),
        [s for _, _, s in rows],
        body_ids,
        body_ids,
        [[b] for b in body_ids],
    )


@pytest.mark.parametrize("seed", range(4))
def test_story_folds_share_no_headline_or_body_and_drop_only_what_must_go(seed: int) -> None:
    data = _random_pairs(seed)
    k = 3 + seed % 2
    folds = story_folds(data, k, seed)
    heads = [data.headlines[i] for i in range(len(data.headlines))]
    bodies = [data.body_ids[b] for b in data.body_of]
    side_of_headline: dict[str, set[int]] = {}
    side_of_body: dict[str, set[int]] = {}
    for i in np.flatnonzero(folds.kept):
        side_of_headline.setdefault(heads[i], set()).add(int(folds.folds[i]))
        side_of_body.setdefault(bodies[i], set()).add(int(folds.folds[i]))
    # No headline and no body of a fold's kept pairs is in another fold's.
    assert all(len(s) == 1 for s in side_of_headline.values()) and all(len(s) == 1 for s in side_of_body.values())
    dropped = np.flatnonzero(~folds.kept)
    assert len(dropped) > 0 and all(data.stances[i] == "unrelated" for i in dropped)
    # Each dropped pair had to go: its headline is kept in another fold than its body's.
    assert all(side_of_headline[heads[i]] != {int(folds.folds[i])} for i in dropped)
    summary = folds.summary()
    assert summary["pairs_kept"] + summary["unrelated_pairs_dropped"] == summary["pairs"] == len(heads)
    assert sum(summary["pairs_per_fold"]) == summary["pairs_kept"] and len(summary["pairs_per_fold"]) == k
    assert len(set(folds.groups)) == len({folds.stories.names[s] for s in folds.stories.of_body})


def test_dataset_split_by_story(tmp_path: Path) -> None:
    from datasets import load_from_disk

    folder, rows = _shared_fixture(tmp_path)
    dropped_somewhere = 0
    for seed in range(4):
        config = _config(tmp_path / str(seed), **{"data.path": str(folder), "data.seed": str(seed)})
        result = build_dataset(config)
        pairs, articles = load_from_disk(str(result.path / "pairs")), load_from_disk(str(result.path / "articles"))
        split_of_body = {b: s for s in articles for b in articles[s]["id"]}
        heads = {s: set(pairs[s]["headline"]) for s in pairs}
        assert not heads["train"] & heads["dev"]
        assert not set(pairs["train"]["body_id"]) & set(pairs["dev"]["body_id"])
        stored = {p for s in pairs for p in pairs[s]["pair"]}
        dropped = [i for i in range(len(rows)) if i not in stored]
        assert result.stats["stories"]["pairs_dropped_across_splits"] == len(dropped)
        for i in dropped:
            headline, body, stance = rows[i]
            other = "dev" if split_of_body[body] == "train" else "train"
            assert stance == "unrelated" and headline in heads[other]
        dropped_somewhere += len(dropped)
    assert dropped_somewhere > 0


def test_folds_by_story_end_to_end(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder, rows = _shared_fixture(tmp_path)
    embedded: list[str] = []
    embed = SentenceEncoder.embed

    def counted(self, texts: list[str]) -> np.ndarray:
        embedded.extend(texts)
        return embed(self, texts)

    monkeypatch.setattr(SentenceEncoder, "embed", counted)
    sets = [
        f"data.path={folder}",
        f"data.output_dir={tmp_path / 'data'}",
        f"output_dir={tmp_path / 'model'}",
        f"model.base={tiny_model_dir}",
        "model.max_length=64",
        "train.epochs=2",
        "train.batch_size=8",
        "train.logging_steps=1",
        "data.dev_fraction=0",  # no dev split, so no pair is dropped before the folds
        "train.folds=3",
    ]
    args = ["--config", str(REPO / "configs" / "fnc1.yaml"), *(a for s in sets for a in ("--set", s))]
    assert main(["data", *args]) == 0
    assert main(["train", *args]) == 0
    model = tmp_path / "model"
    data = load_pooled(tmp_path / "data")
    assert len(data.headlines) == len(rows)
    # The frozen encoder ran once over every sentence and headline, for the three folds and the refit.
    assert len(embedded) == len(set(embedded))
    assert set(embedded) == {s for body in data.body_sentences for s in body} | set(data.headlines)

    dev = json.loads((model / "dev_metrics.json").read_text())
    cv = dev["cross_validated"]
    groups = cv["groups"]
    assert groups["pairs"] == len(data.headlines) == dev["n_train_pairs"] == dev["refit"]["pairs"]
    assert groups["pairs_kept"] + groups["unrelated_pairs_dropped"] == groups["pairs"]
    assert sum(f["pairs"] for f in cv["per_fold"]) == groups["pairs_kept"] == dev["n_dev_pairs"]
    assert sum(map(sum, dev["confusion_matrix"]["rows_gold_columns_predicted"])) == groups["pairs_kept"]
    for fold in cv["per_fold"]:
        epochs = fold["choices"]["stage_two_epochs"]
        assert {"stance", "confusion_matrix", "relatedness_accuracy"} <= set(fold)
        assert "disagree" in fold["stance"]["per_label"] and len(epochs["macro_f1_by_epoch"]) == 2
        assert f"inner fold {(fold['fold'] + 1) % 3}" in epochs["made_on"]
    chosen = [f["choices"]["stage_two_epochs"]["value"] for f in cv["per_fold"]]
    assert dev["refit"]["epochs"] == float(np.median(chosen))
    assert [c["choice"] for c in dev["choices"]] == ["relatedness threshold", "stage-2 epochs"]
    card = (model / "README.md").read_text()
    assert "How the groups were made: stories" in card and "Choices made from data" in card

    # Out-of-fold probabilities of every kept pair, with its fold and story, no headline or body in two folds.
    oof = load_out_of_fold(model)
    assert len(oof.ids) == groups["pairs_kept"] and oof.labels == FNC1_LABELS
    assert oof.probabilities.shape == (len(oof.ids), 4)
    np.testing.assert_allclose(oof.probabilities.sum(axis=1), 1.0, atol=1e-6)
    row = {p: i for i, p in enumerate(data.pair_ids)}
    fold_of: dict[str, set[int]] = {}
    for pair, f, story in zip(oof.ids, oof.folds, oof.groups):
        i = row[pair]
        assert story.startswith("story-")
        fold_of.setdefault("h:" + data.headlines[i], set()).add(int(f))
        fold_of.setdefault("b:" + data.body_ids[data.body_of[i]], set()).add(int(f))
    assert all(len(f) == 1 for f in fold_of.values())
    # The pooled out-of-fold figures resample the same stories the folds dealt: 8 of them over 10 bodies.
    assert dev["bootstrap"]["groups"] == "stories" and dev["bootstrap"]["n_groups"] == len(set(oof.groups)) == 8
    st = dev["stance"]
    low, high = st["ci95"]["fnc_relative"]
    assert re.search(
        rf"\| pooled \[95% interval\] \| {len(oof.ids)} \| 8 \| {st['fnc_relative']:.4f} \[{low:.4f}, ", card
    )
    predictor = load_model(model)
    assert predictor.probabilities(["The council voted to close the pier."], ["Pier closes"]).shape == (1, 4)


@pytest.mark.parametrize("levers", [{}, LEVERS], ids=["defaults", "levers"])
def test_fnc1_fold_choices_never_see_the_folds_labels(tmp_path: Path, tiny_model_dir: Path, levers: dict) -> None:
    folder, _ = _shared_fixture(tmp_path)
    config = _config(
        tmp_path, tiny_model_dir, **{"data.path": str(folder), "train.folds": "3", "train.epochs": "2", **levers}
    )
    build_dataset(config)
    base, _ = start(config)
    data = load_pooled(config.dataset_dir)
    assert len(data.body_ids) == 10  # the train and the dev split's bodies
    folds = story_folds(data, 3, config.train.fold_assignment_seed)
    encoder = EmbeddingCache(SentenceEncoder(base))
    tokenizer = load_tokenizer(config, base)
    inside = np.flatnonzero(folds.kept & (folds.folds == 0))
    stances = list(data.stances)
    for i in inside:  # every label of the outer fold changes
        stances[i] = FNC1_LABELS[(FNC1_LABELS.index(stances[i]) + 1) % len(FNC1_LABELS)]
    relabelled = dataclasses.replace(data, stances=stances)
    first = run_fold(config, tokenizer, base, data, folds, 0, encoder, work=tmp_path / "first")
    second = run_fold(config, tokenizer, base, relabelled, folds, 0, encoder, work=tmp_path / "second")
    assert len(first.choices["stage_two_epochs"]["macro_f1_by_epoch"]) == 2
    assert first.choices == second.choices
    np.testing.assert_allclose(first.stage_one.coef, second.stage_one.coef, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(first.rows, inside)
    # Stage 2 (and its cue fusion) predicts each pair both of them ran on alike.
    both = (first.stage_two_logits != 0).any(axis=1) & (second.stage_two_logits != 0).any(axis=1)
    assert both.any()
    # Equal up to float summation order (BLAS threads): a leak would move them by far more.
    np.testing.assert_allclose(first.stage_two_logits[both], second.stage_two_logits[both], rtol=1e-9, atol=1e-9)
    if levers:
        assert "stage_two_cue_fusion" in first.choices and "2 seeds" in first.choices["stage_two_epochs"]["made_on"]


# ------------------------------------------------------------------ stage-2 levers (issue 38): settings, saved, scored


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        ({"train.stage_two_top_k": "0"}, "'train.stage_two_top_k' must be positive"),
        ({"train.stage_two_seeds": "0"}, "'train.stage_two_seeds' must be positive"),
        ({"train.stage_two_disagree_repeats": "0"}, "'train.stage_two_disagree_repeats' must be positive"),
        ({"train.stage_two_disagree_repeats": "1.5"}, "'train.stage_two_disagree_repeats' must be int"),
        ({"train.stage_two_class_weight_power": "-0.5"}, "'train.stage_two_class_weight_power' must be 0 or more"),
        ({"train.stage_two_loss": "hinge"}, "'train.stage_two_loss' must be one of cross_entropy, focal"),
        ({"train.stage_two_cues": "true"}, "set train.folds to 3 or more"),
        ({"train.stage_two_cues": "true", "train.folds": "2"}, "set train.folds to 3 or more"),
        (
            {"train.stage_two_seeds": "3", "train.task": "techniques"},
            "apply to two-stage tasks (fnc1), not 'techniques'",
        ),
    ],
)
def test_stage_two_settings_are_validated_on_load(tmp_path: Path, sets: dict, message: str) -> None:

    with pytest.raises(ConfigError, match=re.escape(message)):
        _config(tmp_path, **sets)


def test_stage_two_settings_default_to_todays_stage_two() -> None:

    config = load_config(REPO / "configs" / "fnc1.yaml")
    t = config.train
    assert (t.stage_two_top_k, t.stage_two_class_weight_power, t.stage_two_loss) == (5, 0.5, "cross_entropy")
    assert (t.stage_two_disagree_repeats, t.stage_two_seeds, t.stage_two_cues) == (1, 1, False)
    assert member_configs(config) == [config]
    labels = np.array([0, 0, 0, 1, 2, 2])
    rows = np.array([4, 9, 2, 7, 1, 3])
    np.testing.assert_array_equal(repeated_rows(rows, ["disagree"] * 10, 1), rows)
    logits = torch.randn(6, 3)
    weights = torch.tensor([(6 / 9) ** 0.5, (6 / 3) ** 0.5, (6 / 6) ** 0.5], dtype=torch.float32)
    expected = weighted_loss(weights)({"logits": logits}, torch.from_numpy(labels))
    assert torch.equal(stage_two_loss(t, labels)({"logits": logits}, torch.from_numpy(labels)), expected)
    unweighted = dataclasses.replace(t, stage_two_class_weight_power=0.0)
    assert stage_two_loss(unweighted, labels) is None  # the model's own cross-entropy


def test_focal_loss_is_weighted_cross_entropy_at_gamma_zero_and_down_weights_easy_pairs() -> None:
    logits = torch.tensor([[4.0, 0.0, 0.0], [0.0, 0.5, 0.0], [0.2, 0.0, 0.1], [0.0, 0.0, 3.0]])
    labels = torch.tensor([0, 1, 2, 2])
    weights = torch.tensor([1.0, 3.0, 0.5])
    plain = F.cross_entropy(logits, labels, weight=weights)
    assert torch.allclose(focal_loss(weights, 0.0)({"logits": logits}, labels), plain)
    # By hand at gamma 2: each pair's weighted cross-entropy times (1 - p)^2, over the weights' sum.
    p = F.softmax(logits, dim=-1)[torch.arange(4), labels]
    w = weights[labels]
    by_hand = (w * (1 - p) ** 2 * -p.log()).sum() / w.sum()
    assert torch.allclose(focal_loss(weights, 2.0)({"logits": logits}, labels), by_hand)
    assert focal_loss(weights, 2.0)({"logits": logits}, labels) < plain


def test_disagree_repeats_oversample_the_training_pairs_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config(tmp_path, **{"train.stage_two_disagree_repeats": "3"})
    data = _random_pairs(0)
    related = np.flatnonzero([s != "unrelated" for s in data.stances])
    train_rows, dev_rows = related[: len(related) // 2], related[len(related) // 2 :]
    seen = {}

    def capture(config, tokenizer, job, **kwargs):
        seen["job"] = job
        return None

    # No model is trained: the job handed to the trainer is looked at.
    monkeypatch.setattr(stance_train, "fine_tune", capture)
    monkeypatch.setattr(stance_train.AutoModelForSequenceClassification, "from_pretrained", lambda *a, **k: None)
    monkeypatch.setattr(
        stance_train, "_stage_two_dataset", lambda tok, heads, segs, labels, ml: list(zip(heads, labels))
    )
    stance_train.fit_stage_two(config, None, "base", data, list(data.headlines), train_rows, dev_rows)
    job = seen["job"]
    disagree = [i for i in train_rows if data.stances[i] == "disagree"]
    assert disagree and len(job.train_dataset) == len(train_rows) + 2 * len(disagree)
    expected = [data.headlines[i] for i in train_rows for _ in range(3 if data.stances[i] == "disagree" else 1)]
    assert [h for h, _ in job.train_dataset] == expected
    assert len(job.dev_dataset) == len(dev_rows)  # the pairs that choose the epoch are never repeated
    # The class weights count each pair once: the repeats are the only oversampling.
    once = np.array([RELATED.index(data.stances[i]) for i in train_rows])
    logits = torch.zeros(len(once), 3)
    want = stance_train.weighted_loss(stance_train.class_weights(once, 3, 0.5))(
        {"logits": logits}, torch.from_numpy(once)
    )
    assert torch.equal(job.loss({"logits": logits}, torch.from_numpy(once)), want)


def test_refuting_and_negation_cues_counted_by_hand() -> None:
    headlines = ["Giant spider story a HOAX, officials deny it", "Pier closes on Monday", "Nobody can't say it's fake"]
    evidence = [
        "The spider wasn't real. It is not a fake, the zoo says, despite rumours.",
        "The council voted to close the pier.",
        "No, it isn\u2019t.",
    ]
    counts = cue_counts(headlines, evidence)
    assert CUE_FEATURES == ("refuting_headline", "refuting_evidence", "negation_headline", "negation_evidence")
    # hoax, deny | fake, despite, rumours | - | wasn't, not
    assert counts[0].tolist() == [2, 3, 0, 2]
    assert counts[1].tolist() == [0, 0, 0, 0]
    # fake | - | nobody, can't | no, isn't (a curly apostrophe)
    assert counts[2].tolist() == [1, 0, 2, 2]
    assert cue_counts(["a denial"], [""], refuting=("denial",), negation=()).tolist() == [[1, 0, 0, 0]]


def test_cue_fusion_learns_a_cue_and_round_trips_through_its_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 90
    labels = np.arange(n) % 3
    # Stage 2 says nothing; the evidence of every disagree pair calls the claim a hoax.
    logits = rng.normal(size=(n, 3))
    evidence = ["That is a hoax, not true." if y == 1 else "It happened as told." for y in labels]
    heads = ["A claim"] * n
    stage_one = rng.normal(size=(n, len(FEATURES)))
    fusion = Fusion.fit(logits, heads, evidence, stage_one, labels, np.array([1.0, 2.0, 1.0]))
    fused = fusion.log_probabilities(logits, heads, evidence, stage_one)
    assert (fused.argmax(axis=1) == 1).tolist() == (labels == 1).tolist()
    np.testing.assert_allclose(np.exp(fused).sum(axis=1), 1.0)
    fusion.save(tmp_path)
    np.testing.assert_allclose(
        Fusion.load(tmp_path).log_probabilities(logits, heads, evidence, stage_one), fused, rtol=1e-12
    )
    # Fitted on two classes only, the third gets no probability.
    two = np.flatnonzero(labels != 2)
    partial = Fusion.fit(
        logits[two], [heads[i] for i in two], [evidence[i] for i in two], stage_one[two], labels[two], np.ones(3)
    )
    out = partial.log_probabilities(logits[two], [heads[i] for i in two], [evidence[i] for i in two], stage_one[two])
    assert np.all(np.isneginf(out[:, 2])) and (out.argmax(axis=1) == labels[two]).all()


def test_a_seed_ensemble_averages_its_members_probabilities() -> None:
    a = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    b = np.array([[-1.0, 1.0, 0.0], [3.0, -2.0, 1.0]])
    assert mean_logits([a]) is a
    softmax = [np.exp(m) / np.exp(m).sum(axis=1, keepdims=True) for m in (a, b)]
    np.testing.assert_allclose(np.exp(mean_logits([a, b])), (softmax[0] + softmax[1]) / 2)


@pytest.fixture(scope="module")
def levers_model(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """A k-fold fnc1 model with every stage-2 lever off its default (:data:`LEVERS`)."""
    tmp = tmp_path_factory.mktemp("fnc1-levers")
    folder, _ = _shared_fixture(tmp)
    sets = [
        f"data.path={folder}",
        f"data.output_dir={tmp / 'data'}",
        f"output_dir={tmp / 'model'}",
        f"model.base={tiny_model_dir}",
        "model.max_length=64",
        "train.epochs=1",
        "train.batch_size=8",
        "train.logging_steps=1",
        "data.dev_fraction=0",
        "train.folds=3",
        *(f"{k}={v}" for k, v in LEVERS.items()),
    ]
    args = ["--config", str(REPO / "configs" / "fnc1.yaml"), *(a for s in sets for a in ("--set", s))]
    assert main(["data", *args]) == 0
    assert main(["train", *args]) == 0
    return tmp / "model"


def test_the_levers_are_recorded_in_the_folder_and_scoring_applies_them(levers_model: Path, tmp_path: Path) -> None:
    meta = read_meta(levers_model)
    assert meta.extra["stage_two_top_k"] == 2 and meta.extra["stage_two_seeds"] == 2
    assert meta.extra["stage_two_cues"] is True and meta.extra["stage_two_loss"] == "focal"
    assert meta.extra["stage_two_disagree_repeats"] == 3 and meta.extra["class_weight_power"] == 1.0
    assert json.loads((levers_model / "relatedness.json").read_text())["top_k"] == 2
    assert (member_folder(levers_model, 1) / "model.safetensors").is_file() and (levers_model / FUSION_FILE).is_file()
    assert not [p for p in levers_model.rglob("*") if p.suffix in (".bin", ".pkl", ".pickle", ".pt")]
    dev = json.loads((levers_model / "dev_metrics.json").read_text())
    assert "stage-2 cue fusion, pairs" in [c["choice"] for c in dev["choices"]]
    for fold in dev["cross_validated"]["per_fold"]:
        assert "inner fold" in fold["choices"]["stage_two_epochs"]["made_on"]
        assert "2 seeds" in fold["choices"]["stage_two_epochs"]["made_on"] and "stage_two_cue_fusion" in fold["choices"]

    # Reloaded, the folder reads 2 sentences, runs both seeds and fuses the cues: recomputed here by hand.
    predictor = load_model(levers_model)
    predictor.stage_one.threshold = 0.0  # every pair goes through stage 2
    bodies = [
        "The council voted to close the pier. Residents said it was not true. A hoax, some say. The vote was 5 to 2.",
        "A new beetle was found in the valley. Experts doubt it. It is not new.",
    ]
    heads = ["Pier closes", "Beetle is a new species"]
    probs, closest, _ = predictor.explained(bodies, heads)
    assert [len(c.sentences) for c in closest] == [2, 2]
    tokenizer = AutoTokenizer.from_pretrained(levers_model)
    segments = []
    for body, c in zip(bodies, closest):
        sentences = [u.text for u in split_units(Article("a", body), "sentence")]
        segments.append(" ".join(sentences[j] for j in c.sentences))
    batch = tokenizer(heads, segments, truncation=True, max_length=64, padding=True, return_tensors="pt")
    member_probs = []
    for folder in (levers_model, member_folder(levers_model, 1)):
        model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
        with torch.inference_mode():
            member_probs.append(torch.softmax(model(**batch).logits, dim=-1).numpy().astype(np.float64))
    averaged = np.log((member_probs[0] + member_probs[1]) / 2)
    stage_one = predictor.stage_one  # the folder's stage 1 gives the fusion its similarity features
    assert len(stage_one.coef) == len(FEATURES)
    bodies_built, _ = predictor._bodies(bodies)
    x, _, _ = pair_features(heads, np.arange(2), bodies_built, stage_one.tfidf, predictor.encoder, top_k=2)
    fused = Fusion.load(levers_model).log_probabilities(averaged, heads, segments, x)
    related = stage_one.related_probability(x)
    columns = [FNC1_LABELS.index(n) for n in RELATED]
    np.testing.assert_allclose(probs[:, columns], related[:, None] * np.exp(fused), atol=1e-5)
    # int8 quantises every member alike.
    quantized = load_model(levers_model, quantize="int8")
    assert len(quantized.members) == 2
    assert all("quantized" in type(m.classifier).__module__ for m in quantized.members)
    assert quantized.probabilities(bodies, heads).shape == (2, 4)
    # A member missing from the folder is named when it loads.
    broken = tmp_path / "model"
    shutil.copytree(levers_model, broken)
    shutil.rmtree(member_folder(broken, 1))
    with pytest.raises(DataError, match="stage-two-seed-1"):
        load_model(broken)
