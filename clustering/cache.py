"""On-disk cache of sentence vectors, keyed by model and text.

One SQLite file per model in the cache folder. The folder is, in order of
preference: the ``cache_dir`` option, ``$CLUSTERING_CACHE_DIR``, or the user cache
folder given by :mod:`platformdirs` (``~/.cache/clustering`` on Linux).

A text's vector does not depend on the texts embedded with it (see
:meth:`clustering.embed.Embedder._encode_fixed`), so vectors cached by runs on other
texts are the bits a run with ``--no-cache`` computes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sqlite3
import zipfile
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

_CHUNK = 500  # keys per SQL query, below SQLite's variable limit
_BATCHING = "length-buckets-8"  # clustering.embed.LENGTH_BUCKET: change together


def default_cache_dir() -> Path:
    """Return the cache folder used when none is given."""
    from_env = os.environ.get("CLUSTERING_CACHE_DIR")
    if from_env:
        return Path(from_env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("clustering"))


class EmbeddingCache:
    """Vectors of one model, stored by the hash of each text.

    Parameters
    ----------
    model_key : str
        Identifies the model and its version; vectors of different keys never mix.
    folder : str or pathlib.Path or None, default=None
        Cache folder; ``None`` uses :func:`default_cache_dir`.

    Examples
    --------
    >>> import tempfile
    >>> cache = EmbeddingCache("demo-model", tempfile.mkdtemp())
    >>> cache.put(["hello"], np.ones((1, 3), dtype=np.float32))
    >>> cache.get(["hello", "bye"])[0].shape, cache.get(["hello", "bye"])[1]
    ((1, 3), [1])
    """

    def __init__(self, model_key: str, folder: str | Path | None = None) -> None:
        self.model_key = model_key
        self.folder = Path(folder) if folder is not None else default_cache_dir()
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model_key)[-60:]
        # Vectors made before texts were batched by length are kept apart.
        digest = hashlib.sha256(f"{model_key}|{_BATCHING}".encode()).hexdigest()[:12]
        self.path = self.folder / f"{slug}-{digest}.sqlite"

    def _key(self, text: str) -> str:
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def _connect(self) -> sqlite3.Connection:
        self.folder.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=30)
        connection.execute(
            "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB)"
        )
        return connection

    def get(self, texts: list[str]) -> tuple[np.ndarray | None, list[int]]:
        """Look texts up.

        Returns
        -------
        found : numpy.ndarray of shape (n_found, dim), or None when nothing is found
            Vectors of the texts found, in the order of ``texts``.
        missing : list of int
            Positions in ``texts`` that are not cached.
        """
        if not self.path.exists():
            return None, list(range(len(texts)))
        keys = [self._key(t) for t in texts]
        stored: dict[str, bytes] = {}
        with self._connect() as connection:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT key, vector FROM vectors WHERE key IN ({marks})"
                stored.update(connection.execute(query, chunk).fetchall())
        connection.close()
        found = [
            np.frombuffer(stored[k], dtype=np.float32) for k in keys if k in stored
        ]
        missing = [i for i, k in enumerate(keys) if k not in stored]
        return (np.vstack(found) if found else None), missing

    def put(self, texts: list[str], vectors: np.ndarray) -> None:
        """Store ``vectors`` (shape (len(texts), dim)) for ``texts``."""
        rows = [
            (self._key(t), np.asarray(v, dtype=np.float32).tobytes())
            for t, v in zip(texts, vectors, strict=True)
        ]
        try:
            with self._connect() as connection:
                connection.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows
                )
            connection.close()
        except (sqlite3.Error, OSError) as error:
            logger.warning(
                "could not write the embedding cache %s: %s", self.path, error
            )


class ResultCache:
    """Finished results of the slow stages, one file per input and settings.

    Reductions are kept as ``.npz`` arrays and parameter searches as ``.json``
    records. A rerun on the same texts with the same settings reads them here
    instead of fitting UMAP and searching HDBSCAN's parameters again (both are
    seeded, so nothing changes but the time). Files are written whole or not at
    all, read without pickle, and only the :attr:`keep` most recently used of
    each kind are kept.

    Parameters
    ----------
    folder : str or pathlib.Path or None, default=None
        Cache folder; ``None`` uses :func:`default_cache_dir`. Files go to its
        ``results`` subfolder.
    keep : int, default=20
        Results of each kind kept; the least recently used beyond that are
        deleted.

    Examples
    --------
    >>> import tempfile
    >>> cache = ResultCache(tempfile.mkdtemp())
    >>> key = cache.key(np.eye(3, dtype=np.float32), {"n_neighbors": 2})
    >>> cache.get(key) is None
    True
    >>> cache.put(key, {"coords": np.ones((3, 2))})
    >>> cache.get(key)["coords"].shape
    (3, 2)
    """

    def __init__(self, folder: str | Path | None = None, keep: int = 20) -> None:
        base = Path(folder) if folder is not None else default_cache_dir()
        self.folder = base / "results"
        self.keep = keep

    @staticmethod
    def key(vectors: np.ndarray, settings: dict) -> str:
        """Digest of the vectors' exact bytes and of the settings."""
        import json

        digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
        data = np.ascontiguousarray(vectors, dtype=np.float32)
        digest.update(str(data.shape).encode())
        digest.update(memoryview(data).cast("B"))
        return digest.hexdigest()[:32]

    @staticmethod
    def record_key(*parts: object) -> str:
        """Digest of JSON-ready ``parts`` (a reduction's key and the settings of
        what was computed from it), for :meth:`get_record` and :meth:`put_record`."""
        import json

        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]

    def _path(self, key: str, suffix: str = ".npz") -> Path:
        return self.folder / f"{key}{suffix}"

    def has(self, key: str) -> bool:
        """Whether arrays are stored under ``key``."""
        return self._path(key).is_file()

    def get(self, key: str) -> dict[str, np.ndarray] | None:
        """The arrays stored under ``key``, or ``None``."""
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
            os.utime(path)  # recently used: kept longest
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            logger.warning("ignoring the unreadable cached result %s: %s", path, error)
            return None
        return arrays

    def put(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        """Store ``arrays`` under ``key``; a failure is logged, not raised."""
        self._write(key, ".npz", lambda stream: np.savez(stream, **arrays))

    def get_record(self, key: str) -> object | None:
        """The JSON record stored under ``key``, or ``None``."""
        import json

        path = self._path(key, ".json")
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            os.utime(path)
        except (OSError, ValueError) as error:
            logger.warning("ignoring the unreadable cached result %s: %s", path, error)
            return None
        return record

    def put_record(self, key: str, record: object) -> None:
        """Store a JSON-ready ``record`` under ``key``."""
        import json

        text = json.dumps(record).encode("utf-8")
        self._write(key, ".json", lambda stream: stream.write(text))

    def _write(self, key: str, suffix: str, write) -> None:
        """Write a file whole (temporary file, then rename) and prune old ones."""
        import tempfile

        temporary = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".part")
            with os.fdopen(handle, "wb") as stream:
                write(stream)
            os.replace(temporary, self._path(key, suffix))
            temporary = None
            stored = sorted(
                self.folder.glob(f"*{suffix}"),
                key=lambda p: p.stat().st_mtime,
                reverse=True,
            )
            for old in stored[self.keep :]:
                old.unlink(missing_ok=True)
        except OSError as error:
            logger.warning(
                "could not write the result cache %s: %s", self.folder, error
            )
        finally:
            if temporary is not None:
                Path(temporary).unlink(missing_ok=True)
