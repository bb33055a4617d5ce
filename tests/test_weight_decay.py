"""Tests of lessonlib.weight_decay: L2 vs decoupled decay against PyTorch, the callbacks, the parameter split (on the
course's own models too), the seeded sweep, the closed form and the explorer."""
import copy
import numpy as np
import pytest
import torch
from torch import nn

from lessonlib.data import DataLoaders
from lessonlib.embeddings import DotProductBias, EmbeddingNN, Embedding
from lessonlib.sgd import Callback, Learner, mse
from lessonlib.weight_decay import (L2Regularization, PolyGD, WeightDecay, decay_groups, decay_weights_, l2_penalty,
                                    make_poly_problem, plot_sweep, wd_explorer, wd_sweep)

def data(n=64, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g, dtype=dtype)
    return x, x @ torch.tensor([1., -1., 2., .5], dtype=dtype) + 0.1 * torch.randn(n, generator=g, dtype=dtype)

def model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)).double()

def run(m, opt, n_steps, wd_l2=0., wd_decay=0.):
    "Full-batch steps with an L2 term in the loss and/or decoupled decay before each step (float64, as the lesson)."
    x, y = data()
    for _ in range(n_steps):
        loss = ((m(x).squeeze(1) - y) ** 2).mean() + l2_penalty(m.parameters(), wd_l2)
        loss.backward()
        decay_weights_(m.parameters(), opt.param_groups[0]['lr'], wd_decay)
        opt.step(); opt.zero_grad()
    return torch.cat([p.detach().flatten() for p in m.parameters()])

# ---- the two building blocks against PyTorch

def test_l2_penalty_value_and_gradient_match_torch():
    w = torch.randn(5, 3, requires_grad=True); w2 = w.detach().clone().requires_grad_()
    ours = l2_penalty([w], 0.3); ours.backward()
    theirs = 0.3 * torch.linalg.vector_norm(w2) ** 2; theirs.backward()
    torch.testing.assert_close(ours, theirs); torch.testing.assert_close(w.grad, w2.grad)

def test_l2_penalty_of_no_parameters_is_zero():
    assert l2_penalty([], 0.1) == 0

def test_decay_weights_shrinks_in_place_by_lr_times_wd():
    w = torch.tensor([1., -2.], requires_grad=True)
    decay_weights_([w], lr=0.1, wd=0.5)
    torch.testing.assert_close(w.detach(), torch.tensor([0.95, -1.9]))

def test_sgd_l2_equals_decoupled_decay_with_factor_two():
    a, b = model(), model()
    pa = run(a, torch.optim.SGD(a.parameters(), lr=0.05), 100, wd_l2=0.01)
    pb = run(b, torch.optim.SGD(b.parameters(), lr=0.05), 100, wd_decay=0.02)
    torch.testing.assert_close(pa, pb)

def test_sgd_l2_matches_torch_weight_decay():
    a, b = model(), model()
    ours = run(a, torch.optim.SGD(a.parameters(), lr=0.05), 50, wd_l2=0.005)
    theirs = run(b, torch.optim.SGD(b.parameters(), lr=0.05, weight_decay=0.01), 50)
    torch.testing.assert_close(ours, theirs)

def test_momentum_and_adam_make_them_differ():
    for make in (lambda m: torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9),
                 lambda m: torch.optim.Adam(m.parameters(), lr=0.05)):
        a, b = model(), model()
        assert (run(a, make(a), 60, wd_l2=0.05) - run(b, make(b), 60, wd_decay=0.1)).abs().max() > 1e-3

