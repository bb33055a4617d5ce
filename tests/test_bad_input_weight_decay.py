"""Bad input to lessonlib.weight_decay (issue 16): every case asserts the exception type and that the message names
the argument or the problem. Cases are grouped by kind with the markers of conftest.py."""
import numpy as np
import pytest
import torch
from torch import nn

from lessonlib.data import DataLoaders
from lessonlib.embeddings import DotProductBias
from lessonlib.sgd import Learner, mse
from lessonlib.weight_decay import (L2Regularization, PolyGD, WeightDecay, decay_groups, decay_weights_, l2_penalty,
                                    make_poly_problem, plot_sweep, wd_explorer, wd_sweep)

def net(): return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))

def learner(cbs=(), model=None, opt_func=torch.optim.SGD):
    "A fresh learner with its own loaders (what wd_sweep wants)."
    x = torch.randn(32, 3); y = x.sum(1)
    dls = DataLoaders.from_tensors((x[:24], y[:24]), (x[24:], y[24:]), bs=8, device='cpu')
    return Learner(dls, model or net(), mse, opt_func=opt_func, lr=0.05, cbs=list(cbs), silent=True)

make = lambda wd: learner([WeightDecay(wd)])
gd = PolyGD(make_poly_problem())

@pytest.mark.wrong_kind
@pytest.mark.parametrize('call, exc, words', [
    (lambda: l2_penalty(net(), 0.1), TypeError, r'params: got .*expected an iterable of tensors.*model\.parameters\(\)'),
    (lambda: l2_penalty(torch.randn(3), 0.1), TypeError, 'params: got a tensor of shape'),
    (lambda: l2_penalty(torch.optim.SGD(net().parameters(), lr=0.1).param_groups, 0.1), TypeError, r'params\[0\]: got .*expected a tensor'),
    (lambda: decay_weights_([1.0, 2.0], 0.1, 0.1), TypeError, r'params\[0\]: got 1.0, expected a tensor'),
    (lambda: decay_groups(net().parameters(), 0.1), TypeError, 'model: got .*expected an nn.Module. Pass the model itself'),
    (lambda: WeightDecay(0.1, params=net()), TypeError, 'params: got .*model.parameters'),
    (lambda: WeightDecay('big'), TypeError, "wd: got 'big', expected a number >= 0"),
    (lambda: wd_sweep(make, 0.1, n_epoch=1), TypeError, r'wds: got 0.1.*Wrap it in a list: wds=\[0.1\]'),
    (lambda: wd_sweep('learner', [0.1], n_epoch=1), TypeError, 'make_learner: got .*expected a function wd -> Learner'),
    (lambda: wd_sweep(lambda wd: net(), [0.1], n_epoch=1), TypeError, 'make_learner must return a Learner; it returned Sequential'),
    (lambda: wd_sweep(make, [0.1], n_epoch=1, fit='fit'), TypeError, r'fit: got .*a function \(learner, n_epoch\)'),
    (lambda: wd_sweep(make, [0.1]), TypeError, 'n_epoch: got None, expected a positive integer'),
    (lambda: plot_sweep(pd_frame_without_columns()), ValueError, 'sweep: .*the table wd_sweep returns'),
    (lambda: plot_sweep([0.1, 0.2]), TypeError, r'sweep: got \[0.1, 0.2\], expected the table wd_sweep returns'),
])
def test_wrong_kinds(call, exc, words):
    with pytest.raises(exc, match=words): call()

def pd_frame_without_columns():
    import pandas as pd
    return pd.DataFrame({'x': [1]})

@pytest.mark.keyword
@pytest.mark.parametrize('kwargs, words', [
    ({'n_epochs': 1}, "unexpected keyword argument 'n_epochs'. Did you mean 'n_epoch'"),
    ({'n_epoch': 1, 'seed': 0}, "unexpected keyword argument 'seed'. Did you mean 'seeds'"),
])
def test_misspelled_sweep_keywords(kwargs, words):
    with pytest.raises(TypeError, match=words): wd_sweep(make, [0.1], **kwargs)

