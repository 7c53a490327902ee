"""Coarse and fine levels of one HDBSCAN fit, read from its condensed tree.

The main grouping is HDBSCAN's selection. From the same condensed tree:

- the *coarse* level merges main groups that share a parent cluster in the tree
  (a main group whose parent is the root stays on its own);
- the *fine* level splits each main group into the leaf clusters below it; texts
  of a main group that fall out of the tree before any leaf are ``-1`` there.

So every fine group lies inside one main group, and every main group inside one
coarse group. Label ``-1`` is unclustered (or, at the fine level, in no leaf).
"""

from __future__ import annotations

import numpy as np


def _tree_maps(tree: np.ndarray, n_samples: int) -> tuple[dict, np.ndarray]:
    """Parent of each cluster node, and the node each text falls out of."""
    is_point = tree["child"] < n_samples
    children = tree["child"][~is_point].tolist()
    parent_of = dict(zip(children, tree["parent"][~is_point].tolist(), strict=True))
    segment = np.full(n_samples, -1, dtype=np.int64)
    segment[tree["child"][is_point]] = tree["parent"][is_point]
    return parent_of, segment


def _ancestors(node: int, parent_of: dict) -> list[int]:
    """``node`` and its ancestors, bottom up."""
    chain = [node]
    while chain[-1] in parent_of:
        chain.append(parent_of[chain[-1]])
    return chain


def _main_nodes(labels: np.ndarray, segment: np.ndarray, parent_of: dict) -> dict:
    """The tree node of each main group: the lowest common ancestor of the nodes
    its texts fall out of."""
    nodes = {}
    for group in range(int(labels.max(initial=-1)) + 1):
        chains = [_ancestors(s, parent_of) for s in np.unique(segment[labels == group])]
        common = set(chains[0]).intersection(*map(set, chains[1:]))
        nodes[group] = next(node for node in chains[0] if node in common)
    return nodes


def tree_levels(clusterer: object, labels: np.ndarray) -> dict:
    """Coarse and fine groupings nested with the main one, from one fit.

    Parameters
    ----------
    clusterer : hdbscan.HDBSCAN
        The fitted clusterer whose ``condensed_tree_`` gave ``labels``.
    labels : numpy.ndarray of int, shape (n_samples,)
        The main grouping (renumbered ids); ``-1`` is unclustered.

    Returns
    -------
    dict
        ``coarse`` and ``fine``: numpy arrays of shape (n_samples,) with the
        level's group per text; ``coarse_of``: main group -> coarse group;
        ``fine_of``: fine group -> main group.
    """
    tree = clusterer.condensed_tree_.to_numpy()
    n = len(labels)
    parent_of, segment = _tree_maps(tree, n)
    nodes = _main_nodes(labels, segment, parent_of)
    root = int(tree["parent"].min())

    # Coarse: each main group's parent (not the root), keeping the topmost of
    # nested parents so the coarse groups do not overlap.
    lifted = {g: parent_of.get(node, root) for g, node in nodes.items()}
    lifted = {g: p if p != root else nodes[g] for g, p in lifted.items()}
    tops = set(lifted.values())
    for group, node in lifted.items():
        above = [a for a in _ancestors(node, parent_of) if a in tops]
        lifted[group] = above[-1]
    coarse_ids = {node: i for i, node in enumerate(dict.fromkeys(lifted.values()))}
    coarse_of = {g: coarse_ids[node] for g, node in lifted.items()}

    # Fine: the leaf clusters below each main group.
    has_children = set(parent_of.values())
    fine_of, fine = {}, np.full(n, -1, dtype=np.int64)
    leaf_ids: dict[int, int] = {}
    for i in np.flatnonzero(labels >= 0):
        leaf = int(segment[i])
        if leaf in has_children:
            continue
        if leaf not in leaf_ids:
            leaf_ids[leaf] = len(leaf_ids)
            fine_of[leaf_ids[leaf]] = int(labels[i])
        fine[i] = leaf_ids[leaf]

    coarse = np.array([coarse_of.get(int(g), -1) for g in labels], dtype=np.int64)
    return {"coarse": coarse, "fine": fine, "coarse_of": coarse_of, "fine_of": fine_of}


def nesting(levels: dict, labels: np.ndarray, counts: np.ndarray) -> list[dict]:
    """The levels as a nested summary for ``run.json`` and the report.

    Returns
    -------
    list of dict
        One entry per coarse group: ``coarse_id``, ``size`` (rows) and
        ``groups``: its main groups, each with ``cluster_id``, ``size`` and
        ``fine``: sizes of its fine groups, largest first.
    """
    fine_sizes: dict[int, list[int]] = {}
    for fine_id, main in levels["fine_of"].items():
        size = int(counts[levels["fine"] == fine_id].sum())
        fine_sizes.setdefault(main, []).append(size)
    summary = []
    for coarse_id in sorted(set(levels["coarse_of"].values())):
        mains = sorted(g for g, c in levels["coarse_of"].items() if c == coarse_id)
        groups = [
            {
                "cluster_id": g,
                "size": int(counts[labels == g].sum()),
                "fine": sorted(fine_sizes.get(g, []), reverse=True),
            }
            for g in mains
        ]
        summary.append(
            {
                "coarse_id": coarse_id,
                "size": sum(g["size"] for g in groups),
                "groups": groups,
            }
        )
    return summary
