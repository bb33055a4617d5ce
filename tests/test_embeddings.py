"""Tests of lessonlib.embeddings: one-hot and Embedding against PyTorch, sigmoid_range, the models, lookup weight decay, data helpers and bad input."""
from functools import partial

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from lessonlib.data import set_seed
from lessonlib.embeddings import (DotProductBias, Embedding, EmbeddingNN, LookupL2, LookupWeightDecay, check_ratings,
                                  collab_learner, factor_pca, item_table, label_points, movielens_dls, nearest_items, one_hot,
                                  plot_factor_grid, ratings_dls, read_ratings, sigmoid_range)
from lessonlib.optimizers import fit_one_cycle
from lessonlib.sgd import mse


pytestmark = pytest.mark.usefixtures('one_thread')  # conftest's fixture, for every test here

@pytest.fixture(scope='module')
def ml_dls():
    "The seeded MovieLens DataLoaders, on the CPU."
    return movielens_dls(device='cpu')

def toy_ratings(n=400, n_users=20, n_items=15, seed=0):
    "Ratings with structure: a user taste times an item quality, plus noise, ids deliberately not contiguous."
    gen = np.random.default_rng(seed)
    u, i = gen.integers(0, n_users, n), gen.integers(0, n_items, n)
    taste, quality = gen.normal(size=n_users), gen.normal(size=n_items)
    r = np.clip(np.round(3 + taste[u] * quality[i] + 0.3 * gen.normal(size=n)), 1, 5)
    return pd.DataFrame({'user': u * 10 + 7, 'item': i * 3 + 100, 'rating': r, 'timestamp': 0})

# ---------- one-hot and Embedding against PyTorch

def test_one_hot_matches_torch():
    idx = torch.tensor([[0, 4], [2, 2]])
    assert_close(one_hot(idx, 5), F.one_hot(idx, 5).float())

def test_one_hot_matmul_equals_lookup_values_and_gradients():
    idx = torch.tensor([3, 0, 3, 7, 1])
    W = torch.randn(8, 4)
    W1, W2 = W.clone().requires_grad_(), W.clone().requires_grad_()
    upstream = torch.randn(5, 4)
    out1, out2 = one_hot(idx, 8) @ W1, W2[idx]
    assert_close(out1, out2)
    (out1 * upstream).sum().backward(); (out2 * upstream).sum().backward()
    assert_close(W1.grad, W2.grad)
    assert_close(W1.grad[3], upstream[0] + upstream[2])
    assert W1.grad[[2, 4, 5, 6]].abs().sum() == 0

def test_embedding_matches_nn_embedding_values_and_gradients():
    ours, theirs = Embedding(12, 5), nn.Embedding(12, 5)
    with torch.no_grad(): ours.weight.copy_(theirs.weight)
    idx = torch.tensor([[0, 11, 3], [3, 3, 5]])
    upstream = torch.randn(2, 3, 5)
    a, b = ours(idx), theirs(idx)
    assert_close(a, b)
    (a * upstream).sum().backward(); (b * upstream).sum().backward()
    assert_close(ours.weight.grad, theirs.weight.grad)

def test_embedding_init_distribution_matches_nn_embedding():
    ours, theirs = Embedding(2000, 50).weight.detach(), nn.Embedding(2000, 50).weight.detach()
    assert ours.shape == theirs.shape
    assert abs(ours.mean() - theirs.mean()) < 0.02 and abs(ours.std() - theirs.std()) < 0.02
    assert abs(ours.std() - 1) < 0.02
    small = Embedding(2000, 50, std=0.01).weight.detach()
    assert abs(small.std() - 0.01) < 0.001

def test_embedding_is_a_parameter_and_trains():
    emb = Embedding(4, 2)
    assert [n for n, _ in emb.named_parameters()] == ['weight']
    opt = torch.optim.SGD(emb.parameters(), lr=0.1)
    before = emb.weight.detach().clone()
    emb(torch.tensor([1])).sum().backward(); opt.step()
    changed = (emb.weight.detach() != before).any(1)
    assert changed.tolist() == [False, True, False, False]

