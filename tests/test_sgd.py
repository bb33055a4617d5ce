"""Tests of lessonlib.sgd: losses against PyTorch, the Learner and its callbacks, and the learning-rate explorer."""
import subprocess, sys
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lessonlib.data import DataLoaders
from lessonlib.sgd import (Callback, CancelBatchException, CancelFitException, CosineWarmup, Learner, accuracy,
                           classify_regime, cosine_warmup_lr, lr_explorer, lrs_for_groups, mse, sgd_path, bowl_loss,
                           bowl_grad, REGIMES)

def regression_dls(n=256, bs=32):
    "A noisy linear problem: y = x @ w + b."
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, generator=gen)
    y = x @ torch.tensor([1., -2., 0.5]) + 0.3 + 0.01 * torch.randn(n, generator=gen)
    return DataLoaders.from_tensors((x[:200], y[:200]), (x[200:], y[200:]), bs=bs, seed=0, device='cpu')

# ---------- losses and metrics against PyTorch

def test_mse_matches_torch_values_and_gradients():
    pred = torch.randn(10, 1, requires_grad=True); target = torch.randn(10)
    pred2 = pred.detach().clone().requires_grad_()
    ours, theirs = mse(pred, target), F.mse_loss(pred2.view(-1), target)
    torch.testing.assert_close(ours, theirs)
    ours.backward(); theirs.backward()
    torch.testing.assert_close(pred.grad, pred2.grad)

def test_accuracy():
    pred = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert accuracy(pred, torch.tensor([1, 0, 0])).item() == pytest.approx(2 / 3)

def test_bowl_gradient_matches_autograd():
    for w0 in (-3., 0.5, 7.):
        w = torch.tensor(w0, requires_grad=True); bowl_loss(w).backward()
        assert w.grad.item() == pytest.approx(bowl_grad(w0))

# ---------- learning rates per group

def test_lrs_for_groups():
    assert lrs_for_groups(0.1, 3) == [0.1] * 3
    assert lrs_for_groups([1e-3, 1e-2], 2) == [1e-3, 1e-2]
    assert lrs_for_groups(slice(0.3), 3) == pytest.approx([0.1, 0.1, 0.3])
    assert lrs_for_groups(slice(1e-5, 1e-3), 3) == pytest.approx([1e-5, 1e-4, 1e-3])
    with pytest.raises(ValueError, match='2 learning rates for 3'): lrs_for_groups([1, 2], 3)
    with pytest.raises(ValueError, match='non-negative'): lrs_for_groups(-1, 1)
    with pytest.raises(ValueError, match='non-negative'): lrs_for_groups('fast', 1)

# ---------- the Learner

def test_loss_goes_down_on_a_tiny_problem():
    learn = Learner(regression_dls(), nn.Linear(3, 1), mse, lr=0.1, progress=False)
    learn.fit(5)
    hist = learn.recorder.history
    assert list(hist.columns) == ['epoch', 'train_loss', 'valid_loss', 'time']
    assert hist.valid_loss.iloc[-1] < 0.01 < hist.train_loss.iloc[0]
    assert np.all(np.diff(hist.valid_loss) < 0)

class Log(Callback):
    "Records each event's name."
    def __init__(self): self.events = []
    def __getattr__(self, name):
        if name.startswith(('before_', 'after_')): return lambda: self.events.append(name)
        raise AttributeError(name)

def test_callbacks_fire_in_order():
    dls = DataLoaders.from_tensors((torch.randn(8, 3), torch.randn(8)), (torch.randn(4, 3), torch.randn(4)), bs=4, device='cpu')
    log = Log()
    Learner(dls, nn.Linear(3, 1), mse, cbs=[log], progress=False).fit(1)
    train_batch = ['before_batch', 'after_pred', 'after_loss', 'after_backward', 'after_step', 'after_batch']
    valid_batch = ['before_batch', 'after_pred', 'after_loss', 'after_batch']
    assert log.events == (['before_fit', 'before_epoch', 'before_train'] + train_batch * 2 + ['after_train', 'before_validate']
                          + valid_batch + ['after_validate', 'after_epoch', 'after_fit'])

def test_callback_order_attribute():
    calls = []
    class A(Callback):
        order = 10
        def before_fit(self): calls.append('A')
    class B(Callback):
        order = 1
        def before_fit(self): calls.append('B')
    Learner(regression_dls(), nn.Linear(3, 1), mse, cbs=[A(), B()], progress=False).fit(1)
    assert calls == ['B', 'A']

def test_cancel_batch_skips_the_step():
    class SkipAll(Callback):
        def after_loss(self):
            if self.learn.training: raise CancelBatchException()
    model = nn.Linear(3, 1); before = [p.detach().clone() for p in model.parameters()]
    Learner(regression_dls(), model, mse, cbs=[SkipAll()], progress=False).fit(1)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))

def test_cancel_fit_stops_cleanly():
    class StopNow(Callback):
        def before_batch(self): raise CancelFitException()
        def after_cancel_fit(self): self.cancelled = True
    stop = StopNow()
    learn = Learner(regression_dls(), nn.Linear(3, 1), mse, cbs=[stop], progress=False)
    learn.fit(3)
    assert stop.cancelled and len(learn.recorder.history) == 0

