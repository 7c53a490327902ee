"""Save a fitted :class:`~clustering.estimator.TextClusterer` to a folder, load it.

A model folder holds three files:

``manifest.json``
    Format version, package versions, sentence model, parameters, fitted values,
    a hash of the texts it was fitted on, and a SHA-256 of each other file.
``arrays.npz``
    The fitted texts and their vectors, both reductions' coordinates, HDBSCAN's
    condensed tree and the labels (numpy arrays, no Python objects).
``groups.json``
    Each group's label, size, keywords and central texts.

Trust model: loading reads JSON and numpy arrays with ``allow_pickle=False`` only,
so a model folder cannot run code when it is loaded, wherever it comes from. The
UMAP and HDBSCAN state needed to place new rows is rebuilt from the arrays (see
:mod:`clustering.assign`) rather than unpickled. Two cautions remain: the
manifest names the sentence model used to embed new texts (loaded as for ``fit``,
with sentence-transformers' ``trust_remote_code`` off), and the folder holds the
fitted texts themselves, so share it only where the texts may go.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from clustering.errors import ModelError, OutputError

if TYPE_CHECKING:
    from clustering.estimator import TextClusterer

logger = logging.getLogger(__name__)

FORMAT = "clustering-model"
#: Bumped whenever the folder's layout or meaning changes.
FORMAT_VERSION = 1
MODEL_FILES = ("manifest.json", "arrays.npz", "groups.json")

#: Packages whose major.minor version must match between saving and loading:
#: the placement of new rows follows their internals.
_PINNED = ("umap-learn", "hdbscan")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def texts_sha256(texts: list[str], counts: np.ndarray) -> str:
    """Hash of what a model was fitted on: the distinct texts and their counts.

    It does not depend on row order, so a shuffled copy of an input hashes the same.
    """
    digest = hashlib.sha256()
    for text, count in zip(texts, counts, strict=True):
        digest.update(f"{int(count)}\t{text}\n".encode())
    return digest.hexdigest()


def _major_minor(version: str | None) -> str | None:
    return ".".join(version.split(".")[:2]) if version else None


def save_model(
    model: TextClusterer,
    path: str | os.PathLike,
    *,
    force: bool = False,
    extra: dict | None = None,
) -> Path:
    """Write a fitted model into the folder ``path`` (created if missing).

    Parameters
    ----------
    model : TextClusterer
        A fitted estimator.
    path : str or os.PathLike
    force : bool, default=False
        Replace a model already in ``path``.
    extra : dict, optional
        More facts for the manifest, such as the input file's hash.

    Returns
    -------
    pathlib.Path
    """
    from clustering.pipeline import package_versions

    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"model folder {folder} is a file, not a folder")
    if (folder / "manifest.json").exists() and not force:
        raise OutputError(
            f"{folder} already holds a model; pass --force (force=True in Python) "
            "to replace it, or choose another folder"
        )
    state = model.model_state_
    prepared = model.prepared_
    arrays = {
        "texts": np.array(state.texts, dtype=str),
        "vectors": state.vectors,
        "labels": state.labels,
        "strengths": state.strengths,
        "cluster_coords": state.cluster_coords,
        "map_coords": state.map_coords,
        "hdbscan_labels": state.hdbscan_labels,
        "counts": prepared.counts,
        "row_to_unique": prepared.row_to_unique,
        "skip_reason": prepared.skip_reason.astype(str),
    }
    if state.condensed_tree is not None:
        arrays["condensed_tree"] = state.condensed_tree
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": package_versions(),
        "model": {
            "name": model.model_name_,
            "key": model.embedder_.model_key if model.embedder_ else None,
            "dimensions": int(state.vectors.shape[1]),
        },
        "params": model.get_params(),
        "column": prepared.column,
        "fitted": {
            "min_cluster_size": state.min_cluster_size,
            "min_samples": state.min_samples,
            "n_groups": len(model.groups_),
            "n_texts": len(state.texts),
            "n_rows": prepared.n_rows,
        },
        "umap": {
            "cluster": state.cluster_umap.scalars() if state.cluster_umap else None,
            "map": state.map_umap.scalars() if state.map_umap else None,
        },
        "input": {"texts_sha256": texts_sha256(state.texts, prepared.counts)},
        "notes": list(model.notes_),
    }
    if extra:
        manifest.update(extra)

    # Write into a staging folder, then move the files into place.
    try:
        folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".model-", dir=folder))
        np.savez_compressed(staging / "arrays.npz", **arrays)
        groups = [g.to_dict() for g in model.groups_]
        (staging / "groups.json").write_text(
            json.dumps(groups, indent=2, ensure_ascii=False), encoding="utf-8"
        )
        manifest["files"] = {
            name: _sha256(staging / name) for name in ("arrays.npz", "groups.json")
        }
        (staging / "manifest.json").write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8"
        )
        for name in MODEL_FILES:
            os.replace(staging / name, folder / name)
    except OSError as error:
        raise OutputError(f"cannot write the model to {folder}: {error}") from None
    finally:
        if "staging" in locals():
            shutil.rmtree(staging, ignore_errors=True)
    logger.info("saved model to %s", folder)
    return folder


def read_manifest(path: str | os.PathLike) -> dict:
    """Read and check a model folder's manifest.

    Raises
    ------
    ModelError
        If the folder holds no model, a model of another format version, one saved
        with a different major.minor version of umap-learn or hdbscan, or files
        that do not match their recorded hashes.
    """
    from clustering.embed import package_version

    folder = Path(path)
    where = folder / "manifest.json"
    if not where.is_file():
        raise ModelError(
            f"{folder} is not a model folder: it has no manifest.json; write one with "
            "'clustering fit INPUT --model-dir DIR'"
        )
    try:
        manifest = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"cannot read {where}: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelError(f"{where} is not a clustering model manifest")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelError(
            f"model format version {version!r} in {folder} cannot be read by this "
            f"clustering (it reads version {FORMAT_VERSION}); refit the model with "
            "'clustering fit', or install the clustering version that wrote it "
            f"({manifest.get('versions', {}).get('clustering')})"
        )
    saved = manifest.get("versions", {})
    for name in _PINNED:
        then, now = _major_minor(saved.get(name)), _major_minor(package_version(name))
        if then != now:
            raise ModelError(
                f"the model in {folder} was saved with {name} {saved.get(name)}, but "
                f"{name} {package_version(name)} is installed; placing new rows "
                f"needs the same {name} {then}.x: install it, or refit the model"
            )
    for name, digest in manifest.get("files", {}).items():
        if name not in MODEL_FILES or not (folder / name).is_file():
            raise ModelError(f"the model in {folder} is missing {name}")
        if _sha256(folder / name) != digest:
            raise ModelError(
                f"{folder / name} does not match the hash in its manifest: the "
                "model folder was changed or damaged; refit or copy it again"
            )
    return manifest


def load_model(path: str | os.PathLike) -> TextClusterer:
    """Rebuild a fitted :class:`TextClusterer` from a folder written by
    :func:`save_model`, without unpickling anything.

    Raises
    ------
    ModelError
        See :func:`read_manifest`; also if the sentence model installed now is
        not the one the model was fitted with.
    """
    from clustering.assign import ModelState
    from clustering.cluster import Clusters
    from clustering.describe import GroupDescription
    from clustering.embed import resolve_model
    from clustering.estimator import TextClusterer
    from clustering.prepare import PreparedTexts
    from clustering.reduce import Reduction, UmapState

    folder = Path(path)
    manifest = read_manifest(folder)

    # The sentence model must be the one the vectors came from.
    name, key = manifest["model"]["name"], manifest["model"]["key"]
    # The arithmetic (precision) suffix of the key changes vectors only in their last
    # digits (cosine >= 0.9999), so the model itself is what must match.
    if key is not None:
        key = key.removesuffix("+bfloat16").removesuffix("+float32")
    if name is not None and key is not None and resolve_model(name)[1] != key:
        raise ModelError(
            f"the model in {folder} was fitted with sentence model {key}, but "
            f"{resolve_model(name)[1]} is installed now; its vectors would not match: "
            "install that model version, or refit"
        )

    # Arrays and group descriptions.
    with np.load(folder / "arrays.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    groups = [
        GroupDescription(**g)
        for g in json.loads((folder / "groups.json").read_text(encoding="utf-8"))
    ]
    umaps = manifest["umap"]
    fitted = manifest["fitted"]
    state = ModelState(
        texts=[str(t) for t in arrays["texts"]],
        vectors=arrays["vectors"],
        labels=arrays["labels"],
        strengths=arrays["strengths"],
        cluster_coords=arrays["cluster_coords"],
        map_coords=arrays["map_coords"],
        cluster_umap=UmapState(**umaps["cluster"]) if umaps["cluster"] else None,
        map_umap=UmapState(**umaps["map"]) if umaps["map"] else None,
        condensed_tree=arrays.get("condensed_tree"),
        hdbscan_labels=arrays["hdbscan_labels"],
        min_samples=fitted["min_samples"],
        min_cluster_size=fitted["min_cluster_size"],
    )

    # The estimator, with the fitted attributes that do not need the UMAP and
    # HDBSCAN objects.
    model = TextClusterer(**manifest["params"])
    prepared = PreparedTexts(
        column=manifest["column"],
        skip_reason=arrays["skip_reason"].astype(object),
        unique_texts=state.texts,
        row_to_unique=arrays["row_to_unique"],
        counts=arrays["counts"],
    )
    kept = prepared.row_to_unique >= 0
    index = np.where(kept, prepared.row_to_unique, 0)
    model.model_state_ = state
    model.model_name_ = name
    model.embedder_ = None
    model.prepared_ = prepared
    model.texts_ = state.texts
    model.embeddings_ = state.vectors
    model.reduction_ = Reduction(
        state.cluster_coords,
        state.map_coords,
        state.cluster_umap.n_neighbors if state.cluster_umap else 0,
        cluster_umap=state.cluster_umap,
        map_umap=state.map_umap,
    )
    model.clusters_ = Clusters(
        state.labels, state.strengths, state.min_cluster_size, state.min_samples
    )
    model.groups_ = groups
    model.distinct_labels_ = state.labels
    model.labels_ = np.where(kept, state.labels[index], -1)
    model.probabilities_ = np.where(kept, state.strengths[index], 0.0)
    model.skip_reason_ = prepared.skip_reason
    model.map_coords_ = np.where(kept[:, None], state.map_coords[index], np.nan)
    model.n_clusters_ = len(groups)
    model.notes_ = list(manifest.get("notes", []))
    model.timings_ = {}
    model.manifest_ = manifest
    logger.info("loaded model from %s", folder)
    return model