def test_momentum_gap_is_mostly_the_one_over_one_minus_momentum_rescaling():
    "With momentum 0.9, decoupled wd scaled by 1/(1-0.9) = 10 tracks L2 far better than the unscaled one; Adam has no such factor."
    make = lambda m: torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    a, b, c = model(), model(), model()
    l2 = run(a, make(a), 200, wd_l2=0.05)
    plain, rescaled = run(b, make(b), 200, wd_decay=0.1), run(c, make(c), 200, wd_decay=1.0)
    assert (l2 - rescaled).abs().max() < (l2 - plain).abs().max() / 5
    adam = lambda m: torch.optim.Adam(m.parameters(), lr=0.01)
    a = model(); l2_adam = run(a, adam(a), 200, wd_l2=0.05)
    gaps = []
    for factor in (1, 10):
        b = model(); gaps.append((l2_adam - run(b, adam(b), 200, wd_decay=0.1 * factor)).abs().max())
    assert min(gaps) > 0.1

def test_adam_l2_and_adamw_match_torch():
    a, b, c, d = model(), model(), model(), model()
    torch.testing.assert_close(run(a, torch.optim.Adam(a.parameters(), lr=0.01), 40, wd_l2=0.05),
                               run(b, torch.optim.Adam(b.parameters(), lr=0.01, weight_decay=0.1), 40))
    torch.testing.assert_close(run(c, torch.optim.Adam(c.parameters(), lr=0.01), 40, wd_decay=0.1),
                               run(d, torch.optim.AdamW(d.parameters(), lr=0.01, weight_decay=0.1), 40))

def test_our_optimizers_match_when_the_optimizers_lesson_exists():
    optim = pytest.importorskip('lessonlib.optimizers')
    a, b, c, d = model(), model(), model(), model()
    torch.testing.assert_close(run(a, optim.Adam(a.parameters(), lr=0.01, weight_decay=0.1), 40),
                               run(b, torch.optim.Adam(b.parameters(), lr=0.01, weight_decay=0.1), 40))
    torch.testing.assert_close(run(c, optim.AdamW(c.parameters(), lr=0.01, weight_decay=0.1), 40),
                               run(d, torch.optim.AdamW(d.parameters(), lr=0.01, weight_decay=0.1), 40))

# ---- the callbacks

def learner(cb, seed=0, opt_func=torch.optim.SGD):
    x, y = data()
    dls = DataLoaders.from_tensors((x[:48], y[:48]), (x[48:], y[48:]), bs=16, seed=0, device='cpu')
    return Learner(dls, model(seed), mse, opt_func=opt_func, lr=0.05, cbs=[cb] if cb else [], silent=True)

def test_callbacks_agree_for_sgd_and_record_the_data_loss():
    l2, wd = L2Regularization(0.01), WeightDecay(0.02)
    a, b = learner(l2), learner(wd)
    a.fit(3); b.fit(3)
    for p, q in zip(a.model.parameters(), b.model.parameters()): torch.testing.assert_close(p, q)
    np.testing.assert_allclose(a.recorder.history.train_loss, b.recorder.history.train_loss, rtol=1e-10)
    assert len(l2.penalties) == 9 and all(p > 0 for p in l2.penalties)  # 3 epochs x 3 batches, kept apart

def test_l2_callback_records_the_loss_without_the_penalty():
    "learn.loss (what the Recorder records) is the data loss of the batch; the penalty is kept apart."
    cb = L2Regularization(10.)  # a big penalty would show at once
    learn, pairs = learner(cb), []
    class Spy(Callback):
        order = 99
        def after_batch(self):
            if self.learn.training: pairs.append((self.learn.loss.item(), mse(self.learn.pred, self.learn.yb).item()))
    learn.add_cbs([Spy()])
    learn.fit(1)
    recorded, data_loss = zip(*pairs)
    np.testing.assert_allclose(recorded, data_loss)
    assert len(cb.penalties) == len(pairs) and cb.penalties[0] > 1

