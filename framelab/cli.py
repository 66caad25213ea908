"""The ``framelab`` command: parses arguments and calls one library function per stage."""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import math
import os
import re
import select
import signal
import stat
import sys
import threading
import traceback
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path

from framelab import __version__
from framelab.active.strategies import STRATEGIES
from framelab.completion import SCRIPTS as COMPLETION_SCRIPTS
from framelab.errors import ConfigError, DataError
from framelab.eval.bootstrap import DEFAULT_RESAMPLES
from framelab.output import cleanup, interrupt
from framelab.progress import no_progress_bars
from framelab.score.inputs import standard_input
from framelab.score.shard import MERGE_FORMATS
from framelab.score.writers import WRITERS
from framelab.tasks import task_names
from framelab.thresholds import RULES as THRESHOLD_RULES

log = logging.getLogger("framelab")


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _host_names(value: str) -> list[str]:
    """``--allowed-hosts``: comma-separated names; ``*`` only alone or as a leading ``*.`` (``*.example.org``)."""
    names = [n.strip().lower() for n in value.split(",")]
    for name in names:
        if not name or ("*" in name[1:]) or (name.startswith("*") and name != "*" and not name.startswith("*.")):
            raise argparse.ArgumentTypeError(
                f"{name!r} is not a host name or pattern: give names like example.org, *.example.org or *"
            )
    return names


def _folds(value: str) -> int:
    number = int(value) if value.lstrip("-").isdigit() else None
    if number is None or number == 1 or number < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (no folds) or at least 2, got {value!r}")
    return number


def _finite_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {value}")
    return number


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="run config (YAML)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. train.epochs=3 (repeatable)",
    )


def _add_resamples(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--resamples",
        type=_positive_int,
        default=DEFAULT_RESAMPLES,
        metavar="N",
        help=f"bootstrap resamples of the split's articles behind each 95%% interval (default: {DEFAULT_RESAMPLES})",
    )


def _add_force(p: argparse.ArgumentParser, what: str = "output folder") -> None:
    p.add_argument(
        "--force",
        action="store_true",
        help=f"replace an existing {what} that framelab did not write, or that holds another kind of output "
        "(without it only an empty folder or framelab's own output of the same kind is replaced)",
    )


def _cmd_data(args: argparse.Namespace) -> None:
    from framelab.config import load_config
    from framelab.dataset import build_dataset, stats_table
    from framelab.readers import write_jsonl

    strictness = [f"data.strict={args.strict}"] if args.strict is not None else []
    config = load_config(args.config, [*args.overrides, *strictness])
    if args.export:
        from framelab.errors import ProblemLog
        from framelab.output import claim
        from framelab.readers import read_corpus

        d = config.data
        out = Path(args.out or f"data/processed/{config.name}.jsonl")
        with claim(out, inputs=[d.path, d.labels, d.frames]):
            log = ProblemLog(strict=d.strict)
            articles = read_corpus(d.format, Path(d.path), log=log, label_map=d.label_map)
            log.raise_if_any()
            count = write_jsonl(articles, out)
        print(f"wrote {count} articles to {out}")
        return
    result = build_dataset(config, force=args.force)
    print(stats_table(result.stats))
    print(f"\ndataset: {result.path}  ({result.stats['seconds']} s)")


def _cmd_train(args: argparse.Namespace) -> None:
    from framelab.config import load_config
    from framelab.processes import is_main_process
    from framelab.tasks import get_task
    from framelab.train.run import train

    folds = [f"train.folds={args.folds}"] if args.folds is not None else []
    config = load_config(args.config, [*args.overrides, *folds])
    result = train(config, resume=args.resume, force=args.force)
    if not is_main_process():
        return
    print(f"model: {result.model_dir}")
    print(get_task(config.train.task).summarize_training(result.dev_metrics))
    _warn_few_groups(result.dev_metrics.get("bootstrap", {}))


def _warn_few_groups(bootstrap: dict) -> None:
    if "warning" in bootstrap:
        log.warning("warning: %s", bootstrap["warning"])


def _cmd_eval(args: argparse.Namespace) -> None:
    from framelab.eval.compare import compare_models
    from framelab.eval.report import evaluate_model
    from framelab.tasks import get_task

    if args.compare:
        comparison = compare_models(
            *args.compare, args.data, args.split, args.out, resamples=args.resamples, force=args.force
        )
        print("\n".join(comparison.lines()))
        _warn_few_groups(comparison.bootstrap)
        if comparison.out:
            print(f"report: {comparison.out}/compare.md")
        return
    result = evaluate_model(args.model, args.data, args.split, args.out, resamples=args.resamples, force=args.force)
    print(get_task(result.metrics["task"]).summarize_evaluation(result.metrics))
    _warn_few_groups(result.metrics["bootstrap"])
    print(f"report: {result.report_dir}/report.md")


