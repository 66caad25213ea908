"""``framelab push``: a model folder's upload set, checked as the Hugging Face Hub reads it, and its upload.

The upload set is the folder (a model or an ensemble folder) less what only training kept (``logs/``,
checkpoints, hidden files), with the Hub id written into the card where it says :data:`HUB_ID`.
:func:`check_card` reads the card with ``huggingface_hub.ModelCard`` offline and refuses it on any warning
the library logs, metadata it cannot read, a licence without its name and link, a base model that is not a
Hub id or a ``model-index`` without figures (``ModelCard.validate`` would ask the Hub: it is not called).
:func:`push` uploads with ``HfApi.create_repo`` and ``HfApi.upload_folder``; a dry run stops before them.
"""

from __future__ import annotations

import logging
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import HfApi, ModelCard, metadata_load
from huggingface_hub.utils import HFValidationError, validate_repo_id

from framelab.errors import ConfigError, DataError, Problem
from framelab.models.card import HUB_ID
from framelab.models.ensemble import ENSEMBLE_FILE
from framelab.models.folder import META_FILE
from framelab.models.provenance import is_hub_id

CARD = "README.md"
_REBUILD = "retrain or rebuild the folder with this framelab"
#: Names in a model folder that never go up: the trainer's logs and checkpoints, and hidden files.
NOT_UPLOADED = ("logs", "checkpoint-*", ".*")


@dataclass(frozen=True)
class UploadSet:
    """A folder ready to upload, its files (path in the repository, bytes) and its card as the Hub reads it."""

    folder: Path
    files: list[tuple[str, int]]
    card: ModelCard


def check_repo_id(repo: str) -> None:
    """ConfigError unless ``repo`` is a Hub model id, ``owner/name``."""
    try:
        validate_repo_id(repo)
    except HFValidationError as exc:
        raise ConfigError(f"--repo {repo!r} is not a Hub id: {exc}") from exc
    if repo.count("/") != 1:
        raise ConfigError(f"--repo {repo!r} is not a Hub id: give it as owner/name")


def _model_folder(model_dir: Path) -> None:
    if not ((model_dir / META_FILE).is_file() or (model_dir / ENSEMBLE_FILE).is_file()):
        raise DataError(
            Problem(str(model_dir), None, "not a framelab model or ensemble folder", "give a folder framelab wrote")
        )
    if not (model_dir / CARD).is_file():
        raise DataError(Problem(str(model_dir / CARD), None, "no model card", "retrain or rebuild the folder"))


def build_upload(model_dir: str | Path, repo: str, out: str | Path) -> Path:
    """Copy what ``model_dir`` uploads into ``out`` (a new or empty folder), the card naming ``repo``."""
    model_dir, out = Path(model_dir), Path(out)
    check_repo_id(repo)
    _model_folder(model_dir)
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"--out {out} is not empty: give a new or empty folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(model_dir, out, ignore=shutil.ignore_patterns(*NOT_UPLOADED), dirs_exist_ok=True)
    for card in out.rglob(CARD):  # an ensemble's members keep their own cards
        card.write_text(card.read_text(encoding="utf-8").replace(HUB_ID, repo), encoding="utf-8")
    return out


class _Warnings(logging.Handler):
    """Collects what huggingface_hub logs at warning level or above."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _caught() -> Iterator[list[str]]:
    """The warnings huggingface_hub logs or raises inside the block, as messages."""
    handler, logger = _Warnings(), logging.getLogger("huggingface_hub")
    logger.addHandler(handler)
    messages: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as raised:
            warnings.simplefilter("always")
            yield messages
    finally:
        logger.removeHandler(handler)
    messages += handler.messages + [str(w.message) for w in raised]


def _metadata_problems(folder: Path, data: dict) -> list[str]:
    """What the Hub would refuse or misread in the card's metadata (``data``: ``ModelCardData.to_dict()``)."""
    problems = []
    license = data.get("license")
    if not license:
        problems.append("no license")
    if license == "other":
        link = data.get("license_link", "")
        if not data.get("license_name") or not link:
            problems.append("license: other without license_name and license_link")
        elif not link.startswith("https://") and not (folder / link).is_file():
            problems.append(f"license_link {link} is not in the upload")
    bases = data.get("base_model") or []
    for base in [bases] if isinstance(bases, str) else bases:
        if not is_hub_id(base):
            problems.append(f"base_model {base!r} is not a Hub id")
    results = data.get("model-index") or []
    metrics = [m for entry in results for r in entry.get("results", []) for m in r.get("metrics", [])]
    if not metrics or any(not isinstance(m.get("value"), (int, float)) for m in metrics):
        problems.append("model-index reports no figure (or a figure that is not a number)")
    return problems


def check_card(folder: str | Path) -> ModelCard:
    """The card of upload set ``folder`` as ``huggingface_hub`` reads it; DataError listing every problem."""
    folder = Path(folder)
    path = folder / CARD
    try:
        with _caught() as messages:
            card = ModelCard.load(path)
            front = metadata_load(path)
            data = card.data.to_dict()
    except ValueError as exc:  # metadata ModelCardData cannot parse (a model-index without its task, ...)
        raise DataError(Problem(str(path), None, f"huggingface_hub cannot read its metadata: {exc}", _REBUILD)) from exc
    problems = [f"huggingface_hub warns: {m}" for m in messages]
    if not front:
        problems.append("no YAML metadata at its top")
    else:
        problems += _metadata_problems(folder, data)
    if HUB_ID in card.text:
        problems.append(f"the card still says {HUB_ID}")
    if problems:
        raise DataError(
            Problem(str(path), None, "; ".join(problems), "retrain or rebuild the folder with this framelab")
        )
    return card


def upload_set(model_dir: str | Path, repo: str, out: str | Path) -> UploadSet:
    """Build the upload set of ``model_dir`` for ``repo`` into ``out`` and check its card."""
    folder = build_upload(model_dir, repo, out)
    card = check_card(folder)
    files = sorted((p.relative_to(folder).as_posix(), p.stat().st_size) for p in folder.rglob("*") if p.is_file())
    return UploadSet(folder, files, card)


def push(upload: UploadSet, repo: str, *, private: bool = False) -> str:
    """Create ``repo`` (if new) and upload the checked ``upload`` set to it; the commit's URL."""
    api = HfApi()
    api.create_repo(repo, private=private, exist_ok=True)
    info = api.upload_folder(
        repo_id=repo, folder_path=str(upload.folder), commit_message=f"framelab push of {upload.folder.name}"
    )
    return str(getattr(info, "commit_url", info))
