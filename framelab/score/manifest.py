"""The shard manifest: what ``framelab score --shard K/N`` wrote, written beside it; its one writer and one reader.

A shard's output cannot vouch for itself: a JSONL file cut at a line boundary still parses, a CSV has no row
for an article without units, a semeval2023 folder names no model, and none of them says which shard of
which split it is. So once a sharded run has moved its output into place it writes ``<out>.manifest.json``
beside it (the folder formats too: beside the folder, not in it), and ``framelab merge``
(:mod:`framelab.score.shard`) refuses a shard whose manifest is missing or does not match it. The manifest
holds:

- ``shard``/``shards``: K and N of ``--shard K/N``;
- ``format``: the ``--format`` of the run;
- ``models``: each model folder's name, task and fingerprint (:func:`model_fingerprint`), and
  ``settings``: the options that change predictions (``quantize``, stance ``targets``);
- ``articles`` and ``article_ids``: how many articles the shard scored and a sha256 of their ids in
  order (:class:`IdDigest`), which merge recomputes from its ``--inputs``;
- ``files``: each output file's name, size, line count and sha256.

Move or copy a manifest together with its shard, under the shard's name plus ``.manifest.json``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from framelab import __version__
from framelab.errors import DataError, Problem
from framelab.output import MARKER, AtomicFile
from framelab.score.writers import WRITERS

SUFFIX = ".manifest.json"
#: Files of a model folder (at any depth: ensemble members) that scoring never reads: left out of its fingerprint.
_NOT_READ = frozenset({"out_of_fold.safetensors"})
_CHUNK = 1 << 20
#: How pydantic reads the records below (:func:`read_manifest`): exact types, no field unknown to this framelab.
_STRICT = {"extra": "forbid", "strict": True}


@dataclass(frozen=True)
class ModelStamp:
    """One model folder a shard was scored with."""

    __pydantic_config__ = _STRICT
    name: str
    task: str
    fingerprint: str


@dataclass(frozen=True)
class FileStamp:
    """One output file: its name (in a folder output; a one-file output: its name when written), size, lines, sha256."""

    __pydantic_config__ = _STRICT
    name: str
    bytes: int
    lines: int
    sha256: str


@dataclass(frozen=True)
class ShardManifest:
    """What one ``framelab score --shard K/N`` run wrote; the fields are described in the module docstring."""

    __pydantic_config__ = _STRICT
    shard: int
    shards: int
    format: str
    models: list[ModelStamp]
    settings: dict[str, str | list[str] | None]
    articles: int
    article_ids: str
    files: list[FileStamp]
    manifest: Literal[1] = 1
    framelab_version: str = __version__

    @property
    def spec(self) -> str:
        """``K/N``, as ``--shard`` takes it."""
        return f"{self.shard}/{self.shards}"

    def same_run(self, other: ShardManifest) -> bool:
        """Whether both shards were scored with the same models, settings and format."""
        return (self.format, self.models, self.settings) == (other.format, other.models, other.settings)


class IdDigest:
    """The count and sha256 of a sequence of article ids, fed one at a time (ids hold no newline)."""

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self.count = 0
        self._sha = hashlib.sha256()
        for article_id in ids:
            self.add(article_id)

    def add(self, article_id: str) -> None:
        self.count += 1
        self._sha.update(article_id.encode("utf-8") + b"\n")

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def manifest_path(output: str | Path) -> Path:
    """Where the manifest of shard output ``output`` (a file or a folder) lies: beside it."""
    output = Path(output)
    return output.with_name(output.name + SUFFIX)


def model_fingerprint(model_dir: str | Path) -> str:
    """A sha256 over every ``.json`` and ``.safetensors`` file of a model (or ensemble) folder, at any depth.

    The folder's name alone would take a retrained or re-thresholded model for the same one; its
    ``framelab.json`` alone would miss other weights under the same settings. The weights are read once
    more per sharded run, after loading them has put them in the page cache.
    """
    root = Path(model_dir)
    total = hashlib.sha256()
    files = sorted(p for p in root.rglob("*") if p.suffix in (".json", ".safetensors") and p.is_file())
    for path in files:
        if path.name not in _NOT_READ:
            total.update(f"{path.relative_to(root).as_posix()}\0{_stamp(path, '').sha256}\n".encode())
    return total.hexdigest()


def _stamp(path: Path, name: str) -> FileStamp:
    sha, size, lines = hashlib.sha256(), 0, 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha.update(chunk)
            size += len(chunk)
            lines += chunk.count(b"\n")
    return FileStamp(name=name, bytes=size, lines=lines, sha256=sha.hexdigest())


def write_manifest(
    out: str | Path,
    *,
    shard: tuple[int, int],
    fmt: str,
    models: list[ModelStamp],
    settings: dict[str, str | list[str] | None],
    ids: IdDigest,
    outputs: list[str],
) -> Path:
    """Write the manifest of the shard output ``out`` (already in place, its files ``outputs``); returns its path."""
    out = Path(out)
    files = [_stamp(Path(p), Path(p).name) for p in outputs]
    manifest = ShardManifest(
        shard=shard[0],
        shards=shard[1],
        format=fmt,
        models=models,
        settings=settings,
        articles=ids.count,
        article_ids=ids.hexdigest(),
        files=files,
    )
    with AtomicFile(manifest_path(out)) as target:
        target.handle.write(json.dumps(asdict(manifest), indent=2, ensure_ascii=False) + "\n")
    return manifest_path(out)


def read_manifest(output: str | Path) -> ShardManifest:
    """The manifest beside shard output ``output``; :class:`DataError` when it is missing or not one."""
    output = Path(output)
    path = manifest_path(output)
    if not path.is_file():
        raise DataError(
            Problem(
                str(path),
                None,
                f"no shard manifest beside {output}",
                f"copy it along with the shard, or re-score the shard with this framelab (score --shard K/N --out "
                f"{output}): merge checks every shard against the manifest that run writes, and refuses shards without",
            )
        )
    # pydantic is imported here, not with the module: the CLI loads this module for every command.
    from pydantic import TypeAdapter, ValidationError

    try:
        return TypeAdapter(ShardManifest).validate_json(path.read_bytes())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or "the file"
        raise DataError(
            Problem(
                str(path),
                None,
                f"not a framelab shard manifest ({where}: {first['msg']})",
                f"re-score the shard with framelab score --shard K/N --out {output}",
            )
        ) from None


def check_against(output: str | Path, manifest: ShardManifest) -> list[Problem]:
    """How shard output ``output`` differs from what its manifest says was written (an empty list: not at all)."""
    output = Path(output)
    hint = f"re-score it with framelab score --shard {manifest.spec} --out {output}"
    writer = WRITERS.get(manifest.format)
    if writer is None:
        return [Problem(str(manifest_path(output)), None, f"unknown --format {manifest.format!r}", hint)]
    kind = "folder" if writer.folder else "file"
    if not (output.is_dir() if writer.folder else output.is_file()):
        found = "no such file or folder" if not output.exists() else f"not a {kind}"
        return [Problem(str(output), None, f"{found}, but its manifest says {manifest.format} wrote a {kind}", hint)]
    if writer.folder:
        stamped = {(output / f.name): f for f in manifest.files}
        # framelab's output marker (framelab.output.MARKER) is part of every folder output, not of the shard.
        others = sorted(p.name for p in output.iterdir() if p not in stamped and p.name != MARKER)
        problems = [
            Problem(str(output / name), None, "not written by this shard's scoring run", hint) for name in others
        ]
    else:
        stamped = {output: manifest.files[0]} if manifest.files else {}
        problems = [] if stamped else [Problem(str(manifest_path(output)), None, "lists no output file", hint)]
    for path, expected in stamped.items():
        if not path.is_file():
            problems.append(Problem(str(path), None, "missing from this shard", hint))
            continue
        found = _stamp(path, expected.name)
        if (found.lines, found.bytes) != (expected.lines, expected.bytes):
            message = (
                f"holds {found.lines} line(s) ({found.bytes} bytes), but its manifest says {expected.lines} "
                f"({expected.bytes} bytes): cut or changed after scoring"
            )
            problems.append(Problem(str(path), None, message, hint))
        elif found.sha256 != expected.sha256:
            problems.append(
                Problem(str(path), None, "changed after scoring (its sha256 differs from the manifest's)", hint)
            )
    return problems
