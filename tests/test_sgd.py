"""Tests of lessonlib.sgd: losses against PyTorch, the Learner and its callbacks, its conveniences, and the explorer."""
import io, subprocess, sys
from functools import partial
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lessonlib.data import DataLoaders
from lessonlib.sgd import (Callback, CancelBatchException, CancelFitException, CosineWarmup, Learner, NonFiniteLossError,
                           ProgressCallback, Recorder, accuracy, classify_regime, cosine_warmup_lr, lr_explorer,
                           lrs_for_groups, mse, sgd_path, bowl_loss, bowl_grad, REGIMES)

DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])

def regression_dls(n=256, bs=32, device='cpu'):
    "A noisy linear problem: y = x @ w + b."
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, generator=gen)
    y = x @ torch.tensor([1., -2., 0.5]) + 0.3 + 0.01 * torch.randn(n, generator=gen)
    return DataLoaders.from_tensors((x[:200], y[:200]), (x[200:], y[200:]), bs=bs, seed=0, device=device)

def classification_dls(n=300, device='cpu'):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(n, 2, generator=gen); y = (x[:, 0] + x[:, 1] > 0).long()
    return DataLoaders.from_tensors((x[:240], y[:240]), (x[240:], y[240:]), bs=32, seed=0, device=device)

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
    seq = torch.randn(2, 5, 7); target = seq.argmax(-1)  # sequences: one row of scores per position
    assert accuracy(seq, target).item() == 1.0

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
    assert lrs_for_groups(slice(1e-3, 1e-3), 2) == pytest.approx([1e-3, 1e-3])
    assert lrs_for_groups(0, 2) == [0., 0.]  # lr 0 is allowed: it freezes training (the recorder test uses it)
    with pytest.raises(ValueError, match='2 learning rates for 3'): lrs_for_groups([1, 2], 3)
    with pytest.raises(ValueError, match='lr: got -1'): lrs_for_groups(-1, 1)
    with pytest.raises(TypeError, match='lr: got'): lrs_for_groups('fast', 1)

# ---------- the Learner reproduces the hand-written loop

def test_learner_reproduces_a_hand_written_loop_exactly():
    "Same seed, same data order, plain SGD: the Learner's batch losses equal the hand loop's bit for bit."
    def run_by_hand():
        torch.manual_seed(0); model = nn.Linear(3, 1); dls = regression_dls(); losses = []
        for _ in range(2):
            for xb, yb in dls.train:
                loss = mse(model(xb), yb); loss.backward()
                with torch.no_grad():
                    for p in model.parameters(): p.sub_(0.1 * p.grad); p.grad.zero_()
                losses.append(loss.item())
        return losses
    class PlainSGD:
        def __init__(self, params, lr): self.param_groups = [{'params': list(params), 'lr': lr}]
        def step(self):
            with torch.no_grad():
                for g in self.param_groups:
                    for p in g['params']: p.sub_(g['lr'] * p.grad)
        def zero_grad(self):
            for g in self.param_groups:
                for p in g['params']: p.grad.zero_()
    torch.manual_seed(0); model = nn.Linear(3, 1)
    learn = Learner(regression_dls(), model, mse, opt_func=PlainSGD, lr=0.1, silent=True)
    learn.fit(2)
    assert learn.recorder.losses == run_by_hand()

def test_loss_goes_down_on_a_tiny_problem():
    learn = Learner(regression_dls(), nn.Linear(3, 1), mse, lr=0.1, silent=True)
    learn.fit(5)
    hist = learn.recorder.history
    assert list(hist.columns) == ['epoch', 'train_loss', 'valid_loss', 'time']
    assert hist.valid_loss.iloc[-1] < 0.01 < hist.train_loss.iloc[0]
    assert np.all(np.diff(hist.valid_loss) < 0)
    assert not learn.model.training and learn.training is False

class Log(Callback):
    "Records each event's name."
    def __init__(self): self.events = []
    def __getattr__(self, name):
        if name.startswith(('before_', 'after_')): return lambda: self.events.append(name)
        raise AttributeError(name)

