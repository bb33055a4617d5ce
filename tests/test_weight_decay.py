"""Tests of lessonlib.weight_decay: L2 vs decoupled decay against PyTorch, the parameter split, the sweep, the explorer."""
import copy
import numpy as np
import pytest
import torch
from torch import nn

from lessonlib.data import DataLoaders
from lessonlib.sgd import Learner, mse
from lessonlib.weight_decay import (L2Regularization, PolyGD, WeightDecay, decay_groups, decay_weights_, l2_penalty,
                                    make_poly_problem, wd_explorer, wd_sweep)

def data(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    return x, x @ torch.tensor([1., -1., 2., .5]) + 0.1 * torch.randn(n, generator=g)

def model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))

def run(m, opt, n_steps, wd_l2=0., wd_decay=0.):
    "Full-batch steps with an L2 term in the loss and/or decoupled decay before each step."
    x, y = data()
    for _ in range(n_steps):
        loss = ((m(x).squeeze(1) - y) ** 2).mean() + l2_penalty(m.parameters(), wd_l2)
        loss.backward()
        decay_weights_(m.parameters(), opt.param_groups[0]['lr'], wd_decay)
        opt.step(); opt.zero_grad()
    return torch.cat([p.detach().flatten() for p in m.parameters()])

def test_l2_penalty_value_and_gradient_match_torch():
    w = torch.randn(5, 3, requires_grad=True); w2 = w.detach().clone().requires_grad_()
    ours = l2_penalty([w], 0.3); ours.backward()
    theirs = 0.3 * torch.linalg.vector_norm(w2) ** 2; theirs.backward()
    torch.testing.assert_close(ours, theirs); torch.testing.assert_close(w.grad, w2.grad)

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

def learner(cb, seed=0):
    x, y = data()
    dls = DataLoaders.from_tensors((x[:48], y[:48]), (x[48:], y[48:]), bs=16, seed=0, device='cpu')
    return Learner(dls, model(seed), mse, lr=0.05, cbs=[cb], progress=False)

def test_callbacks_agree_for_sgd():
    a, b = learner(L2Regularization(0.01)), learner(WeightDecay(0.02))
    a.fit(3); b.fit(3)
    for p, q in zip(a.model.parameters(), b.model.parameters()): torch.testing.assert_close(p, q)

def test_decay_groups_split():
    net = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 8), nn.BatchNorm1d(8), nn.LayerNorm(8), nn.Linear(8, 1),
                        nn.Embedding(10, 1))
    groups = decay_groups(net, 0.1)
    decayed, kept = ({id(p) for p in g['params']} for g in groups)
    assert not decayed & kept and len(decayed | kept) == len(list(net.parameters()))
    assert decayed == {id(net[0].weight), id(net[1].weight), id(net[4].weight)}
    for bias_or_norm in (net[1].bias, net[2].weight, net[2].bias, net[3].weight, net[4].bias, net[5].weight):
        assert id(bias_or_norm) in kept
    no_emb = decay_groups(net, 0.1, decay_embeddings=False)
    assert id(net[0].weight) in {id(p) for p in no_emb[1]['params']}
    opt = torch.optim.SGD(groups, lr=0.1)
    assert [g['weight_decay'] for g in opt.param_groups] == [0.1, 0.0]

def test_weight_decay_callback_follows_group_lr_and_chosen_params():
    m = nn.Linear(3, 1)
    x, y = torch.randn(16, 3), torch.randn(16)
    dls = DataLoaders.from_tensors((x, y), (x, y), bs=16, device='cpu')
    cb = WeightDecay(0.5, params=decay_groups(m, 0.5)[0]['params'])
    learn = Learner(dls, m, mse, lr=0.1, splitter=lambda m: [[m.weight], [m.bias]], cbs=[cb], progress=False)
    learn.create_opt(); learn.set_lr([0.1, 0.2])
    weight, bias = m.weight.detach().clone(), m.bias.detach().clone()
    cb.after_backward()
    torch.testing.assert_close(m.weight.detach(), weight * (1 - 0.1 * 0.5))
    torch.testing.assert_close(m.bias.detach(), bias)

def test_l2_callback_restricted_to_params():
    m = nn.Linear(3, 1)
    x, y = torch.randn(16, 3), torch.randn(16)
    dls = DataLoaders.from_tensors((x, y), (x, y), bs=16, device='cpu')
    cb = L2Regularization(0.5, params=[m.weight])
    learn = Learner(dls, m, mse, lr=0.1, cbs=[cb], progress=False)
    learn.create_opt(); learn.training = True; learn.loss = torch.tensor(0.)
    cb.after_loss()
    torch.testing.assert_close(learn.loss, 0.5 * (m.weight ** 2).sum())

def test_decay_groups_work_with_our_optimizers():
    optim = pytest.importorskip('lessonlib.optimizers')
    net = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 1))
    opt = optim.AdamW(decay_groups(net, 0.1), lr=1e-3)
    assert [g['weight_decay'] for g in opt.param_groups] == [0.1, 0.0]

def test_wd_refuses_bad_values():
    for bad in (-1e-3, 'big', float('inf'), True):
        with pytest.raises(ValueError, match='non-negative'): WeightDecay(bad)
        with pytest.raises(ValueError, match='non-negative'): L2Regularization(bad)

def test_sweep_rows_and_bad_input():
    make = lambda wd: learner(WeightDecay(wd))
    sweep = wd_sweep(make, [0, 1e-3, 1e-1], n_epoch=2)
    assert list(sweep.wd) == [0, 1e-3, 1e-1] and np.isfinite(sweep[['train_loss', 'valid_loss']].values).all()
    assert list(sweep.columns) == ['wd', 'train_loss', 'valid_loss', 'diverged']
    again = wd_sweep(make, [0, 1e-3, 1e-1], n_epoch=2)
    np.testing.assert_allclose(sweep.valid_loss, again.valid_loss)  # seeded: same run, same numbers
    for bad in ([-0.1], ['x'], []):
        with pytest.raises(ValueError): wd_sweep(make, bad, n_epoch=1)

def test_closed_form_matches_real_gradient_descent():
    gd = PolyGD(make_poly_problem())
    w = torch.zeros(12, dtype=torch.float64, requires_grad=True)
    for _ in range(200):
        (((gd.F_train @ w - gd.problem.y_train) ** 2).mean() + 0.01 * (w ** 2).sum()).backward()
        with torch.no_grad(): w -= gd.lr * w.grad; w.grad.zero_()
    torch.testing.assert_close(gd.weights(0.01, [200])[0], w.detach())

def test_explorer_updates_figure_data():
    ex = wd_explorer(wd=1e-6, steps=1e6)
    fit, valid = ex.fit_line.get_ydata().copy(), ex.valid_line.get_ydata().copy()
    overfit = ex.valid_loss
    ex.wd_slider.value = 0.03
    assert not np.allclose(fit, ex.fit_line.get_ydata()) and not np.allclose(valid, ex.valid_line.get_ydata())
    assert ex.valid_loss < overfit
    ex.steps_slider.value = 10
    assert ex.marker.get_xdata()[0] == 10