def _cmd_baseline(args: argparse.Namespace) -> None:
    from framelab.eval.report import baseline_report
    from framelab.figures import shown

    result = baseline_report(args.data, args.task, args.split, args.out, resamples=args.resamples, force=args.force)
    b = result.metrics["baseline"]
    print(f"TF-IDF baseline on {args.split}: micro-F1 {shown(b['micro'], 'f1')}, macro-F1 {shown(b['macro'], 'f1')}")
    _warn_few_groups(result.metrics["bootstrap"])
    print(f"metrics: {result.report_dir}/metrics.json")


def _flow_yaml(value: object) -> str:
    """``value`` as YAML flow text: JSON, but a float with an exponent gets a dot (YAML 1.1 reads 1e-05 as text)."""
    if isinstance(value, float) and "e" in repr(value) and "." not in repr(value):
        return repr(value).replace("e", ".0e")
    if isinstance(value, list):
        return f"[{', '.join(_flow_yaml(v) for v in value)}]"
    return json.dumps(value)


def _ensemble_overrides(args: argparse.Namespace) -> list[str]:
    """The flags of ``framelab ensemble`` as ``--set`` overrides of the config fields they stand for."""
    flags = {
        "ensemble.models": args.model,
        "ensemble.weights": args.weight,
        "ensemble.threshold_rule": args.threshold_rule,
        "ensemble.threshold_min_support": args.threshold_min_support,
        "ensemble.threshold_step": args.threshold_step,
        "data.output_dir": args.data,
        "output_dir": args.out,
    }
    return [f"{key}={_flow_yaml(value)}" for key, value in flags.items() if value is not None]


def _cmd_ensemble(args: argparse.Namespace) -> None:
    from framelab.config import load_config
    from framelab.train.ensemble import build_ensemble, summary_rows

    if args.config is None and (args.data is None or args.out is None):
        raise ConfigError("give --config FILE (its ensemble: section), or --model (two or more), --data and --out")
    config = load_config(args.config, [*args.overrides, *_ensemble_overrides(args)])
    e = config.ensemble
    result = build_ensemble(
        e.models,
        config.dataset_dir,
        config.model_dir,
        weights=e.weights,
        threshold_rule=e.threshold_rule,
        min_support=e.threshold_min_support,
        step=e.threshold_step,
        force=args.force,
    )
    source = "out of fold" if result.dev_metrics["source"] == "out_of_fold" else "dev"
    print(f"{source:<34}{'micro-F1':>9}{'macro-F1':>9}{'any F1':>8}")
    for name, micro, macro, any_f1 in summary_rows(result.dev_metrics):
        print(f"{name[:34]:<34}{micro:>9.3f}{macro:>9.3f}{any_f1:>8.3f}")
    print(f"ensemble: {result.model_dir}")


def _cmd_models(args: argparse.Namespace) -> None:
    from framelab.recipes import duration, load_recipe, plan, run_recipe

    recipe = load_recipe(Path(args.recipe), args.var)
    if args.plan:
        steps = plan(recipe, force=args.force)
        for stage, what in steps:
            print(f"{what:<7}{stage.name:<28}{duration(stage.minutes):>16}  {' '.join(stage.run)}")
        left = sum(stage.minutes for stage, what in steps if what != "skip")
        print(f"about {duration(left)} to run; summary: {recipe.out}/summary.md")
        return
    run_recipe(recipe, force=args.force, recipe_path=Path(args.recipe))
    print(Path(recipe.out, "summary.md").read_text(encoding="utf-8"), end="")


def _cmd_push(args: argparse.Namespace) -> None:
    import tempfile

    from framelab.models.hub import push, upload_set

    with tempfile.TemporaryDirectory(prefix="framelab-push-") as tmp:
        upload = upload_set(args.model, args.repo, args.out or Path(tmp) / Path(args.model).name)
        for name, size in upload.files:
            print(f"{size:>14,}  {name}")
        total = sum(size for _, size in upload.files)
        print(f"{total:>14,}  bytes in {len(upload.files)} files; the card's metadata reads without a warning")
        if args.dry_run:
            kept = f" (kept in {upload.folder})" if args.out else ""
            print(f"dry run: nothing uploaded to {args.repo}{kept}")
            return
        print(f"uploaded: {push(upload, args.repo, private=args.private)}")