def test_callbacks_fire_in_order():
    dls = DataLoaders.from_tensors((torch.randn(8, 3), torch.randn(8)), (torch.randn(4, 3), torch.randn(4)), bs=4, device='cpu')
    log = Log()
    Learner(dls, nn.Linear(3, 1), mse, cbs=[log], silent=True).fit(1)
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
    Learner(regression_dls(), nn.Linear(3, 1), mse, cbs=[A(), B()], silent=True).fit(1)
    assert calls == ['B', 'A']

def test_cancel_batch_skips_the_step_and_clears_the_gradients():
    class SkipAfterBackward(Callback):
        def after_backward(self): raise CancelBatchException()
        def after_cancel_batch(self): self.cancelled = getattr(self, 'cancelled', 0) + 1
    model = nn.Linear(3, 1); before = [p.detach().clone() for p in model.parameters()]
    cb = SkipAfterBackward()
    learn = Learner(regression_dls(), model, mse, cbs=[cb], silent=True)
    learn.fit(1)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert cb.cancelled == len(learn.dls.train)
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())  # nothing leaks into the next batch
    assert len(learn.recorder.losses) == len(learn.dls.train)  # cancelled batches still have their loss recorded

def test_cancel_in_before_batch_records_no_loss():
    class SkipAll(Callback):
        def before_batch(self): raise CancelBatchException()
    learn = Learner(regression_dls(), nn.Linear(3, 1), mse, cbs=[SkipAll()], silent=True)
    learn.fit(1)
    assert learn.recorder.losses == [] and np.isnan(learn.recorder.history.train_loss.iloc[0])

def test_cancel_fit_stops_cleanly():
    class StopNow(Callback):
        def before_batch(self): raise CancelFitException()
        def after_cancel_fit(self): self.cancelled = True
        def after_fit(self): self.ended = True
    stop = StopNow()
    learn = Learner(regression_dls(), nn.Linear(3, 1), mse, cbs=[stop], silent=True)
    learn.fit(3)
    assert stop.cancelled and stop.ended and len(learn.recorder.history) == 0

def test_fit_cbs_are_removed_afterwards_even_on_error():
    class Boom(Callback):
        def after_loss(self): raise KeyError('boom')
    learn = Learner(regression_dls(), nn.Linear(3, 1), mse, silent=True)
    n = len(learn.cbs)
    with pytest.raises(KeyError): learn.fit(1, cbs=[Boom()])
    assert len(learn.cbs) == n and not learn.model.training

def test_nan_loss_stops_with_an_exception_and_no_half_results():
    learn = Learner(regression_dls(), nn.Linear(3, 1), mse, lr=1e6, silent=True)
    with pytest.raises(NonFiniteLossError, match='learning rate') as info:
        learn.fit(5)
    assert info.value.cause in ('parameters', 'predictions')
    assert learn.stop_reason == str(info.value)
    assert np.isfinite(learn.recorder.losses).all()
    assert not learn.recorder.history.isna().any().any()
    assert info.value._render_traceback_() == [f"NonFiniteLossError: {info.value}"]

def test_a_diverged_script_exits_with_an_error(tmp_path):
    code = ("import torch; from torch import nn; from lessonlib.data import DataLoaders; from lessonlib.sgd import Learner, mse\n"
            "x = torch.randn(64, 3); y = x.sum(1)\n"
            "dls = DataLoaders.from_tensors((x, y), (x, y), bs=16, device='cpu')\n"
            "Learner(dls, nn.Linear(3, 1), mse, lr=1e6).fit(3)\n")
    out = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode != 0 and 'NonFiniteLossError' in out.stderr

def test_metrics_and_torch_optimizers():
    learn = Learner(classification_dls(), nn.Linear(2, 2), F.cross_entropy, opt_func=torch.optim.Adam, lr=0.05, metrics=[accuracy], silent=True)
    learn.fit(5)
    assert isinstance(learn.opt, torch.optim.Adam)
    assert learn.recorder.history.accuracy.iloc[-1] > 0.9