def test_weight_decay_callback_follows_group_lr_and_chosen_params():
    m = nn.Linear(3, 1)
    x, y = torch.randn(16, 3), torch.randn(16)
    dls = DataLoaders.from_tensors((x, y), (x, y), bs=16, device='cpu')
    cb = WeightDecay(0.5, params=decay_groups(m, 0.5)[0]['params'])
    learn = Learner(dls, m, mse, lr=0.1, cbs=[cb], silent=True)
    learn.opt = torch.optim.SGD([{'params': [m.weight], 'lr': 0.1}, {'params': [m.bias], 'lr': 0.2}], lr=0.1)
    weight, bias = m.weight.detach().clone(), m.bias.detach().clone()
    cb.after_backward()
    torch.testing.assert_close(m.weight.detach(), weight * (1 - 0.1 * 0.5))
    torch.testing.assert_close(m.bias.detach(), bias)

def test_l2_callback_restricted_to_params_adds_their_gradient_only():
    m = nn.Linear(3, 1)
    x, y = torch.randn(16, 3), torch.randn(16)
    dls = DataLoaders.from_tensors((x, y), (x, y), bs=16, device='cpu')
    cb = L2Regularization(0.5, params=[m.weight])
    learn = Learner(dls, m, mse, lr=0.1, cbs=[cb], silent=True)
    learn.opt = torch.optim.SGD(m.parameters(), lr=0.1)
    cb.before_fit()
    cb.after_backward()
    torch.testing.assert_close(m.weight.grad, 2 * 0.5 * m.weight.detach())
    assert m.bias.grad is None
    torch.testing.assert_close(torch.tensor(cb.penalties[0]), 0.5 * (m.weight.detach() ** 2).sum())

def test_callback_in_the_learner_equals_the_closed_form_with_half_the_wd():
    poly = make_poly_problem(); gd = PolyGD(poly)
    dls = DataLoaders.from_tensors((gd.F_train, poly.y_train), (gd.F_valid, poly.y_valid), bs=12, device='cpu')
    net = nn.Linear(12, 1, bias=False).double(); nn.init.zeros_(net.weight)
    learn = Learner(dls, net, mse, lr=gd.lr, cbs=[WeightDecay(0.1)], silent=True)
    learn.fit(50)
    torch.testing.assert_close(net.weight.detach()[0], gd.weights(0.05, [50])[0])

# ---- which parameters

def test_decay_groups_split():
    net = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 8), nn.BatchNorm1d(8), nn.LayerNorm(8), nn.Linear(8, 1),
                        nn.Embedding(10, 1))
    groups = decay_groups(net, 0.1)
    decayed, kept = ({id(p) for p in g['params']} for g in groups)
    assert not decayed & kept and len(decayed | kept) == len(list(net.parameters()))
    assert decayed == {id(net[0].weight), id(net[1].weight), id(net[4].weight)}
    no_emb = decay_groups(net, 0.1, decay_embeddings=False)
    assert id(net[0].weight) in {id(p) for p in no_emb[1]['params']}
    opt = torch.optim.SGD(groups, lr=0.1)
    assert [g['weight_decay'] for g in opt.param_groups] == [0.1, 0.0]

def test_decay_groups_on_dot_product_bias_keeps_the_bias_tables():
    "The course's Embedding is not an nn.Embedding: its width-1 bias tables must still be kept (issue 13)."
    m = DotProductBias(7, 9, 5)
    assert not isinstance(m.user_bias, nn.Embedding) and isinstance(m.user_bias, Embedding)
    decayed, kept = ({id(p) for p in g['params']} for g in decay_groups(m, 0.1))
    assert decayed == {id(m.user_factors.weight), id(m.item_factors.weight)}
    assert kept == {id(m.user_bias.weight), id(m.item_bias.weight)}
    decayed, kept = ({id(p) for p in g['params']} for g in decay_groups(m, 0.1, decay_embeddings=False))
    assert not decayed and len(kept) == 4

def test_decay_groups_on_embedding_nn():
    m = EmbeddingNN(7, 9, 4, 4, 8)
    decayed, kept = ({id(p) for p in g['params']} for g in decay_groups(m, 0.1))
    assert decayed == {id(m.user_factors.weight), id(m.item_factors.weight), id(m.layers[0].weight), id(m.layers[3].weight)}
    assert kept == {id(m.layers[0].bias), id(m.layers[3].bias)}

