"""On-disk cache of sentence vectors, keyed by model and text.

One SQLite file per model in the cache folder. The folder is, in order of
preference: the ``cache_dir`` option, ``$CLUSTERING_CACHE_DIR``, or the user cache
folder given by :mod:`platformdirs` (``~/.cache/clustering`` on Linux).

TODO(issue 5): a text's vector can differ in its last bits with the batch it was
embedded in (padding changes the matrix shapes), and UMAP can amplify that. A run
reading vectors cached by runs on other texts may therefore group a few texts
differently from a run with ``--no-cache``; reruns of one input are identical.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sqlite3
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

_CHUNK = 500  # keys per SQL query, below SQLite's variable limit


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
        digest = hashlib.sha256(model_key.encode()).hexdigest()[:12]
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