def test_splitter_and_discriminative_lrs():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1))
    learn = Learner(regression_dls(), model, mse, splitter=lambda m: [m[0].parameters(), m[1].parameters()], silent=True)
    learn.fit(1, lr=slice(1e-3, 1e-1))
    assert [g['lr'] for g in learn.opt.param_groups] == pytest.approx([1e-3, 1e-1])
    learn.fit(1, lr=slice(0.3))
    assert [g['lr'] for g in learn.opt.param_groups] == pytest.approx([0.1, 0.3])

def test_splitter_may_return_torch_style_dicts():
    model = nn.Linear(3, 1)
    split = lambda m: [{'params': [m.weight], 'weight_decay': 0.1}, {'params': [m.bias], 'weight_decay': 0.}]
    learn = Learner(regression_dls(), model, mse, splitter=split, silent=True)
    learn.fit(1)
    assert [g['weight_decay'] for g in learn.opt.param_groups] == [0.1, 0.]

def test_recorder_smoothing_is_debiased():
    learn = Learner(regression_dls(), nn.Linear(3, 1), mse, lr=0.0, silent=True)
    learn.fit(1)
    r = learn.recorder
    assert r.smooth_losses[0] == pytest.approx(r.losses[0])
    assert len(r.lrs) == len(r.losses) == len(learn.dls.train)

def test_fit_bad_n_epoch():
    learn = Learner(regression_dls(), nn.Linear(3, 1), mse, silent=True)
    with pytest.raises(ValueError, match='n_epoch'): learn.fit(0)

def test_cosine_warmup_schedule():
    assert [cosine_warmup_lr(p, 2.0) for p in (0, 0.1, 0.55, 1.0)] == pytest.approx([0, 2.0, 1.0, 0])
    learn = Learner(regression_dls(), nn.Linear(3, 1), mse, cbs=[CosineWarmup(0.1)], silent=True)
    learn.fit(2)
    lrs = learn.recorder.lrs
    assert lrs[0] == 0 and max(lrs) == pytest.approx(0.1, rel=0.1) and lrs[-1] < 0.01

def test_callbacks_are_reached_by_name():
    learn = Learner(regression_dls(), nn.Linear(3, 1), mse, progress=False)
    assert isinstance(learn.recorder, Recorder) and isinstance(learn.progress, ProgressCallback)
    with pytest.raises(AttributeError, match="Did you mean 'recorder'"): learn.recoder

def test_the_module_has_no_module_level_getattr():
    "The Learner's __getattr__ is attached to the class in an appendix: it must not also become the module's own (PEP 562)."
    import lessonlib.sgd as sgd
    assert '__getattr__' not in vars(sgd)
    with pytest.raises(AttributeError): sgd.no_such_name

def test_the_wrapped_constructor_and_fit_keep_their_signatures():
    import inspect
    assert list(inspect.signature(Learner).parameters)[:3] == ['dls', 'model', 'loss_func']
    assert list(inspect.signature(Learner.fit).parameters) == ['self', 'n_epoch', 'lr', 'cbs']
    learn = Learner(regression_dls(), nn.Linear(3, 1), mse, silent=True)
    with pytest.raises(TypeError, match="Did you mean 'n_epoch'"): learn.fit(n_epochs=1)

def test_mnist_dls_shuffle_seed_changes_the_order_not_the_split():
    from lessonlib.sgd import mnist_dls
    a, b, c = mnist_dls(device='cpu'), mnist_dls(device='cpu', shuffle_seed=1), mnist_dls(device='cpu', shuffle_seed=42)
    assert torch.equal(a.valid.tensors[0], b.valid.tensors[0]) and torch.equal(a.train.tensors[1], b.train.tensors[1])
    first = lambda dls: dls.one_batch()[1]  # does not move the shuffle on
    assert not torch.equal(first(a), first(b)) and torch.equal(first(a), first(c))  # shuffle_seed=42 is the default order