# ---------- sigmoid_range

def test_sigmoid_range_bounds_and_gradient():
    x = torch.linspace(-30, 30, 101, requires_grad=True)
    y = sigmoid_range(x, 0., 5.5)
    assert (y >= 0).all() and (y <= 5.5).all()
    assert_close(sigmoid_range(torch.tensor(0.), 1., 5.), torch.tensor(3.))
    y.sum().backward()
    x2 = x.detach().clone().requires_grad_()
    (torch.sigmoid(x2) * 5.5).sum().backward()
    assert_close(x.grad, x2.grad)
    assert_close(x.grad[50], torch.tensor(5.5 / 4))  # slope at 0: (hi - lo) / 4

def test_sigmoid_range_refuses_empty_range():
    with pytest.raises(ValueError, match='lo < hi'): sigmoid_range(torch.zeros(2), 5, 1)

# ---------- models

def test_dot_product_bias_shape_and_range():
    model = DotProductBias(30, 40, 8, y_range=(1., 5.), std=0.5)
    u, i = torch.randint(0, 30, (64,)), torch.randint(0, 40, (64,))
    pred = model(u, i)
    assert pred.shape == (64,)
    assert (pred > 1).all() and (pred < 5).all()
    manual = sigmoid_range((model.user_factors.weight[u] * model.item_factors.weight[i]).sum(1)
                           + model.user_bias.weight[u, 0] + model.item_bias.weight[i, 0], 1., 5.)
    assert_close(pred, manual)

def test_embedding_nn_shape_and_range():
    model = EmbeddingNN(30, 40, 6, 4, 16)
    pred = model(torch.randint(0, 30, (10,)), torch.randint(0, 40, (10,)))
    assert pred.shape == (10,) and (pred > 0).all() and (pred < 5.5).all()

def test_lookup_weight_decay_gradient_matches_autograd_penalty():
    model = DotProductBias(7, 5, 3, std=1.)
    u, i = torch.tensor([0, 6, 6, 2]), torch.tensor([4, 4, 1, 0])
    wd = 0.3
    penalty = wd * ((model.user_factors(u) ** 2).sum(-1) + (model.item_factors(i) ** 2).sum(-1)).mean()
    want = torch.autograd.grad(penalty, [model.user_factors.weight, model.item_factors.weight])
    class Stub: pass
    stub = Stub(); stub.model, stub.xb = model, (u, i)
    cb = LookupL2(wd); cb.learn = stub
    cb.after_backward()
    assert_close(model.user_factors.weight.grad, want[0]); assert_close(model.item_factors.weight.grad, want[1])
    with pytest.raises(ValueError, match='wd'): LookupL2(-1)
    assert LookupWeightDecay is LookupL2  # the former name keeps working

def test_lookup_l2_is_l2_inside_adam():
    "Adding its gradient to .grad equals adding the penalty to the loss: same Adam step (L2, not decoupled decay)."
    def step(via_callback):
        torch.manual_seed(0)
        model = DotProductBias(7, 5, 3, std=1.)
        opt = torch.optim.Adam(model.parameters(), lr=0.1)
        u, i, r = torch.tensor([0, 6, 6, 2]), torch.tensor([4, 4, 1, 0]), torch.tensor([4., 2., 5., 1.])
        loss = mse(model(u, i), r)
        if not via_callback: loss = loss + 0.3 * ((model.user_factors(u) ** 2).sum(-1) + (model.item_factors(i) ** 2).sum(-1)).mean()
        loss.backward()
        if via_callback:
            cb = LookupL2(0.3); cb.learn = type('L', (), {'model': model, 'xb': (u, i)})(); cb.after_backward()
        opt.step()
        return [p.detach().clone() for p in model.parameters()]
    for a, b in zip(step(True), step(False)): assert_close(a, b)