def _cmd_score(args: argparse.Namespace) -> None:
    if args.spans:
        _classify_spans(args)
        return
    from framelab.processes import is_main_process, world_size
    from framelab.score.distributed import score_distributed
    from framelab.score.scorer import ScoreOptions, score
    from framelab.score.shard import parse_shard

    options = ScoreOptions(
        fmt=args.format,
        out=args.out,
        batch_size=args.batch_size,
        quantize=args.quantize,
        progress=not args.quiet,
        shard=parse_shard(args.shard) if args.shard else None,
        target=args.target,
        split_workers=args.split_workers,
        on_error=args.on_error,
        excel=args.excel,
        force=args.force,
    )
    if args.engine == "ray":
        _score_with_ray(args, options)
        return
    ray_only = [flag for flag, value in _ray_flags(args) if value is not None]
    if ray_only:
        raise ValueError(f"{', '.join(ray_only)} is for --engine ray")
    # Under accelerate launch / torchrun every process scores one shard and the main one merges them into --out.
    launched = world_size() > 1
    if launched and "-" in args.inputs:
        raise ValueError(
            "'-' (standard input) reaches one process only; give files when scoring under accelerate launch / torchrun"
        )
    with standard_input(args.inputs) as inputs:
        summary = (score_distributed if launched else score)(args.model, inputs, options)
    if not is_main_process():
        return
    _report_scoring(summary)


def _ray_flags(args: argparse.Namespace) -> list[tuple[str, object]]:
    """The options of ``--engine ray`` alone, with their values."""
    return [("--address", args.address), ("--workers", args.workers), ("--batch-tokens", args.batch_tokens)]


def _score_with_ray(args: argparse.Namespace, options) -> None:
    """``framelab score --engine ray``: :func:`framelab.ray.score_with_ray`."""
    from framelab.processes import world_size

    if world_size() > 1:
        raise ValueError("--engine ray starts its own workers; run it without accelerate launch / torchrun")
    if "-" in args.inputs:
        raise ValueError("'-' (standard input) reaches the driver only; give files to --engine ray")
    from framelab.ray import BATCH_TOKENS, score_with_ray

    summary = score_with_ray(
        args.model,
        args.inputs,
        options,
        address=args.address,
        workers=args.workers,
        batch_tokens=args.batch_tokens or BATCH_TOKENS,
    )
    log.info("ray: %d shard(s) over %d worker(s)", summary.shards, summary.workers)
    _report_scoring(summary)


def _report_scoring(summary) -> None:
    """Log what a scoring run did: counts, rate, cut units, skipped inputs, files written."""
    rate = summary.units / summary.seconds if summary.seconds else 0.0
    log.info(
        "scored %d articles, %d units in %.1f s (%.0f units/s)", summary.articles, summary.units, summary.seconds, rate
    )
    for name, count in summary.cut_units.items():
        log.warning(
            "warning: %s: %d unit(s) longer than the model's max_length tokens were cut to it "
            "(the rest of each unit was not seen)",
            name,
            count,
        )
    if summary.problems:
        log.warning(
            "skipped %d bad input(s) (--on-error skip):\n%s",
            len(summary.problems),
            "\n".join(f"  - {line}" for line in summary.problems),
        )
    for path in summary.outputs:
        log.info("wrote %s", path)


def _classify_spans(args: argparse.Namespace) -> None:
    from framelab.processes import world_size
    from framelab.score.given_spans import classify_given_spans

    if len(args.model) != 1 or not args.out:
        raise ValueError(
            "--spans takes one --model (a model whose task names the technique of given spans) and --out FILE"
        )
    if world_size() > 1:
        raise ValueError("--spans runs in one process; start it without accelerate launch / torchrun")
    from framelab.output import claim

    with claim(args.out, inputs=[*args.inputs, args.spans, args.model[0]]):
        with standard_input(args.inputs) as inputs:
            count = classify_given_spans(args.model[0], inputs, args.spans, args.out, batch_size=args.batch_size)
    log.info("named the technique of %d spans; wrote %s", count, args.out)


def _cmd_select(args: argparse.Namespace) -> None:
    from framelab.active.labelstudio import label_config_path, write_tasks
    from framelab.active.pool import read_ids, select_articles, write_ids
    from framelab.output import check_output

    config_path = label_config_path(args.out)
    if args.ids and Path(args.ids).resolve() in (Path(args.out).resolve(), config_path.resolve()):
        raise ValueError("--ids names --out or its label config; give each its own file")
    for what, path in (("--out", args.out), ("--out's label config", config_path), ("--ids", args.ids)):
        if path:
            check_output(path, what=what, inputs=[*args.inputs, *args.model, args.labelled])
    labelled = read_ids(args.labelled) if args.labelled else []
    with standard_input(args.inputs) as inputs:
        chosen = select_articles(
            args.model,
            inputs,
            args.strategy,
            args.count,
            labelled_ids=labelled,
            seed=args.seed,
            batch_size=args.batch_size,
        )
    if chosen.unknown_labelled:
        log.warning(
            "warning: %d id(s) of --labelled are not in the pool, e.g. %s",
            len(chosen.unknown_labelled),
            chosen.unknown_labelled[0],
        )
    log.info(
        "picked %d of %d unlabelled articles (%s; %d labelled)",
        len(chosen.ids),
        chosen.pool_size - chosen.labelled,
        args.strategy,
        chosen.labelled,
    )
    log.info("wrote %s", " and ".join(write_tasks(args.out, chosen.picked, chosen.uncertainty, chosen.models)))
    if args.ids:
        log.info("wrote %s", write_ids(args.ids, chosen.ids))
    else:
        print("\n".join(chosen.ids))