def test_partial_metrics_are_named_after_their_function():
    learn = Learner(classification_dls(), nn.Linear(2, 2), F.cross_entropy, lr=0.1, metrics=[partial(accuracy)], silent=True)
    learn.fit(1)
    assert 'accuracy' in learn.recorder.history.columns

def test_torch_dataloaders_work_and_batches_move_to_the_model():
    from torch.utils.data import DataLoader, TensorDataset
    x = torch.randn(64, 3); y = x.sum(1)
    dls = DataLoaders(DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True), DataLoader(TensorDataset(x, y), batch_size=32))
    learn = Learner(dls, nn.Linear(3, 1), mse, lr=0.1, silent=True)
    learn.fit(2)
    assert len(learn.recorder.history) == 2 and learn.device == torch.device('cpu')

# ---------- printing: a table, a bar where one can be watched

def test_progress_false_still_prints_the_table(capsys):
    learn = Learner(regression_dls(), nn.Linear(3, 1), mse, lr=0.1, progress=False)
    learn.fit(3)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ['epoch', 'train_loss', 'valid_loss', 'time'] and len(lines) == 4
    assert [l.split()[0] for l in lines[1:]] == ['0', '1', '2']

def test_silent_prints_nothing(capsys):
    Learner(regression_dls(), nn.Linear(3, 1), mse, lr=0.1, silent=True).fit(2)
    out = capsys.readouterr()
    assert out.out == '' and out.err == ''

def test_no_bar_when_output_is_not_a_terminal(capsys):
    "In a log or a pipe: one plain line per epoch, no carriage returns."
    learn = Learner(regression_dls(), nn.Linear(3, 1), mse, lr=0.1, metrics=[], progress=True)
    learn.fit(2)
    out = capsys.readouterr()
    assert '\r' not in out.out + out.err and len(out.out.strip().splitlines()) == 3

class FakeTerminal(io.StringIO):
    def isatty(self): return True

def test_a_bar_in_a_terminal(monkeypatch, capsys):
    pytest.importorskip('tqdm')
    term = FakeTerminal()
    monkeypatch.setattr(sys, 'stderr', term)
    learn = Learner(regression_dls(), nn.Linear(3, 1), mse, lr=0.1)
    learn.fit(2)
    assert '\r' in term.getvalue() and 'epoch 2/2' in term.getvalue()  # the bar, drawn on the terminal
    assert len([l for l in capsys.readouterr().out.splitlines() if l.strip()]) == 3  # the table rows, not glued to the bar

# ---------- conveniences: get_preds, predict, save and load

@pytest.mark.parametrize('device', DEVICES)
def test_get_preds_and_predict_restore_the_mode(device):
    learn = Learner(classification_dls(device=device), nn.Sequential(nn.Linear(2, 8), nn.Dropout(0.5), nn.Linear(8, 2)),
                    F.cross_entropy, lr=0.1, metrics=[accuracy], silent=True)
    learn.fit(2)
    learn.model.train()
    preds, targets = learn.get_preds()
    assert learn.model.training and preds.shape == (60, 2) and targets.shape == (60,) and preds.device.type == 'cpu'
    assert accuracy(preds, targets).item() == pytest.approx(learn.recorder.history.accuracy.iloc[-1])
    again, _ = learn.get_preds()
    torch.testing.assert_close(preds, again)  # evaluation mode: dropout off, so the same answer twice
    x0 = learn.dls.valid.tensors[0][0]
    torch.testing.assert_close(learn.predict(x0), preds[0])
    assert learn.model.training
    train_preds, train_targets = learn.get_preds(learn.dls.train)
    assert len(train_preds) == 240

