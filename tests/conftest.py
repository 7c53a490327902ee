"""Shared fixtures: real data from ../shared, a private embedding cache, toy vectors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data"
CASES = SHARED / "cases"
SAMPLE = ROOT / "data" / "wordnet_core_small.csv"


def pytest_configure(config):
    """Fail at once if the tests would exercise another checkout's package."""
    import clustering

    where = Path(clustering.__file__).resolve()
    if ROOT not in where.parents:
        raise pytest.UsageError(
            f"tests in {ROOT} import clustering from {where}; run 'python -m pytest' "
            "from the repository root"
        )


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory) -> Path:
    """Every test run starts with an empty embedding cache of its own."""
    folder = tmp_path_factory.mktemp("embedding-cache")
    os.environ["CLUSTERING_CACHE_DIR"] = str(folder)
    os.environ["HF_HUB_OFFLINE"] = "1"
    return folder


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not DATA.is_dir():
        pytest.skip("../shared/data is not beside this checkout")
    return DATA


@pytest.fixture(scope="session")
def cases() -> Path:
    if not CASES.is_dir():
        pytest.skip("../shared/cases is not beside this checkout")
    return CASES


@pytest.fixture(scope="session")
def embedder():
    """The real default model, loaded once per test run."""
    from clustering.embed import Embedder

    return Embedder(show_progress=False)


@pytest.fixture(scope="session")
def wordnet_sample() -> pd.DataFrame:
    """400 rows of the bundled WordNet sample: 10 labelled categories."""
    frame = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    return frame.iloc[:400].reset_index(drop=True)


def make_blobs_on_sphere(
    n_per_blob: int = 60, n_blobs: int = 4, dim: int = 32, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors in ``n_blobs`` tight groups, and their true groups."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_blobs, dim))
    truth = np.repeat(np.arange(n_blobs), n_per_blob)
    vectors = centres[truth] + 0.15 * rng.normal(size=(len(truth), dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), truth


@pytest.fixture
def blobs() -> tuple[np.ndarray, np.ndarray]:
    return make_blobs_on_sphere()
