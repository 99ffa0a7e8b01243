"""Greedy seed clustering: known answers and agreement with a plain transcription of the rules."""
import numpy as np
import pytest

from bpartis_nb.cluster import ClusterParams, cluster_embeddings, cluster_output, embedding_coordinates


def naive_cluster(embedding, sigma, seed, p=ClusterParams()):
    """The rules written out plainly, O(foreground) per step: an independent oracle."""
    mask = seed > p.seed_threshold
    labels = np.zeros(seed.shape, np.int32)
    if mask.sum() <= p.min_pixels:
        return labels
    emb = embedding[:, mask]
    prec = np.exp(sigma[:, mask] * np.float32(10))
    s = seed[mask]
    uncl = np.ones(s.size, bool)
    out = np.zeros(s.size, np.int32)
    k = 0
    while uncl.sum() > p.min_pixels:
        i = int(np.argmax(s * uncl))
        if s[i] * uncl[i] < p.seed_threshold:
            break
        uncl[i] = False
        d = np.exp(-(((emb - emb[:, i : i + 1]) ** 2) * prec[:, i : i + 1]).sum(0))
        prop = d > p.score_threshold
        if prop.sum() > p.min_pixels and uncl[prop].sum() / prop.sum() > p.min_unclustered_fraction:
            k += 1
            out[prop] = k
        uncl[prop] = False
    labels[mask] = out
    return labels


def same_partition(a, b):
    """Equal up to renumbering."""
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))


def blobs(rng, n=12, size=96):
    """A synthetic network output: discs whose pixels point (noisily) at their centre."""
    coords = embedding_coordinates(size, size)
    emb = coords.copy()
    seed = np.zeros((size, size), np.float32)
    sigma = np.full((2, size, size), -0.3, np.float32)
    truth = np.zeros((size, size), np.int32)
    rr, cc = np.mgrid[0:size, 0:size]
    for k in range(1, n + 1):
        cy, cx = rng.uniform(8, size - 8, 2)
        r = rng.uniform(7, 11)
        disc = (rr - cy) ** 2 + (cc - cx) ** 2 <= r * r
        truth[disc] = k
        centre = coords[:, int(cy), int(cx)][:, None]
        emb[:, disc] = centre + rng.normal(0, 0.01, (2, disc.sum()))
        seed[disc] = np.clip(1 - np.sqrt((rr[disc] - cy) ** 2 + (cc[disc] - cx) ** 2) / (r + 1), 0, 1)
        sigma[:, disc] = np.log(1 / (2 * (r / size) ** 2)) / 10
    return emb.astype(np.float32), sigma, seed.astype(np.float32), truth


@pytest.mark.parametrize("trial", range(6))
def test_matches_plain_rules(trial):
    rng = np.random.default_rng(trial)
    emb, sigma, seed, _ = blobs(rng, n=int(rng.integers(3, 15)))
    # add clutter: random embeddings with high seed, so proposals get rejected too
    noise = rng.uniform(size=seed.shape) < 0.05
    seed[noise] = rng.uniform(0.5, 1, noise.sum())
    emb[:, noise] = rng.uniform(0, 1, (2, noise.sum()))
    fast, scores = cluster_embeddings(emb, sigma, seed, ClusterParams(min_pixels=20))
    slow = naive_cluster(emb, sigma, seed, ClusterParams(min_pixels=20))
    assert np.array_equal(fast > 0, slow > 0)
    assert same_partition(fast, slow)
    assert len(scores) == fast.max() + 1 and np.all(scores[1:] > 0.5)


def test_recovers_separated_discs():
    rng = np.random.default_rng(3)
    emb, sigma, seed, truth = blobs(rng, n=10)
    labels, _ = cluster_embeddings(emb, sigma, seed, ClusterParams(min_pixels=20))
    # every true disc (overlaps aside) maps to one predicted instance
    fg = truth > 0
    for k in np.unique(truth[fg]):
        ids = np.unique(labels[truth == k])
        assert len(ids[ids > 0]) >= 1


def test_nothing_below_min_pixels():
    seed = np.zeros((32, 32), np.float32)
    seed[:10, :10] = 0.9  # 100 px <= 128
    labels, scores = cluster_embeddings(np.zeros((2, 32, 32)), np.zeros((2, 32, 32)), seed)
    assert labels.max() == 0 and scores.tolist() == [0.0]


def test_later_instance_takes_over_and_ids_close_up():
    # Two groups: a big one whose centre has the highest seed, then a second centre
    # whose proposal covers the first group entirely and more.
    emb = np.zeros((2, 1, 400), np.float32)
    emb[0, 0, 200:] = 0.05
    sigma = np.zeros((2, 1, 400), np.float32)
    sigma[:, 0, :200] = 0.9     # narrow kernel: only the first 200 px
    sigma[:, 0, 200:] = -0.5    # wide kernel: everything
    seed = np.full((1, 400), 0.8, np.float32)
    seed[0, 0] = 0.99
    seed[0, 200] = 0.95
    labels, scores = cluster_embeddings(emb, sigma, seed)
    naive = naive_cluster(emb, sigma, seed)
    assert same_partition(labels, naive)
    assert labels.max() == len(scores) - 1 == len(np.unique(labels[labels > 0]))