def test_decay_groups_skip_frozen_and_tied_parameters():
    emb = nn.Embedding(10, 4); out = nn.Linear(4, 10); out.weight = emb.weight  # tied, as in language models
    net = nn.ModuleDict({'emb': emb, 'out': out, 'frozen': nn.Linear(4, 4)}); net['frozen'].requires_grad_(False)
    groups = decay_groups(net, 0.1)
    ids = [id(p) for g in groups for p in g['params']]
    assert len(ids) == len(set(ids)) == 2  # the tied table once, the output bias; nothing frozen
    torch.optim.AdamW(groups, lr=1e-3)  # torch accepts them (no parameter in two groups)

def test_decay_groups_work_with_our_optimizers():
    optim = pytest.importorskip('lessonlib.optimizers')
    net = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 1))
    opt = optim.AdamW(decay_groups(net, 0.1), lr=1e-3)
    assert [g['weight_decay'] for g in opt.param_groups] == [0.1, 0.0]

# ---- the sweep

def fresh_learner(cb):
    "Model and loaders drawn from the global generators, so set_seed fixes the run and another seed changes it."
    x, y = data()
    dls = DataLoaders.from_tensors((x[:48], y[:48]), (x[48:], y[48:]), bs=16, device='cpu')
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)).double()
    return Learner(dls, net, mse, lr=0.05, cbs=[cb], silent=True)

def make_fresh(wd): return fresh_learner(WeightDecay(wd))

def test_sweep_rows_columns_and_reproducible():
    sweep = wd_sweep(make_fresh, [0, 1e-3, 1e-1], n_epoch=2)
    assert list(sweep.wd) == [0, 1e-3, 1e-1] and list(sweep.index) == ['wd=0', 'wd=0.001', 'wd=0.1']
    assert list(sweep.columns) == ['wd', 'seed 0', 'seed 1', 'seed 2', 'mean', 'std', 'train_loss', 'diverged']
    assert np.isfinite(sweep[['mean', 'std', 'train_loss']].values).all() and (sweep.diverged == 0).all()
    again = wd_sweep(make_fresh, [0, 1e-3, 1e-1], n_epoch=2)
    np.testing.assert_array_equal(sweep['mean'], again['mean'])  # the seed fixes every run
    np.testing.assert_allclose(sweep['mean'], sweep[['seed 0', 'seed 1', 'seed 2']].mean(axis=1))

def test_sweep_seeds_change_the_runs():
    "The seeds matter (model initialisation and shuffling): the three seed columns differ."
    sweep = wd_sweep(make_fresh, [1e-3], n_epoch=1)
    assert sweep[['seed 0', 'seed 1', 'seed 2']].iloc[0].nunique() == 3

def test_sweep_counts_diverged_runs_as_nan(capsys):
    def blow_up(wd):
        learn = fresh_learner(WeightDecay(wd)); learn.lr = 50.
        return learn
    sweep = wd_sweep(blow_up, [0.], n_epoch=3, seeds=[0])
    assert sweep.diverged.iloc[0] == 1 and np.isnan(sweep['mean'].iloc[0]) and np.isnan(sweep.train_loss.iloc[0])

def test_plot_sweep_labels_both_axes():
    sweep = wd_sweep(make_fresh, [0, 1e-3, 1e-1], n_epoch=1, seeds=[0, 1])
    ax = plot_sweep(sweep)
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_xscale() == 'log'

# ---- the closed form and the explorer

def test_closed_form_matches_real_gradient_descent():
    gd = PolyGD(make_poly_problem())
    w = torch.zeros(12, dtype=torch.float64, requires_grad=True)
    for _ in range(200):
        (((gd.F_train @ w - gd.problem.y_train) ** 2).mean() + 0.01 * (w ** 2).sum()).backward()
        with torch.no_grad(): w -= gd.lr * w.grad; w.grad.zero_()
    torch.testing.assert_close(gd.weights(0.01, [200])[0], w.detach())

