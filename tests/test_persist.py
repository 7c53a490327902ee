"""Fit once, save, load, place new rows: predict, transform, the model folder."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from clustering import ModelError, TextClusterer
from clustering.assign import place_texts
from clustering.cli import main
from clustering.interactive import hover_text
from clustering.persist import FORMAT_VERSION, MODEL_FILES


@pytest.fixture(scope="module")
def slices(shared_data):
    """300 WordNet glosses to fit on, 150 others to place, 60 Debian descriptions."""
    wordnet = pd.read_csv(
        shared_data / "wordnet_core_small.csv", dtype=str, keep_default_na=False
    )
    debian = pd.read_csv(
        shared_data / "debian_topics_small.csv", dtype=str, keep_default_na=False
    )
    return wordnet.iloc[:300], wordnet.iloc[300:450], debian.iloc[:60]


@pytest.fixture(scope="module")
def fitted(slices):
    return TextClusterer(show_progress=False).fit(slices[0]["text"])


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    folder = tmp_path_factory.mktemp("model") / "m"
    fitted.save(folder)
    return folder


def test_predict_on_the_fitted_rows_gives_the_fitted_groups(fitted, slices):
    texts = slices[0]["text"]
    labels, strengths = fitted.predict(texts, return_strength=True)
    assert fitted.n_clusters_ >= 3
    agreement = (labels == fitted.labels_).mean()
    assert agreement >= 0.99
    np.testing.assert_allclose(strengths, fitted.probabilities_)

    # By geometry alone (UMAP transform, HDBSCAN approximate prediction), without
    # the rule that a known text keeps its group: a floor, and measured.
    state = fitted.model_state_
    placed = place_texts(
        state, state.texts, state.vectors, known_texts_keep_group=False
    )
    geometric = (placed.labels == state.labels).mean()
    print(f"agreement on fitted rows: {agreement:.3f}; geometry only {geometric:.3f}")
    assert geometric >= 0.7


def test_new_rows_land_in_their_labelled_groups_and_far_rows_are_unclustered(
    fitted, slices
):
    _, new, far = slices
    labels, strengths = fitted.predict(new["text"], return_strength=True)
    assert set(labels) <= set(range(fitted.n_clusters_)) | {-1}
    assert ((strengths > 0) == (labels >= 0)).all()
    assert (strengths >= 0).all() and (strengths <= 1).all()

    # New rows mostly join the group that holds their category in the fit.
    fit_frame = pd.DataFrame(
        {"label": slices[0]["label"].to_numpy(), "group": fitted.labels_}
    )
    main_group = (
        fit_frame[fit_frame.group >= 0]
        .groupby("label")
        .group.agg(lambda g: g.mode()[0])
    )
    placed = pd.DataFrame({"label": new["label"].to_numpy(), "group": labels})
    placed = placed[placed.group >= 0]
    hits = placed.group.to_numpy() == main_group.reindex(placed.label).to_numpy()
    assert len(placed) >= 0.4 * len(new)
    assert hits.mean() >= 0.8

    # Package descriptions are far from every group of noun glosses.
    far_labels = fitted.predict(far["text"])
    assert (far_labels == -1).mean() >= 0.8


def test_transform_gives_coordinates_in_the_clustered_space(fitted, slices):
    coords = fitted.transform(list(slices[1]["text"].iloc[:5]) + [""])
    assert coords.shape == (6, fitted.reduction_.cluster_coords.shape[1])
    assert np.isfinite(coords[:5]).all() and np.isnan(coords[5]).all()


def test_saved_model_is_plain_data_and_predicts_the_same(fitted, saved, slices):
    assert sorted(p.name for p in saved.iterdir()) == sorted(MODEL_FILES)
    manifest = json.loads((saved / "manifest.json").read_text())
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["model"]["name"] == "all-MiniLM-L6-v2"
    assert manifest["params"]["random_state"] == 42
    assert manifest["versions"]["umap-learn"] and manifest["versions"]["hdbscan"]
    assert len(manifest["input"]["texts_sha256"]) == 64
    with np.load(saved / "arrays.npz", allow_pickle=False) as arrays:
        assert all(arrays[name].dtype != object for name in arrays.files)

    loaded = TextClusterer.load(saved)
    assert loaded.get_params() == fitted.get_params()
    assert [g.label for g in loaded.groups_] == [g.label for g in fitted.groups_]
    np.testing.assert_array_equal(loaded.labels_, fitted.labels_)
    new = slices[1]["text"]
    before = fitted.predict(new, return_strength=True)
    after = loaded.predict(new, return_strength=True)
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_allclose(before[1], after[1])


def _copy(saved, tmp_path):
    import shutil

    target = tmp_path / "copy"
    shutil.copytree(saved, target)
    return target


def _edit_manifest(folder, change):
    manifest = json.loads((folder / "manifest.json").read_text())
    change(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_incompatible_or_damaged_models_are_refused(saved, tmp_path):
    with pytest.raises(ModelError, match="is not a model folder: it has no manifest"):
        TextClusterer.load(tmp_path)

    newer = _copy(saved, tmp_path / "a")
    _edit_manifest(newer, lambda m: m.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(ModelError, match=r"model format version 2 .* cannot be read"):
        TextClusterer.load(newer)

    other_umap = _copy(saved, tmp_path / "b")
    _edit_manifest(other_umap, lambda m: m["versions"].update({"umap-learn": "0.4.6"}))
    with pytest.raises(ModelError, match=r"saved with umap-learn 0\.4\.6, but"):
        TextClusterer.load(other_umap)

    other_model = _copy(saved, tmp_path / "c")
    _edit_manifest(other_model, lambda m: m["model"].update(key="all-MiniLM@x==0"))
    with pytest.raises(ModelError, match="fitted with sentence model all-MiniLM@x"):
        TextClusterer.load(other_model)

    damaged = _copy(saved, tmp_path / "d")
    (damaged / "groups.json").write_text("[]")
    with pytest.raises(ModelError, match="does not match the hash in its manifest"):
        TextClusterer.load(damaged)


def test_predict_before_fit_says_what_to_do():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError, match="not fitted yet; call fit"):
        TextClusterer().predict(["a text"])


def test_fit_then_assign_through_the_cli(slices, tmp_path):
    fit_rows, new_rows, _ = slices
    fit_csv, new_csv = tmp_path / "fit.csv", tmp_path / "new.csv"
    fit_rows.to_csv(fit_csv, index=False)
    both = pd.concat([fit_rows.iloc[:50], new_rows])
    both.to_csv(new_csv, index=False)
    runner = CliRunner()

    # Fit, writing the model and the run's report.
    done = runner.invoke(
        main,
        [
            "fit",
            str(fit_csv),
            "--model-dir",
            str(tmp_path / "model"),
            "--out",
            str(tmp_path / "run"),
            "-q",
        ],
        catch_exceptions=False,
    )
    assert done.exit_code == 0, done.output
    again = runner.invoke(
        main, ["fit", str(fit_csv), "--model-dir", str(tmp_path / "model")]
    )
    assert again.exit_code == 1 and "already holds a model" in again.output

    # Assign old and new rows: the same files as a run, the model's groups.
    done = runner.invoke(
        main,
        [
            "assign",
            str(tmp_path / "model"),
            str(new_csv),
            "--out",
            str(tmp_path / "assigned"),
        ],
        catch_exceptions=False,
    )
    assert done.exit_code == 0, done.output
    assert "50 distinct texts were known to the model" in done.output
    from clustering.report import OPTIONAL_FILES, OUTPUT_FILES

    for name in set(OUTPUT_FILES) - set(OPTIONAL_FILES):
        assert (tmp_path / "assigned" / name).stat().st_size > 0
    fitted_rows = pd.read_csv(tmp_path / "run" / "assignments.csv")
    assigned = pd.read_csv(tmp_path / "assigned" / "assignments.csv")
    assert assigned["id"].tolist() == both["id"].tolist()
    assert (
        assigned["cluster_id"].iloc[:50].tolist()
        == fitted_rows["cluster_id"].iloc[:50].tolist()
    )
    model_groups = pd.read_csv(tmp_path / "run" / "clusters.csv")
    labels = dict(zip(model_groups.cluster_id, model_groups.label, strict=True))
    for row in assigned.itertuples():
        assert row.cluster_label == labels[row.cluster_id]
    clusters = pd.read_csv(tmp_path / "assigned" / "clusters.csv")
    assert clusters["size"].sum() == len(both)
    info = json.loads((tmp_path / "assigned" / "run.json").read_text())
    assert info["command"] == "assign" and info["counts"]["known_to_model"] == 50

    # The report draws and quotes the assigned rows, not the model's other texts.
    html = (tmp_path / "assigned" / "report.html").read_text()
    central = {
        t
        for g in json.loads((tmp_path / "run" / "clusters.json").read_text())[
            "clusters"
        ]
        for t in g["central_texts"]
    }  # the model's groups are still described by their fitted central texts
    only_fitted = set(fit_rows.text.iloc[50:]) - set(both.text) - central
    new_texts = set(new_rows.text) - set(fit_rows.text)
    assert not any(json.dumps(t)[1:-1] in html for t in only_fitted)
    # Every new text is on the map (its hover label starts with its first words).
    labels = [json.dumps(hover_text(t))[1:-1].split("<br>")[0] for t in new_texts]
    assert all(label in html for label in labels)

    missing = runner.invoke(
        main, ["assign", str(tmp_path), str(new_csv), "--out", str(tmp_path / "x")]
    )
    assert missing.exit_code == 1
    assert missing.output.startswith("Error: ") and "no manifest.json" in missing.output