def test_nan_loss_stops_with_a_message(capsys):
    learn = Learner(regression_dls(), nn.Linear(3, 1), mse, lr=1e6, metrics=[], progress=False)
    learn.fit(5)
    out = capsys.readouterr().out
    assert 'learning rate' in out and 'too high' in out
    assert learn.stop_reason is not None
    assert np.isfinite(learn.recorder.losses).all()
    assert not learn.recorder.history.isna().any().any()

def test_metrics_and_torch_optimizers():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(300, 2, generator=gen); y = (x[:, 0] + x[:, 1] > 0).long()
    dls = DataLoaders.from_split(x, y, valid_pct=0.2, seed=0, bs=32, device='cpu')
    learn = Learner(dls, nn.Linear(2, 2), F.cross_entropy, opt_func=torch.optim.Adam, lr=0.05, metrics=[accuracy], progress=False)
    learn.fit(5)
    assert isinstance(learn.opt, torch.optim.Adam)
    assert learn.recorder.history.accuracy.iloc[-1] > 0.9

def test_splitter_and_discriminative_lrs():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1))
    learn = Learner(regression_dls(), model, mse, splitter=lambda m: [m[0].parameters(), m[1].parameters()], progress=False)
    learn.fit(1, lr=slice(1e-3, 1e-1))
    assert [g['lr'] for g in learn.opt.param_groups] == pytest.approx([1e-3, 1e-1])
    learn.fit(1, lr=slice(0.3))
    assert [g['lr'] for g in learn.opt.param_groups] == pytest.approx([0.1, 0.3])

def test_recorder_smoothing_is_debiased():
    learn = Learner(regression_dls(), nn.Linear(3, 1), mse, lr=0.0, progress=False)
    learn.fit(1)
    r = learn.recorder
    assert r.smooth_losses[0] == pytest.approx(r.losses[0])
    assert len(r.lrs) == len(r.losses) == len(learn.dls.train)

def test_progress_bar_runs_in_a_terminal():
    learn = Learner(regression_dls(), nn.Linear(3, 1), mse, lr=0.1, metrics=[], progress=True)
    learn.fit(2)
    assert len(learn.recorder.history) == 2

def test_fit_bad_n_epoch():
    learn = Learner(regression_dls(), nn.Linear(3, 1), mse, progress=False)
    with pytest.raises(ValueError, match='n_epoch'): learn.fit(0)

def test_cosine_warmup_schedule():
    assert [cosine_warmup_lr(p, 2.0) for p in (0, 0.1, 0.55, 1.0)] == pytest.approx([0, 2.0, 1.0, 0])
    learn = Learner(regression_dls(), nn.Linear(3, 1), mse, cbs=[CosineWarmup(0.1)], progress=False)
    learn.fit(2)
    lrs = learn.recorder.lrs
    assert lrs[0] == 0 and max(lrs) == pytest.approx(0.1, rel=0.1) and lrs[-1] < 0.01

# ---------- the explorer and what it computes

def test_sgd_path_regimes():
    assert [classify_regime(*sgd_path(lr, 20), 20) for lr in (0.02, 0.5, 1.7, 2.3)] == list(REGIMES)

def test_sgd_path_stops_when_it_blows_up():
    ws, losses = sgd_path(3.0, steps=100)
    assert len(ws) < 101 and np.isfinite(losses).all()
    with pytest.raises(ValueError, match='positive'): sgd_path(0.0)

def test_explorer_slider_updates_figure_data():
    ex = lr_explorer(lr=0.1, steps=20)
    before = ex.path_line.get_xdata().copy()
    ex.lr_slider.value = 0.5
    after = ex.path_line.get_xdata()
    assert not np.array_equal(before, after) and ex.regime == 'converging'
    ex.steps_slider.value = 5
    assert len(ex.loss_line.get_xdata()) == 6

def test_explorer_extreme_learning_rates_report_divergence():
    ex = lr_explorer()
    ex.lr_slider.value = 10 ** ex.lr_slider.max
    assert ex.regime == 'diverging' and 'diverging' in ex.label.value
    ex.steps_slider.value = ex.steps_slider.max
    assert ex.regime == 'diverging'
    ex.lr_slider.value = 10 ** ex.lr_slider.min
    assert ex.regime == 'crawling'

def test_import_works_outside_the_repo(tmp_path):
    code = 'import lessonlib, lessonlib.data, lessonlib.sgd; print(lessonlib.__version__)'
    out = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()

def test_partial_metrics_are_named_after_their_function():
    from functools import partial
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(100, 2, generator=gen); y = (x[:, 0] > 0).long()
    dls = DataLoaders.from_split(x, y, valid_pct=0.2, seed=0, bs=32, device='cpu')
    learn = Learner(dls, nn.Linear(2, 2), F.cross_entropy, lr=0.1, metrics=[partial(accuracy)], progress=True)
    learn.fit(1)
    assert 'accuracy' in learn.recorder.history.columns
