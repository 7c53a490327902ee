"""Find the groups in a pile of short texts.

Importing this package is cheap: the heavy libraries (torch, UMAP, HDBSCAN) load
only when a run needs them.

>>> import clustering
>>> clustering.cluster_texts  # doctest: +ELLIPSIS
<function cluster_texts at ...>
"""

from __future__ import annotations

from clustering.errors import (
    ClusteringError,
    InputError,
    ModelError,
    OutputError,
    ParameterError,
)

__version__ = "0.1.0"

__all__ = [
    "ClusteringError",
    "ClusteringResult",
    "InputError",
    "ModelError",
    "OutputError",
    "ParameterError",
    "TextClusterer",
    "cluster_file",
    "cluster_texts",
    "compare_runs",
    "read_table",
]

_LAZY = {
    "cluster_texts": "clustering.pipeline",
    "cluster_file": "clustering.pipeline",
    "ClusteringResult": "clustering.result",
    "read_table": "clustering.io",
    "TextClusterer": "clustering.estimator",
    "compare_runs": "clustering.compare",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'clustering' has no attribute {name!r}")