def test_short_training_beats_global_mean(ml_dls):
    set_seed(42)
    learn = collab_learner(DotProductBias(943, 1682, 20), dls=movielens_dls(device='cpu'), wd=0.1)
    learn.fit(2, 5e-3)
    target = ml_dls.valid.tensors[2]
    baseline = mse(ml_dls.train.tensors[2].mean().expand(len(target)), target).item()
    assert learn.recorder.history.valid_loss.iloc[-1] < baseline - 0.1

def test_training_is_deterministic():
    def run():
        set_seed(42)
        dls = ratings_dls(toy_ratings(), bs=32, device='cpu')
        learn = collab_learner(DotProductBias(len(dls.users), len(dls.items), 4), dls=dls, lookup_l2=0.01)
        learn.fit(2, 1e-2)
        return learn.recorder.history.valid_loss.tolist()
    assert run() == run()

def test_a_seed_fixes_a_whole_run_with_default_loaders():
    "collab_learner's own loaders draw their batch order from the global seed: same seed, same run; another seed, another."
    def run(seed):
        set_seed(seed)
        learn = collab_learner(DotProductBias(943, 1682, 4))
        fit_one_cycle(learn, 1, 5e-3)
        return learn.recorder.history.valid_loss.iloc[-1]
    first = run(3)
    assert run(3) == first and run(4) != first

def test_collab_learner_is_quiet_unless_asked(capsys):
    dls = ratings_dls(toy_ratings(), device='cpu')
    collab_learner(DotProductBias(len(dls.users), len(dls.items), 2), dls=dls).fit(1, 1e-2)
    assert capsys.readouterr().out == ''

def test_collab_learner_uses_fused_adamw_with_its_settings():
    "The optimizer is torch's AdamW (fused on the CPU: one kernel, the same update), with wd, betas and eps as documented."
    import inspect
    dls = ratings_dls(toy_ratings(), device='cpu')
    learn = collab_learner(DotProductBias(len(dls.users), len(dls.items), 2), dls=dls, wd=0.1)
    learn.fit(1, 1e-2)
    opt = learn.opt
    assert isinstance(opt, torch.optim.AdamW) and opt.defaults['fused']
    assert (opt.defaults['weight_decay'], opt.defaults['eps']) == (0.1, 1e-5) and opt.defaults['betas'] == (0.9, 0.99)
    assert list(inspect.signature(collab_learner).parameters) == ['model', 'dls', 'wd', 'lookup_l2', 'bs', 'cbs', 'progress']

def test_fused_adamw_gives_the_unfused_update():
    from lessonlib.embeddings import _adamw
    steps = []
    for make in (_adamw, partial(torch.optim.AdamW, fused=False)):
        torch.manual_seed(0)
        model = DotProductBias(7, 5, 3, std=1.)
        opt = make(model.parameters(), lr=0.1, weight_decay=0.1, betas=(0.9, 0.99), eps=1e-5)
        for _ in range(3):
            opt.zero_grad(); mse(model(torch.tensor([0, 6, 2]), torch.tensor([4, 1, 0])), torch.tensor([4., 2., 5.])).backward(); opt.step()
        steps.append([p.detach().clone() for p in model.parameters()])
    for a, b in zip(*steps): assert_close(a, b)

# ---------- data helpers

def test_shuffle_seed_changes_the_batch_order_not_the_split():
    a, b = movielens_dls(device='cpu'), movielens_dls(device='cpu', shuffle_seed=1)
    assert all(torch.equal(x, y) for x, y in zip(a.valid.tensors, b.valid.tensors))
    assert all(torch.equal(x, y) for x, y in zip(a.train.tensors, b.train.tensors))
    assert not torch.equal(next(iter(a.train))[0], next(iter(b.train))[0])

def test_movielens_dls_sizes_and_split(ml_dls):
    assert (len(ml_dls.users), len(ml_dls.items)) == (943, 1682)
    assert (ml_dls.train.n, ml_dls.valid.n) == (80_000, 20_000)
    u, i, r = ml_dls.one_batch()
    assert u.dtype == i.dtype == torch.long and r.dtype == torch.float32 and len(u) == 512
    assert ml_dls.users[0] == 1 and ml_dls.items[-1] == 1682
    u_all = torch.cat([ml_dls.train.tensors[0], ml_dls.valid.tensors[0]])
    assert u_all.min() == 0 and u_all.max() == 942
    again = movielens_dls(device='cpu')
    assert torch.equal(again.valid.tensors[2], ml_dls.valid.tensors[2])  # the split is seeded