@pytest.mark.parametrize('device', DEVICES)
def test_save_and_load_model_and_optimizer(tmp_path, device):
    learn = Learner(classification_dls(device=device), nn.Linear(2, 2), F.cross_entropy, opt_func=partial(torch.optim.SGD, momentum=0.9),
                    lr=0.1, silent=True)
    learn.fit(1)
    path = learn.save(tmp_path / 'model.pth')
    other = Learner(classification_dls(device=device), nn.Linear(2, 2), F.cross_entropy, opt_func=partial(torch.optim.SGD, momentum=0.9), silent=True)
    other.load(path)
    for a, b in zip(learn.model.parameters(), other.model.parameters()): torch.testing.assert_close(a, b)
    sa, sb = learn.opt.state_dict(), other.opt.state_dict()
    for k in sa['state']: torch.testing.assert_close(sa['state'][k]['momentum_buffer'], sb['state'][k]['momentum_buffer'])
    assert [p.name for p in tmp_path.iterdir()] == ['model.pth']  # no temporary file left behind

def test_load_a_bare_state_dict(tmp_path):
    model = nn.Linear(2, 2); torch.save(model.state_dict(), tmp_path / 'bare.pth')
    learn = Learner(classification_dls(), nn.Linear(2, 2), F.cross_entropy, silent=True).load(tmp_path / 'bare.pth')
    torch.testing.assert_close(learn.model.weight, model.weight)

def test_an_interrupted_save_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    learn = Learner(classification_dls(), nn.Linear(2, 2), F.cross_entropy, lr=0.1, silent=True)
    learn.fit(1)
    path = learn.save(tmp_path / 'model.pth')
    good = path.read_bytes()
    learn.fit(1)  # new weights, which the interrupted save below tries to write
    real_save = torch.save
    def crash_halfway(obj, f, *args, **kwargs):
        buf = io.BytesIO(); real_save(obj, buf)
        f.write(buf.getvalue()[:len(buf.getvalue()) // 2])
        raise KeyboardInterrupt('power cut')
    monkeypatch.setattr(torch, 'save', crash_halfway)
    with pytest.raises(KeyboardInterrupt): learn.save(path)
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ['model.pth']
    monkeypatch.undo()
    restored = Learner(classification_dls(), nn.Linear(2, 2), F.cross_entropy, silent=True).load(path)
    assert restored.opt is not None

def test_load_refuses_a_checkpoint_that_runs_code(tmp_path):
    import pickle
    class Evil:
        def __reduce__(self): return (print, ('this ran',))
    (tmp_path / 'evil.pth').write_bytes(pickle.dumps({'model': Evil(), 'opt': None}))
    learn = Learner(classification_dls(), nn.Linear(2, 2), F.cross_entropy, silent=True)
    with pytest.raises(ValueError, match='weights_only'): learn.load(tmp_path / 'evil.pth')

# ---------- the explorer and what it computes

def test_sgd_path_regimes():
    assert [classify_regime(*sgd_path(lr, 20), 20) for lr in (0.02, 0.5, 1.7, 2.3)] == list(REGIMES)

def test_sgd_path_stops_when_it_blows_up():
    ws, losses = sgd_path(3.0, steps=100)
    assert len(ws) < 101 and np.isfinite(losses).all()
    with pytest.raises(ValueError, match='lr'): sgd_path(0.0)

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

def test_explorer_offers_a_static_picture():
    import base64
    ex = lr_explorer()
    bundle = ex._repr_mimebundle_()
    assert 'application/vnd.jupyter.widget-view+json' in bundle
    assert base64.b64decode(bundle['image/png'])[:8] == b'\x89PNG\r\n\x1a\n'
    assert bundle['text/plain'].startswith('LrExplorer: crawling: final loss')

def test_import_works_outside_the_repo(tmp_path):
    code = 'import lessonlib, lessonlib.data, lessonlib.sgd; print(lessonlib.__version__)'
    out = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()

def test_import_is_light(tmp_path):
    "Training needs no widget, notebook or plotting stack: they load when a plot or an explorer asks (torch itself imports tqdm)."
    heavy = ['ipywidgets', 'IPython', 'matplotlib', 'matplotlib.pyplot', 'fastprogress', 'fasthtml', 'PIL']
    code = f"import sys, lessonlib.sgd; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == '[]'
