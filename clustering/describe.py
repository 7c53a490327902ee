"""Describe stage: what each group is about.

For each group: its size, its most central sentences (closest to the group's mean
vector), distinctive keywords from class-based TF-IDF, a short label built from
them, and a cohesion figure (mean cosine similarity to the group's centre).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np
from scipy import sparse

logger = logging.getLogger(__name__)

_LABEL_WORDS = 3


@dataclass
class GroupDescription:
    """One group, described.

    Attributes
    ----------
    cluster_id : int
        Group id (``0`` is the largest group).
    label : str
        Short name built from the keywords; unique within a run.
    size : int
        Rows in the group (duplicates counted).
    n_distinct : int
        Distinct texts in the group.
    share : float
        ``size`` over all kept rows.
    keywords : list of str
        Most distinctive words, best first.
    central_texts : list of str
        Distinct texts nearest the group's centre, nearest first.
    cohesion : float
        Mean cosine similarity of the group's texts to its centre, in [-1, 1].
    stability : float or None
        Mean best Jaccard overlap with a group of the repeated runs on
        subsamples, in [0, 1]; ``None`` when not measured.
    unstable : bool
        Whether ``stability`` is below :data:`clustering.quality.UNSTABLE_BELOW`.
    """

    cluster_id: int
    label: str
    size: int
    n_distinct: int
    share: float
    keywords: list[str]
    central_texts: list[str]
    cohesion: float
    stability: float | None = None
    unstable: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def class_tfidf_keywords(
    texts: list[str],
    labels: np.ndarray,
    counts: np.ndarray | None = None,
    n_keywords: int = 8,
) -> dict[int, list[str]]:
    """Keywords per group by class-based TF-IDF.

    All texts of a group (unclustered texts form a class of their own) are pooled
    into one document; a word scores high when it is frequent in the group and rare
    across groups: ``tf(word, group) * log(1 + mean_words_per_group / freq(word))``.

    Parameters
    ----------
    texts : list of str, length n_samples
    labels : numpy.ndarray of int, shape (n_samples,)
        Group per text; ``-1`` is unclustered.
    counts : numpy.ndarray of int, shape (n_samples,), optional
        Rows holding each text, used as weights.
    n_keywords : int, default=8

    Returns
    -------
    dict
        Group id (``-1`` excluded) to its keywords, best first.

    Examples
    --------
    >>> texts = ["red apple pie", "apple tart", "fast red car", "car engine"]
    >>> class_tfidf_keywords(texts, np.array([0, 0, 1, 1]), n_keywords=1)
    {0: ['apple'], 1: ['car']}
    """
    from sklearn.feature_extraction.text import CountVectorizer

    groups = [int(g) for g in np.unique(labels) if g >= 0]
    if not groups:
        return {}
    weights = np.ones(len(texts)) if counts is None else np.asarray(counts, float)
    vectorizer = CountVectorizer(stop_words="english", lowercase=True)
    # TODO: the default token pattern keeps a run of CJK characters as one token;
    # scripts without spaces need a character n-gram or segmenting tokenizer.
    try:
        word_counts = vectorizer.fit_transform(texts)
    except ValueError:  # no word survives (stop words or symbols only)
        return {g: [] for g in groups}
    vocabulary = vectorizer.get_feature_names_out()

    # Pool texts per class: one row per class (groups, then unclustered).
    classes = groups + ([-1] if (labels < 0).any() else [])
    row_of_class = {c: i for i, c in enumerate(classes)}
    rows = np.array([row_of_class[int(g)] for g in labels])
    membership = sparse.csr_matrix(
        (weights, (rows, np.arange(len(texts)))), shape=(len(classes), len(texts))
    )
    pooled = (membership @ word_counts).toarray()

    # Score words: frequency within the class times rarity across classes.
    totals = pooled.sum(axis=1, keepdims=True)
    tf = pooled / np.maximum(totals, 1)
    mean_words = totals.mean()
    idf = np.log1p(mean_words / np.maximum(pooled.sum(axis=0), 1))
    scores = tf * idf

    keywords = {}
    for row, group in enumerate(classes):
        if group < 0:
            continue
        best = np.argsort(-scores[row], kind="stable")[:n_keywords]
        keywords[group] = [str(vocabulary[i]) for i in best if scores[row, i] > 0]
    return keywords


def central_texts(
    vectors: np.ndarray, members: np.ndarray, n_texts: int, diversity: float = 0.3
) -> tuple[np.ndarray, float]:
    """Positions of ``n_texts`` members that are central and unlike each other.

    Chosen by maximal marginal relevance: the first is the member nearest the
    members' mean direction; each next one maximises ``(1 - diversity) *
    similarity to the centre - diversity * similarity to the closest one already
    chosen``, so near-duplicates do not fill the list.

    Parameters
    ----------
    vectors : numpy.ndarray of shape (n_samples, dim)
        Unit-length vectors of all distinct texts.
    members : numpy.ndarray of int
        Positions of the group's texts in ``vectors``.
    n_texts : int
        How many to return (fewer if the group is smaller).
    diversity : float, default=0.3
        ``0`` orders by centrality alone.

    Returns
    -------
    chosen : numpy.ndarray of int
        Positions in ``vectors``, in the order chosen.
    cohesion : float
        Mean cosine similarity of the members to the centre.
    """
    centre = vectors[members].mean(axis=0)
    norm = np.linalg.norm(centre)
    centre = centre / norm if norm > 0 else centre
    similarity = vectors[members] @ centre
    cohesion = float(similarity.mean())

    # Consider the most central members only, then pick greedily.
    pool = np.argsort(-similarity, kind="stable")[: max(50, 5 * n_texts)]
    chosen = [int(pool[0])]
    closest = vectors[members[pool]] @ vectors[members[pool[0]]]
    while len(chosen) < min(n_texts, len(pool)):
        gain = (1 - diversity) * similarity[pool] - diversity * closest
        gain[np.isin(pool, chosen)] = -np.inf
        best = int(np.argmax(gain))
        chosen.append(int(pool[best]))
        closest = np.maximum(
            closest, vectors[members[pool]] @ vectors[members[pool[best]]]
        )
    return members[np.array(chosen)], cohesion


def unique_labels(keyword_lists: dict[int, list[str]]) -> dict[int, str]:
    """Build a short label per group from its keywords, unique across groups.

    Groups are labelled in id order. A label leads with the group's keywords that
    no earlier label uses, so sibling groups read differently; a label already
    taken is extended with the group's next keywords, and failing that gets the
    group id appended.

    Examples
    --------
    >>> unique_labels({0: ["cat", "dog", "pet"], 1: ["cat", "dog", "pet", "vet"]})
    {0: 'cat, dog, pet', 1: 'vet, cat, dog'}
    """
    labels: dict[int, str] = {}
    taken: set[str] = set()
    used_words: set[str] = set()
    for group in sorted(keyword_lists):
        fresh = [w for w in keyword_lists[group] if w not in used_words]
        words = fresh + [w for w in keyword_lists[group] if w in used_words]
        used_words.update(words[:_LABEL_WORDS])
        label = ", ".join(words[:_LABEL_WORDS]) or f"group {group}"
        extra = _LABEL_WORDS
        while label in taken and extra < len(words):
            extra += 1
            label = ", ".join(words[:extra])
        if label in taken:
            label = f"{label} (group {group})"
        labels[group] = label
        taken.add(label)
    return labels


def describe_groups(
    texts: list[str],
    vectors: np.ndarray,
    labels: np.ndarray,
    counts: np.ndarray,
    *,
    n_central: int = 5,
    n_keywords: int = 8,
) -> list[GroupDescription]:
    """Describe every group (not the unclustered texts).

    Parameters
    ----------
    texts : list of str, length n_samples
        Distinct texts.
    vectors : numpy.ndarray of shape (n_samples, dim)
        Their unit-length vectors.
    labels : numpy.ndarray of int, shape (n_samples,)
        Group per text; ``-1`` is unclustered.
    counts : numpy.ndarray of int, shape (n_samples,)
        Rows holding each text.
    n_central, n_keywords : int
        Central texts and keywords listed per group.

    Returns
    -------
    list of GroupDescription
        In group id order.
    """
    keywords = class_tfidf_keywords(texts, labels, counts, n_keywords)
    names = unique_labels(keywords)
    total = max(int(counts.sum()), 1)
    described = []
    for group in sorted(keywords):
        members = np.flatnonzero(labels == group)
        nearest, cohesion = central_texts(vectors, members, n_central)
        size = int(counts[members].sum())
        described.append(
            GroupDescription(
                cluster_id=group,
                label=names[group],
                size=size,
                n_distinct=len(members),
                share=size / total,
                keywords=keywords[group],
                central_texts=[texts[i] for i in nearest],
                cohesion=cohesion,
            )
        )
    return described