def test_closed_form_refuses_a_wd_that_would_diverge():
    gd = PolyGD(make_poly_problem())
    limit = 1 / gd.lr - gd.curvatures.max().item()
    assert np.isfinite(gd.losses(1.0, [1e6])[1]).all()  # the explorer's largest value is stable
    with pytest.raises(ValueError, match='wd: got .*, expected a weight decay below'): gd.weights(limit * 1.01, [10])

def test_explorer_updates_figure_data():
    ex = wd_explorer(wd=1e-6, steps=1e6)
    fit, valid = ex.fit_line.get_ydata().copy(), ex.valid_line.get_ydata().copy()
    overfit = ex.valid_loss
    ex.wd_slider.value = 0.03
    assert not np.allclose(fit, ex.fit_line.get_ydata()) and not np.allclose(valid, ex.valid_line.get_ydata())
    assert ex.valid_loss < overfit
    ex.steps_slider.value = 10
    assert ex.marker.get_xdata()[0] == 10

def test_explorer_shows_its_clamps_in_the_label_until_a_slider_moves():
    ex = wd_explorer(wd=0, steps=1e7)
    assert ex.wd_slider.value == pytest.approx(1e-6) and ex.steps_slider.value == pytest.approx(1e6)
    assert "wd=0 is outside the slider's range: showing 1e-06" in ex.label.value and 'steps=1e+07' in ex.label.value
    ex.wd_slider.value = 1e-2
    assert 'outside' not in ex.label.value
    assert 'outside' not in wd_explorer(wd=1e-2, steps=100).label.value

def test_explorer_names_the_l2_scale_of_its_decay():
    "The slider is the closed form's L2 wd (half the decoupled callback's wd for the same weights): label and slider say L2."
    ex = wd_explorer(wd=0.05, steps=100)
    assert ex.wd_slider.description == 'L2 weight decay' and ex.label.value.startswith('L2 wd=5.0e-02')
    gd = PolyGD(make_poly_problem())
    torch.testing.assert_close(ex.weights, gd.weights(0.05, [100])[0])

def test_closed_form_learning_rate_keeps_every_factor_in_its_steady_range():
    "lr = 0.45 / (largest curvature + 1): each factor 1 - 2*lr*(curvature + wd) lies in [0.1, 1) for every wd up to 1."
    gd = PolyGD(make_poly_problem())
    for wd in (0., 0.05, 1.):
        factors = 1 - 2 * gd.lr * (gd.curvatures + wd)
        assert factors.min() >= 0.1 - 1e-12 and factors.max() < 1

# ---- the callbacks check their setup at every use, not only once

def test_callback_refuses_an_optimizer_swapped_in_after_a_fit():
    m = model()
    x, y = data()
    dls = DataLoaders.from_tensors((x[:48], y[:48]), (x[48:], y[48:]), bs=16, device='cpu')
    learn = Learner(dls, m, mse, lr=0.05, cbs=[WeightDecay(0.1)], silent=True)
    learn.fit(1)
    learn.opt = torch.optim.SGD(m.parameters(), lr=0.05, weight_decay=0.1)  # now the optimizer decays too
    with pytest.raises(ValueError, match='decayed twice'): learn.fit(1)

def test_decay_groups_keep_multi_dimensional_norm_scales():
    "A LayerNorm over two dimensions has a 2-D scale: it is kept because of its layer, not its shape."
    net = nn.Sequential(nn.Linear(3, 6), nn.Unflatten(1, (2, 3)), nn.LayerNorm([2, 3]), nn.Flatten(), nn.GroupNorm(2, 6))
    decayed, kept = ({id(p) for p in g['params']} for g in decay_groups(net, 0.1))
    assert decayed == {id(net[0].weight)}
    assert {id(net[2].weight), id(net[2].bias), id(net[4].weight), id(net[4].bias)} <= kept