def test_ratings_dls_maps_sparse_ids():
    ratings = toy_ratings()
    dls = ratings_dls(ratings, bs=50, device='cpu')
    assert list(dls.users) == sorted(ratings.user.unique()) and list(dls.items) == sorted(ratings.item.unique())
    u, i, r = dls.train.tensors
    assert u.max() < len(dls.users) and i.max() < len(dls.items)
    assert dls.train.n + dls.valid.n == len(ratings)

def test_item_table_joins_titles(ml_dls):
    movies = pd.DataFrame({'item': [1, 2], 'title': ['Toy Story', 'GoldenEye']})
    ratings = pd.DataFrame({'user': [1, 2, 1], 'item': [1, 1, 2], 'rating': [5, 3, 2]})
    table = item_table(torch.arange(1682.), ml_dls, movies, ratings, name='v')
    assert table.loc[0, 'title'] == 'Toy Story' and table.loc[0, 'mean_rating'] == 4 and table.loc[0, 'n_ratings'] == 2
    with pytest.raises(ValueError, match='1682'): item_table(np.zeros(3), ml_dls, movies)

def test_factor_pca_matches_svd():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, 2, generator=gen) @ torch.tensor([[3., 0, 0, 0], [0, 1., 0, 0]]) + 0.01 * torch.randn(200, 4, generator=gen)
    coords = factor_pca(x, 2)
    xc = x - x.mean(0)
    _, _, Vh = torch.linalg.svd(xc, full_matrices=False)
    want = xc @ Vh[:2].T
    assert_close(coords.abs(), want.abs(), atol=1e-4, rtol=1e-4)  # components are defined up to sign
    assert (coords.gather(0, coords.abs().argmax(0, keepdim=True)) > 0).all()  # the sign rule: the farthest row is positive
    assert torch.equal(factor_pca(x, 2), coords)  # exact and deterministic: no seed involved
    with pytest.raises(ValueError, match='2 dimensions'): factor_pca(torch.randn(5), 2)

def test_nearest_items_matches_cosine_similarity():
    f = torch.randn(30, 6)
    idx, sims = nearest_items(f, 4, k=3)
    full = F.cosine_similarity(f[4][None], f, dim=-1); full[4] = -2
    assert idx.tolist() == full.topk(3).indices.tolist()
    assert_close(sims, full.topk(3).values)
    with pytest.raises(IndexError, match='id 30 is outside the table of 30 rows'): nearest_items(f, 30)

def test_read_ratings_latest_small_folder(tmp_path):
    pd.DataFrame({'userId': [1, 1, 2, 5], 'movieId': [10, 193609, 10, 3], 'rating': [4.5, 3.0, 0.5, 5.0],
                  'timestamp': [1, 2, 3, 4]}).to_csv(tmp_path / 'ratings.csv', index=False)
    pd.DataFrame({'movieId': [3, 10, 193609], 'title': ['Grumpier Old Men (1995)', 'GoldenEye (1995)', 'Odd Movie'],
                  'genres': ['Comedy', 'Action', '(no genres listed)']}).to_csv(tmp_path / 'movies.csv', index=False)
    ratings, movies = read_ratings(tmp_path)
    assert list(ratings.columns) == ['user', 'item', 'rating', 'timestamp'] and len(ratings) == 4
    assert movies.title.tolist() == ['Grumpier Old Men', 'GoldenEye', 'Odd Movie']
    assert movies.year.tolist()[:2] == [1995, 1995] and pd.isna(movies.year.iloc[2])
    dls = ratings_dls(ratings, valid_pct=0.25, bs=2, device='cpu')
    assert len(dls.items) == 3 and dls.items[-1] == 193609
    only_file, titles = read_ratings(tmp_path / 'ratings.csv')
    assert len(only_file) == 4 and titles.title.tolist() == ['item 3', 'item 10', 'item 193609']