@pytest.mark.bad_value
@pytest.mark.parametrize('call, exc, words', [
    (lambda: WeightDecay(-1e-3), ValueError, 'wd: got -0.001, expected a number >= 0'),
    (lambda: L2Regularization(float('inf')), ValueError, 'wd: got inf'),
    (lambda: L2Regularization(float('nan')), ValueError, 'wd: got nan'),
    (lambda: l2_penalty([torch.ones(2)], -0.5), ValueError, 'wd: got -0.5'),
    (lambda: decay_weights_([torch.ones(2)], lr=-0.1, wd=0.1), ValueError, 'lr: got -0.1, expected a number >= 0'),
    (lambda: decay_groups(net(), -1), ValueError, 'wd: got -1'),
    (lambda: decay_groups(net().requires_grad_(False), 0.1), ValueError, 'model: .*trainable parameters.*frozen'),
    (lambda: wd_sweep(make, [], n_epoch=1), ValueError, 'wds: got .*at least one value'),
    (lambda: wd_sweep(make, [0.1], n_epoch=0), ValueError, 'n_epoch: got 0, expected an integer >= 1'),
    (lambda: wd_sweep(make, [0.1], n_epoch=1, seeds=[]), ValueError, 'seeds: got .*at least one value'),
    (lambda: wd_sweep(make, [0.1, -1.], n_epoch=1), ValueError, 'wd: got -1.0'),
    (lambda: make_poly_problem(n_train=5), ValueError, 'n_train: got 5, expected an integer >= 12.*at least 12 training points'),
    (lambda: make_poly_problem(noise=-0.1), ValueError, 'noise: got -0.1'),
    (lambda: make_poly_problem(degree=2.5), TypeError, 'degree: got 2.5, expected an integer'),
    (lambda: gd.weights(0.1, [-1]), ValueError, 'steps: got .*step counts >= 0'),
    (lambda: gd.weights(0.1, [np.nan]), ValueError, 'steps: got'),
    (lambda: gd.weights(0.1, []), ValueError, 'steps: got'),
    (lambda: gd.weights(0.1, 'many'), TypeError, 'steps: got .*a list of step counts'),
])
def test_bad_values(call, exc, words):
    with pytest.raises(exc, match=words): call()

@pytest.mark.silent
def test_decay_larger_than_one_step_is_refused_not_sign_flipped():
    w = torch.ones(3)
    with pytest.raises(ValueError, match="wd: got 1.*lr \\* wd at most 1.*flips the weights' signs"): decay_weights_([w], lr=2., wd=1.)
    assert torch.equal(w, torch.ones(3))  # nothing half-done

@pytest.mark.silent
def test_decay_twice_with_an_optimizer_that_decays_is_refused():
    learn = learner([WeightDecay(0.1)], opt_func=torch.optim.AdamW)  # AdamW's default weight_decay is 1e-2
    with pytest.raises(ValueError, match='weight_decay: parameter group 0 .*weight_decay=0.01.*decayed twice'): learn.fit(1)
    ok = learner([WeightDecay(0.1)], opt_func=lambda params, lr: torch.optim.AdamW(params, lr=lr, weight_decay=0.))
    ok.fit(1)

@pytest.mark.silent
def test_a_single_tensor_as_params_is_refused():
    "Iterating a tensor gives its rows, whose ids the optimizer never holds: the callback would decay nothing."
    m = nn.Linear(3, 1)
    with pytest.raises(TypeError, match='params: got a tensor'): WeightDecay(0.1, params=m.weight)

@pytest.mark.silent
def test_sweep_with_shared_loaders_is_refused():
    "Shared loaders carry their shuffling generator from one run into the next, so the seed would not fix a run."
    shared = learner().dls
    shared_make = lambda wd: Learner(shared, net(), mse, cbs=[WeightDecay(wd)], silent=True)
    with pytest.raises(ValueError, match='same DataLoaders as an earlier run.*Build the DataLoaders inside make_learner'):
        wd_sweep(shared_make, [1e-3, 1e-2], n_epoch=1)