def _cmd_merge(args: argparse.Namespace) -> None:
    from framelab.score.shard import merge

    summary = merge(args.shards, args.inputs, fmt=args.format, out=args.out, force=args.force)
    print(f"merged {summary.articles} articles into {', '.join(summary.outputs)}")


def _cmd_serve(args: argparse.Namespace) -> None:
    try:
        from framelab.serve.app import ServeSettings, default_allowed_hosts
        from framelab.serve.server import serve
    except ImportError as exc:
        raise ValueError(
            f"framelab serve needs the serve extra ({exc.name} is missing): pip install 'framelab[serve]'"
        ) from None

    settings = ServeSettings(
        model_dirs=args.model,
        host=args.host,
        port=args.port,
        workers=args.workers,
        token=args.token,
        max_batch=args.max_batch,
        batch_wait_ms=args.batch_wait_ms,
        queue_limit=args.queue,
        max_body_bytes=args.max_body,
        max_articles=args.max_articles,
        timeout_s=args.timeout,
        batch_size=args.batch_size,
        allowed_hosts=args.allowed_hosts or default_allowed_hosts(args.host),
    )
    serve(settings)


def _cmd_config(args: argparse.Namespace) -> None:
    from dataclasses import asdict

    from framelab.config import describe, load_config
    from framelab.tasks import get_task

    if args.config or args.overrides:
        print(json.dumps(asdict(load_config(args.config, args.overrides)), indent=2))
    else:
        print("\n".join(describe()))
        print("\ntasks (train.task):")
        print("\n".join(f"  {name}: {get_task(name).doc}" for name in task_names()))


#: What argparse reads as a negative number rather than an option (its own rule).
_NEGATIVE_NUMBER = re.compile(r"^-\d+$|^-\d*\.\d+$")


class _Parser(argparse.ArgumentParser):
    """argparse, but an unknown option or command is named first, with the nearest known one.

    argparse reports a missing required option before an unknown one (``--modle`` is answered
    "required: --model"), and never suggests a spelling; this parser checks the words it is given first.
    """

    def parse_known_args(self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None):
        words = list(sys.argv[1:] if args is None else args)
        if not {"-h", "--help"} & set(words):
            self._refuse_unknown(words)
        return super().parse_known_args(words, namespace)

    def _refuse_unknown(self, words: list[str]) -> None:
        commands = self._commands()
        unknown = []
        for word in words:
            if word == "--":
                break
            if not word.startswith("-") or word == "-" or _NEGATIVE_NUMBER.match(word):
                if commands is None:
                    continue
                if word not in commands:  # the command: every word after it is the sub-command's to check
                    near = _nearest(word, commands)
                    also = f"; did you mean {near}?" if near else f" (choose from {', '.join(commands)})"
                    self.error(f"argument COMMAND: invalid choice: {word!r}{also}")
                break
            name = word.split("=", 1)[0]
            if not self._knows(name):
                unknown.append((name, _nearest(name, self._long_options())))
        if len(unknown) == 1:
            name, near = unknown[0]
            self.error(f"unrecognized argument {name}" + (f"; did you mean {near}?" if near else ""))
        if unknown:
            named = (f"{name} (did you mean {near}?)" if near else name for name, near in unknown)
            self.error(f"unrecognized arguments {', '.join(named)}")

    def _commands(self) -> list[str] | None:
        """The sub-commands of this parser, or None for a parser without them."""
        found = [a for a in self._actions if isinstance(a, argparse._SubParsersAction)]
        return list(found[0].choices) if found else None

    def _long_options(self) -> list[str]:
        return [name for name in self._option_string_actions if name.startswith("--")]

    def _knows(self, name: str) -> bool:
        """Whether argparse takes ``name``: an option, an unambiguous-or-not prefix of a long one, or short flags
        run together (``-vq``)."""
        if name in self._option_string_actions:
            return True
        if name.startswith("--"):
            return self.allow_abbrev and any(option.startswith(name) for option in self._long_options())
        return all(f"-{letter}" in self._option_string_actions for letter in name[1:])


def _nearest(word: str, known: list[str]) -> str | None:
    """The known word nearest ``word`` (:func:`difflib.get_close_matches`), or None when none is near."""
    near = difflib.get_close_matches(word, known, n=1)
    return near[0] if near else None