def test_cluster_output_shapes_and_errors():
    out = np.zeros((5, 16, 16), np.float32)
    labels, _ = cluster_output(out)
    assert labels.shape == (16, 16) and labels.max() == 0
    with pytest.raises(ValueError, match="shape"):
        cluster_output(np.zeros((4, 16, 16)))
    with pytest.raises(ValueError):
        cluster_embeddings(np.zeros((2, 8, 8)), np.zeros((2, 8, 8)), np.zeros((9, 8)))


def test_coordinates_span_unit_square():
    c = embedding_coordinates(4, 5)
    assert c.shape == (2, 4, 5)
    assert c[0, 0, 0] == 0 and c[0, 0, -1] == 1 and c[1, -1, 0] == 1
    assert np.all(np.diff(c[0, 0]) > 0) and np.all(c[0, :, 2] == c[0, 0, 2])


# --------------------------------------------------------------------------- teaching helpers
def _toy():
    truth = np.zeros((64, 64), np.int32)
    truth[5:25, 5:25] = 1
    truth[30:60, 30:50] = 2
    truth[40:56, 4:20] = 3
    return truth


def test_perfect_output_clusters_back_to_the_truth():
    from bpartis_nb.cluster import cluster_output
    from bpartis_nb.examples import perfect_output

    truth = _toy()
    out = perfect_output(truth, sigma=0.02)
    assert out.shape == (5, 64, 64) and out.dtype == np.float32
    labels, scores = cluster_output(out)
    # same partition (ids follow the greedy order, so compare pairs of ids)
    pairs = set(zip(labels[truth > 0].tolist(), truth[truth > 0].tolist()))
    assert len(pairs) == 3 and len({a for a, _ in pairs}) == 3
    assert (labels[truth == 0] == 0).all()
    assert np.allclose(scores[1:], 0.99, atol=1e-6)


def test_perfect_output_embeddings_sit_on_centroids():
    from bpartis_nb.cluster import embedding_coordinates
    from bpartis_nb.examples import perfect_output

    truth = _toy()
    out = perfect_output(truth, sigma=0.05)
    emb = np.tanh(out[0:2].astype(np.float64)) + embedding_coordinates(64, 64)
    for k in (1, 2, 3):
        centre = embedding_coordinates(64, 64)[:, truth == k].mean(axis=1)
        assert np.allclose(emb[:, truth == k], centre[:, None], atol=1e-5)
    # precision exp(10 s) = 1 / (2 sigma^2)
    assert np.allclose(np.exp(10 * out[2:4][:, truth > 0]), 1 / (2 * 0.05**2), rtol=1e-4)
    with pytest.raises(ValueError, match="sigma"):
        perfect_output(truth, sigma=0)
    with pytest.raises(ValueError, match="2-D"):
        perfect_output(truth[None])


def test_cluster_steps_replay_the_greedy_order():
    from bpartis_nb.cluster import cluster_output, cluster_steps
    from bpartis_nb.examples import perfect_output

    truth = _toy()
    out = perfect_output(truth, sigma=0.02)
    labels, _ = cluster_output(out)
    steps = cluster_steps(out, steps=10)
    assert len(steps) == 3 and all(s.accepted for s in steps)
    for k, step in enumerate(steps, 1):
        # the proposal of step k is instance k of the final map, and contains its centre
        assert (step.members == (labels == k)).all()
        assert step.members[step.centre]
        assert step.score.shape == (64, 64) and step.score[step.centre] == pytest.approx(1.0)
        assert step.sigma == pytest.approx((0.02, 0.02), rel=1e-3)
    assert len(cluster_steps(out, steps=2)) == 2


def test_trace_does_not_change_the_result():
    from bpartis_nb.cluster import cluster_embeddings

    rng = np.random.default_rng(0)
    emb = rng.uniform(0, 1, (2, 48, 48)).astype(np.float32)
    emb[:, :, :24] = 0.3
    sigma = np.full((2, 48, 48), 0.2, np.float32)
    seed = rng.uniform(0.4, 1.0, (48, 48)).astype(np.float32)
    trace = []
    a = cluster_embeddings(emb, sigma, seed, trace=trace)
    b = cluster_embeddings(emb, sigma, seed)
    assert (a[0] == b[0]).all() and np.array_equal(a[1], b[1])
    assert sum(t["accepted"] for t in trace) == len(a[1]) - 1 >= 1