# ---------- drawing helpers

def test_label_points_never_overlaps():
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(4, 3))
    x, y = torch.randn(60), torch.randn(60)
    ax.scatter(x, y)
    shown = label_points(ax, x, y, [f'movie number {j}' for j in range(60)])
    boxes = [t.get_window_extent(fig.canvas.get_renderer()) for t in ax.texts]
    assert len(boxes) == len(shown) and 10 < len(shown) < 60 and shown[0] == 0  # the first label always fits
    assert all(b.width > 20 for b in boxes)  # real extents on the screen, not placeholders
    assert not any(a.overlaps(b) for j, a in enumerate(boxes) for b in boxes[j + 1:])
    plt.close(fig)

def test_plot_factor_grid_labels_every_axis_and_marks_gaps_and_out_of_range():
    import matplotlib.pyplot as plt
    stars = torch.tensor([[4., float('nan')], [2., 5.], [float('nan'), 1.]])
    P, Q = torch.tensor([[2., 0.], [1., 1.], [0., 1.5]]), torch.tensor([[1.5, 0.], [2., 2.]])  # predictions 3 4 / 1.5 4 / 0 3
    fig = plot_factor_grid(P, Q, stars, users=[1, 2, 3], movies=['A', 'B'])
    grid_ax = fig.axes[-1]
    colours = [tuple(p.get_edgecolor()[:3]) for p in grid_ax.patches]
    assert colours.count((1., 0., 0.)) == 2 and 'predicted rating' in grid_ax.get_xlabel()  # red: the two gaps
    assert len(colours) == 3 and 'outside 1 to 5 stars' in grid_ax.get_xlabel()  # orange: the one prediction below 1
    assert grid_ax.images[0].get_clim() == (0., 5.)  # the colours reach the lowest prediction instead of clipping it at 1
    assert all(ax.get_xlabel() or ax.get_ylabel() for ax in fig.axes if ax.axison)
    plt.close(fig)

# ---------- bad input

def test_ids_outside_the_table_are_refused_clearly():
    model = DotProductBias(943, 1682, 5)
    with pytest.raises(IndexError, match=r'id 1682 is outside the table of 1682 rows'):
        model(torch.tensor([0, 1]), torch.tensor([5, 1682]))
    with pytest.raises(IndexError, match=r'id 943 is outside the table of 943 rows'):
        model(torch.tensor([943]), torch.tensor([0]))
    with pytest.raises(IndexError, match=r'id -1 is outside'):
        EmbeddingNN(10, 10)(torch.tensor([-1]), torch.tensor([0]))
    with pytest.raises(IndexError, match=r'id 7 is outside the table of 5 rows'): one_hot(torch.tensor([7]), 5)
    with pytest.raises(TypeError, match='integers'): Embedding(5, 2)(torch.tensor([1.]))
    with pytest.raises(ValueError, match='num_embeddings'): Embedding(0, 2)

def test_empty_or_malformed_ratings_are_refused(tmp_path):
    empty = pd.DataFrame({'user': [], 'item': [], 'rating': []})
    with pytest.raises(ValueError, match='empty'): ratings_dls(empty)
    with pytest.raises(ValueError, match='empty'): check_ratings(empty)
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['rating'\]"): check_ratings(pd.DataFrame({'user': [1], 'item': [2]}))
    with pytest.raises(ValueError, match='missing values'): check_ratings(pd.DataFrame({'user': [1], 'item': [2], 'rating': [np.nan]}))
    with pytest.raises(TypeError, match='DataFrame'): check_ratings([(1, 2, 3)])
    (tmp_path / 'ratings.csv').write_text('userId,movieId,rating,timestamp\n')
    with pytest.raises(ValueError, match='empty'): read_ratings(tmp_path)
    with pytest.raises(FileNotFoundError, match='does not exist'): read_ratings(tmp_path / 'nope.csv')