def _cmd_completion(args: argparse.Namespace) -> None:
    print(COMPLETION_SCRIPTS[args.shell](build_parser()), end="")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = _Parser(
        prog="framelab",
        description="Framing, persuasion-technique and stance classifiers for news.\n\n"
        "The result (tables, output paths) goes to standard output; "
        "notes, warnings and progress bars to standard error.",
        epilog="example: framelab data --config configs/sample-techniques.yaml "
        "&& framelab train --config configs/sample-techniques.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    # -v and -q combine: the traceback of an error without the notes and bars.
    parser.add_argument("-v", "--verbose", action="store_true", help="debug messages, and the traceback of an error")
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no notes and no progress bars: warnings and errors only (with -v: and debug messages)",
    )
    # Sub-commands take -v/-q too (framelab score -q …); SUPPRESS keeps a flag given before the sub-command.
    sub_manners = argparse.ArgumentParser(add_help=False)
    sub_manners.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="debug messages, and the traceback of an error",
    )
    sub_manners.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="no notes and no progress bars: warnings and errors only (with -v: and debug messages)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_parser = sub.add_parser

    def add_command(name: str, *, help: str, example: str) -> argparse.ArgumentParser:
        return add_parser(
            name,
            help=help,
            description=help[0].upper() + help[1:] + ".",
            epilog=f"example:\n  {example}",
            parents=[sub_manners],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    sub.add_parser = add_command

    p = sub.add_parser(
        "data",
        help="corpus -> unit dataset folder (or --export jsonl)",
        example="framelab data --config configs/semeval2023-lines.yaml --set data.path=../shared/data/semeval2023-en",
    )
    _add_config(p)
    p.add_argument(
        "--force",
        action="store_true",
        help="replace a dataset folder built from other settings, or a folder framelab did not write",
    )
    strict = p.add_mutually_exclusive_group()
    strict.add_argument(
        "--strict", dest="strict", action="store_const", const="true", help="fail on any data problem (the default)"
    )
    strict.add_argument(
        "--lenient",
        dest="strict",
        action="store_const",
        const="false",
        help="drop bad records and list them in stats.json",
    )
    p.add_argument("--export", choices=["jsonl"], help="write the corpus as framelab JSONL instead of a dataset")
    p.add_argument("--out", help="file for --export (default data/processed/<name>.jsonl)")
    p.set_defaults(func=_cmd_data)

    p = sub.add_parser(
        "train",
        help="fine-tune a model -> model folder",
        example="framelab train --config configs/sample-techniques.yaml --set train.epochs=2",
    )
    _add_config(p)
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from its last checkpoint (k-fold techniques and span runs: from the "
        "folds it finished)",
    )
    p.add_argument(
        "--folds",
        type=_folds,
        metavar="K",
        help="k-fold by article, thresholds from out-of-fold predictions, then refit on every article (train.folds)",
    )
    _add_force(p, "model folder (output_dir)")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "eval",
        help="model + dataset split -> report folder",
        example="framelab eval --model models/sample-techniques --data data/processed/sample-sentence --split dev",
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", help="model folder")
    which.add_argument(
        "--compare",
        nargs=2,
        metavar=("MODEL_A", "MODEL_B"),
        help="two model folders of one task: each one's lead figure and A − B, with 95%% intervals (paired bootstrap)",
    )
    p.add_argument("--data", required=True, help="dataset folder (from framelab data)")
    p.add_argument("--split", default="dev", choices=["train", "dev", "test"])
    p.add_argument("--out", help="report folder (default reports/<model>-<split>; with --compare: none unless given)")
    _add_resamples(p)
    _add_force(p, "report folder")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser(
        "ensemble",
        help="average technique models and span taggers "
        "(e.g. a line model, a sentence model and a span tagger) -> ensemble folder",
        example="framelab ensemble --model models/semeval2023-lines --model models/semeval2023-spans "
        "--data data/processed/semeval2023-lines --out models/lines+spans",
    )
    p.add_argument(
        "--config",
        help="run config: its ensemble: section names the members and thresholds, its dataset folder the units, its "
        "model folder the ensemble folder; each flag below overrides the field in brackets (framelab config lists "
        "their defaults)",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. ensemble.threshold_step=0.01 (repeatable)",
    )
    p.add_argument(
        "--model",
        action="append",
        help="techniques or spans model folder, two or more; the first sets the labels [ensemble.models]",
    )
    p.add_argument(
        "--data",
        help="dataset folder whose units the ensemble labels and whose dev split sets its threshold [data.output_dir]",
    )
    p.add_argument(
        "--weight", action="append", type=_finite_float, help="one weight per --model, in order [ensemble.weights]"
    )
    p.add_argument(
        "--threshold-rule",
        choices=THRESHOLD_RULES,
        help="how thresholds are tuned (framelab/thresholds.py); the per-label rules are meant for members trained "
        "with --folds [ensemble.threshold_rule]",
    )
    p.add_argument(
        "--threshold-min-support",
        type=int,
        help="per-label rules: labels with fewer positives keep the fallback [ensemble.threshold_min_support]",
    )
    p.add_argument(
        "--threshold-step",
        type=float,
        help="spacing of the threshold grid searched; 0.01 suits out-of-fold members [ensemble.threshold_step]",
    )
    p.add_argument("--out", help="ensemble folder [output_dir]")
    _add_force(p, "ensemble folder")
    p.set_defaults(func=_cmd_ensemble)

    p = sub.add_parser(
        "models",
        help="run a recipe of stages (data, k-fold training, ensembles, TF-IDF on the same folds) into one summary "
        "table; finished stages are skipped, an interrupted one resumes",
        example="framelab models --recipe configs/recipes/models.yaml --var shared=../shared/data",
    )
    p.add_argument(
        "--recipe",
        default="configs/recipes/models.yaml",
        help="recipe file (YAML; default: configs/recipes/models.yaml)",
    )
    p.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a variable of the recipe (its vars:), e.g. shared=../shared/data (repeatable)",
    )
    p.add_argument("--force", action="store_true", help="run every stage again, even one whose output exists")
    p.add_argument(
        "--plan", action="store_true", help="list each stage, what a run would do with it and its estimate; run none"
    )
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser(
        "baseline",
        help="TF-IDF + logistic regression on a dataset -> metrics",
        example="framelab baseline --data data/processed/sample-sentence --task techniques",
    )
    p.add_argument("--data", required=True, help="dataset folder")
    p.add_argument("--task", required=True, choices=task_names(), help="a task with a TF-IDF baseline")
    p.add_argument("--split", default="dev", choices=["train", "dev", "test"])
    p.add_argument("--out", help="report folder")
    _add_resamples(p)
    _add_force(p, "report folder")
    p.set_defaults(func=_cmd_baseline)

    p = sub.add_parser(
        "score",
        help="score articles with saved models",
        example="framelab score --model models/sample-techniques --format html --out article.html article.txt   "
        "(or: cat article.txt | framelab score --model … -)",
    )
    p.add_argument("--model", action="append", required=True, help="model folder (repeatable)")
    p.add_argument(
        "inputs",
        nargs="+",
        help=".txt files, folders of them, or .jsonl files; - reads one article from standard input (id: stdin)",
    )
    p.add_argument("--format", default="jsonl", choices=list(WRITERS))
    p.add_argument(
        "--spans",
        metavar="FILE",
        help="span model: name the technique of each span in FILE (id<TAB>?<TAB>start<TAB>end) "
        "and write id<TAB>technique<TAB>start<TAB>end to --out",
    )
    p.add_argument("--out", help="output file (folder for semeval2023); default standard output")
    p.add_argument(
        "--excel",
        action="store_true",
        help="csv: start with a UTF-8 byte-order mark, so that Excel reads non-ASCII text",
    )
    p.add_argument("--batch-size", type=_positive_int, default=64)
    p.add_argument("--quantize", choices=["int8"], help="dynamic int8 quantisation of the linear layers")
    p.add_argument(
        "--target",
        action="append",
        help="stance target for stance models (articles from JSONL may carry their own); "
        "repeat for each article's stance toward each target",
    )
    p.add_argument(
        "--shard",
        metavar="K/N",
        help="score only shard K of N (0 <= K < N, by a hash of the article id); needs --out, "
        "beside which it writes the manifest framelab merge checks (<out>.manifest.json)",
    )
    p.add_argument(
        "--split-workers",
        type=_positive_int,
        metavar="N",
        help="processes that cut articles into sentences (default: one per usable CPU; 1: none)",
    )
    p.add_argument(
        "--on-error",
        choices=["strict", "skip"],
        default="strict",
        help="strict (default): a bad input file stops the run before any model loads; "
        "skip: leave bad files out, list them on stderr and in a 'problems' record (jsonl)",
    )
    p.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local (default): this process (or those of accelerate launch/torchrun); "
        "ray: actors on a Ray cluster (pip install 'framelab[ray]'), shards merged into --out",
    )
    p.add_argument("--address", help="--engine ray: the cluster to join (auto: the one `ray start` runs here)")
    p.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="--engine ray: scoring actors (default: one per GPU, else one per CPU of the cluster)",
    )
    p.add_argument(
        "--batch-tokens",
        type=_positive_int,
        metavar="N",
        help="--engine ray: tokens (words and punctuation) of one shard, the unit Ray schedules and retries",
    )
    _add_force(p, "--out folder (semeval2023)")
    p.set_defaults(func=_cmd_score)

    p = sub.add_parser(
        "select",
        help="pick the next articles to annotate from a pool scored by saved models -> Label Studio import file "
        "and their ids",
        example="framelab select --model models/sample-techniques --count 30 --strategy both --out next.json "
        "--ids next.txt pool/",
    )
    p.add_argument("--model", action="append", required=True, help="model folder (repeatable)")
    p.add_argument("inputs", nargs="+", help="the pool: what framelab score reads (.txt files, folders, .jsonl; -)")
    p.add_argument("--count", type=_positive_int, default=30, metavar="N", help="articles to pick (default 30)")
    p.add_argument(
        "--strategy",
        choices=list(STRATEGIES),
        default="uncertainty",
        help="; ".join(f"{s.name}: {s.doc}" for s in STRATEGIES.values()) + " (framelab/active/strategies.py)",
    )
    p.add_argument(
        "--labelled",
        metavar="FILE",
        help="ids already annotated, one a line (an earlier --ids): never picked; diversity measures from them",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random strategy")
    p.add_argument("--batch-size", type=_positive_int, default=64)
    p.add_argument(
        "--out",
        required=True,
        help="Label Studio import file (JSON list of tasks, as score --format labelstudio writes) of the articles "
        "picked; their label config goes beside it as <stem>.label_config.xml",
    )
    p.add_argument("--ids", help="file for their ids, one a line, in the order picked (default: standard output)")
    p.set_defaults(func=_cmd_select)

    p = sub.add_parser(
        "push",
        help="upload a model or ensemble folder to the Hugging Face Hub, its card checked first "
        "(--dry-run: build and check the upload, list its files, upload nothing)",
        example="framelab push --model models/sample-techniques --repo your-name/sample-techniques --dry-run",
    )
    p.add_argument("--model", required=True, help="model or ensemble folder")
    p.add_argument("--repo", required=True, help="Hub model id, owner/name (created if new)")
    p.add_argument("--private", action="store_true", help="create the repository private")
    p.add_argument("--dry-run", action="store_true", help="build and check the upload set; no network, no upload")
    p.add_argument(
        "--out", help="build the upload set in this new or empty folder and keep it (default: a temporary one)"
    )
    p.set_defaults(func=_cmd_push)

    p = sub.add_parser(
        "merge",
        help="join the outputs of framelab score --shard K/N runs",
        example="framelab merge part0.jsonl part1.jsonl --inputs articles/ --out all.jsonl",
    )
    p.add_argument(
        "shards",
        nargs="+",
        help="shard output files (folders for semeval2023), each with the <shard>.manifest.json its run wrote",
    )
    p.add_argument(
        "--inputs", nargs="+", required=True, help="the inputs every shard was given (fix order, check completeness)"
    )
    p.add_argument("--format", default="jsonl", choices=list(MERGE_FORMATS))
    p.add_argument("--out", required=True, help="merged file (folder for semeval2023)")
    _add_force(p, "--out folder (semeval2023)")
    p.set_defaults(func=_cmd_merge)

    p = sub.add_parser(
        "serve",
        help="score articles over HTTP (POST /score) and in a browser page (GET /)",
        example="framelab serve --model models/sample-techniques --port 8000   (then open http://127.0.0.1:8000/)",
    )
    p.add_argument("--model", action="append", required=True, help="model folder (repeatable)")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; any other needs a token)"
    )
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=_positive_int, default=1, help="worker processes, each loading the models once")
    p.add_argument("--token", help="bearer token clients must send (default: $FRAMELAB_SERVE_TOKEN; none on loopback)")
    p.add_argument(
        "--max-batch", type=_positive_int, default=32, help="most articles in one forward pass (1: batching off)"
    )
    p.add_argument("--batch-wait-ms", type=float, default=5.0, help="how long a batch waits for more requests")
    p.add_argument("--queue", type=_positive_int, default=64, help="requests waiting before the server answers 503")
    p.add_argument(
        "--max-body", type=_positive_int, default=1 << 20, metavar="BYTES", help="largest request body (413 beyond)"
    )
    p.add_argument("--max-articles", type=_positive_int, default=64, help="most articles in one request (413 beyond)")
    p.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds a request may wait for its results (504 beyond)",
    )
    p.add_argument(
        "--batch-size",
        type=_positive_int,
        default=16,
        help="texts per forward pass; a long article takes turns with other requests at each pass, so a short "
        "request waits for at most one such pass of it (16: bench/serve.py's long-article phase, docs/benchmarks.md)",
    )
    p.add_argument(
        "--allowed-hosts",
        type=_host_names,
        metavar="NAMES",
        help="comma-separated Host names requests may use, e.g. example.org,*.example.org "
        "(default: the --host name, plus localhost and 127.0.0.1 on loopback; 400 otherwise)",
    )
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser(
        "config",
        help="list every config field with its doc, or show a resolved config",
        example="framelab config --config configs/fnc1.yaml --set train.epochs=2",
    )
    p.add_argument("--config", help="config to resolve (omit to list the fields)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=_cmd_config)

    p = sub.add_parser(
        "completion",
        help="print a shell completion script for framelab's commands, options and choices",
        example="framelab completion bash > ~/.local/share/bash-completion/completions/framelab   "
        "(zsh: framelab completion zsh > ~/.zfunc/_framelab, with ~/.zfunc on $fpath)",
    )
    p.add_argument("shell", choices=list(COMPLETION_SCRIPTS), help="the shell to complete in")
    p.set_defaults(func=_cmd_completion)
    return parser


#: Errors a user causes and can fix (bad input, config, paths, permissions): exit status 2, one line.
USER_ERRORS = (DataError, ConfigError, ValueError, OSError)


class Terminated(SystemExit):
    """SIGTERM, raised in the main thread so that every ``finally`` and cleanup runs."""


def _on_sigterm(signum, frame) -> None:
    if os.getpid() != _MAIN_PID:
        # A forked helper (sentence splitting) dies as before.
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    # One is enough: a second SIGTERM must not cut the cleanup short (SIGKILL still ends the process).
    signal.signal(signum, signal.SIG_IGN)
    interrupt(Terminated(128 + signum))


def _on_sigint(signum, frame) -> None:
    if os.getpid() != _MAIN_PID:
        raise KeyboardInterrupt
    interrupt(KeyboardInterrupt())


_MAIN_PID = os.getpid()


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Without ``-v`` an error prints one line, ``framelab <command>: error: …``:
    exit status 2 for what the user can fix, 1 for anything else (rerun with
    ``-v`` for the traceback). SIGTERM and Ctrl-C remove every temporary output.
    When the reader of standard output goes away (``framelab config | head -1``)
    the command stops without a message, with the status of a process killed by
    SIGPIPE (141), as ``git`` and ``cat`` do.
    """
    global _MAIN_PID
    args = build_parser().parse_args(argv)
    _MAIN_PID = os.getpid()
    _configure_logging(args.verbose, args.quiet)
    log.debug("framelab %s %s: %s", __version__, args.command, {k: v for k, v in vars(args).items() if k != "func"})
    handlers = {signal.SIGTERM: _on_sigterm, signal.SIGINT: _on_sigint} if _is_main_thread() else {}
    previous = {number: signal.signal(number, handler) for number, handler in handlers.items()}
    try:
        with no_progress_bars() if args.quiet else nullcontext():
            args.func(args)
            sys.stdout.flush()  # a reader gone shows here, not in the interpreter's flush at exit
    except KeyboardInterrupt:
        cleanup()  # whatever temporaries and locks the interrupted command still held
        log.error("framelab %s: interrupted; no partial output left", args.command)
        return 130
    except Terminated as exc:
        cleanup()  # whatever temporaries and locks the interrupted command still held
        log.error("framelab %s: terminated (SIGTERM); no partial output left", args.command)
        return int(exc.code)
    except BrokenPipeError as exc:
        if not _stdout_gone():
            return _user_error(args, exc)
        _discard_stdout()
        return CLOSED_PIPE
    except USER_ERRORS as exc:
        return _user_error(args, exc)
    except Exception as exc:  # noqa: BLE001 - one line instead of a traceback; -v shows it
        if args.verbose:
            traceback.print_exc()
        log.error(
            "framelab %s: error: %s: %s (an internal error: rerun with -v for the traceback and report it)",
            args.command,
            type(exc).__name__,
            _one_line(exc),
        )
        return 1
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 0


#: The exit status when standard output's reader has gone: that of a process killed by SIGPIPE (128 + 13).
CLOSED_PIPE = 141


def _user_error(args: argparse.Namespace, exc: BaseException) -> int:
    """Report an error the user can fix in one line (the traceback too with ``-v``); exit status 2."""
    if args.verbose:
        traceback.print_exc()
    log.error("framelab %s: error: %s", args.command, _one_line(exc))
    return 2


def _stdout_gone() -> bool:
    """Whether standard output is a pipe whose reader has closed it: a broken pipe anywhere else is an error."""
    try:
        fd = sys.stdout.fileno()
        if not hasattr(select, "poll"):  # Windows: that it is a pipe is the best sign there is
            return stat.S_ISFIFO(os.fstat(fd).st_mode)
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no file descriptor (a test's or an embedding tool's stream)
        return False


def _discard_stdout() -> None:
    """Point standard output at the null device, so that the interpreter's flush at exit finds no broken pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (tests and embedding tools swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def _configure_logging(verbose: bool, quiet: bool) -> None:
    """framelab's messages to standard error, bare; -v adds debug messages, -q (alone) keeps warnings and
    errors only."""
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)


def _is_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _one_line(exc: BaseException) -> str:
    """The message of ``exc``; an OSError as its file and reason."""
    if isinstance(exc, OSError) and not isinstance(exc, (DataError, ConfigError)) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}"
    return str(exc) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