@pytest.mark.silent
def test_sweep_reports_a_diverged_run_as_nan_not_its_last_good_epoch():
    def blow_up(wd):
        learn = learner([WeightDecay(wd)]); learn.lr = 1e3
        return learn
    sweep = wd_sweep(blow_up, [0.], n_epoch=3, seeds=[0])
    assert sweep.diverged.iloc[0] == 1 and np.isnan(sweep['mean'].iloc[0]) and np.isnan(sweep['seed 0'].iloc[0])

@pytest.mark.silent
def test_decay_groups_no_longer_decay_the_course_s_bias_tables():
    m = DotProductBias(5, 6, 3)
    kept = {id(p) for p in decay_groups(m, 0.1)[1]['params']}
    assert {id(m.user_bias.weight), id(m.item_bias.weight)} == kept

@pytest.mark.blame
def test_params_from_another_copy_of_the_model_are_named_as_the_cause():
    other = net()
    learn = learner([WeightDecay(0.1, params=other.parameters())])
    with pytest.raises(ValueError, match=r"params: 4 of the 4 tensors .*not trained by the learner's optimizer.*learn\.model"):
        learn.fit(1)

@pytest.mark.blame
def test_closed_form_blames_the_learning_rate_for_a_wd_that_diverges():
    with pytest.raises(ValueError, match="wd: got 1000.*below .*gradient descent at this problem's learning rate diverges"):
        gd.weights(1e3, [10])

@pytest.mark.wrong_order
def test_callback_used_outside_a_fit_says_so():
    cb = WeightDecay(0.1)
    with pytest.raises(RuntimeError, match='WeightDecay acts during fit: attach it to a Learner'): cb.after_backward()
    learner([cb])  # attached, but no optimizer before the first fit
    with pytest.raises(RuntimeError, match='no optimizer yet'): cb.after_backward()

@pytest.mark.wrong_order
def test_penalties_before_any_fit_are_empty_not_an_error():
    assert L2Regularization(0.1).penalties == []

@pytest.mark.widget
@pytest.mark.parametrize('kwargs, exc, words', [
    ({'wd': -1}, ValueError, 'wd: got -1, expected a number >= 0'),
    ({'wd': float('nan')}, ValueError, 'wd: got nan'),
    ({'wd': 'a'}, TypeError, "wd: got 'a'"),
    ({'steps': -3}, ValueError, 'steps: got -3'),
    ({'steps': float('inf')}, ValueError, 'steps: got inf'),
])
def test_explorer_refuses_values_that_are_no_weight_decay(kwargs, exc, words):
    with pytest.raises(exc, match=words): wd_explorer(**kwargs)

@pytest.mark.widget
def test_explorer_clamps_out_of_range_values_and_says_so():
    ex = wd_explorer(wd=5., steps=0)
    assert ex.wd_slider.value == pytest.approx(1.) and ex.steps_slider.value == pytest.approx(1.)
    assert "wd=5 is outside the slider's range: showing 1" in ex.label.value and 'steps=0 is outside' in ex.label.value

@pytest.mark.widget
def test_explorer_extremes_stay_finite():
    ex = wd_explorer()
    for wd, steps in ((1.0, 1e6), (1e-6, 1e6), (1e-6, 1), (1.0, 1)):
        ex.wd_slider.value, ex.steps_slider.value = wd, steps
        assert np.isfinite([ex.train_loss, ex.valid_loss]).all() and 'nan' not in ex.label.value

@pytest.mark.widget
def test_explorer_slider_moved_out_of_range_says_so():
    "A value typed or set beyond a slider's end is clamped by the slider, and the label says so (the shared Explorer)."
    ex = wd_explorer()
    ex.wd_slider.value = 10.
    assert ex.wd_slider.value == pytest.approx(1.) and "outside the slider's range" in ex.label.value
