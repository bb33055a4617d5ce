"""Tests of lessonlib.optimizers: parity with torch.optim, callbacks by hand, schedules, one-cycle, lr_find, the explorer."""
import copy, inspect, math
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lessonlib.data import DataLoaders, set_seed
from lessonlib.sgd import Learner
from lessonlib import optimizers as O
from lessonlib.optimizers import (Optimizer, SGD, RMSProp, Adam, AdamW, OneCycle, fit_one_cycle, one_cycle_sched,
                                  sgd_step, l2_reg, decoupled_wd, weight_decay, step_stat, average_grad, momentum_step,
                                  average_sqr_grad, rms_prop_step, adam_step, callback_hypers,
                                  linear_sched, cos_sched, exp_sched, combined_sched)

pytestmark = pytest.mark.usefixtures('one_thread')  # conftest's fixture, for every test here

# ---------- a seeded model and data, trained side by side

def make_model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1))

def make_batches(n=100, seed=1):
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(6, 1, generator=gen)
    out = []
    for _ in range(n):
        x = torch.randn(32, 6, generator=gen)
        out.append((x, x @ w + 0.1 * torch.randn(32, 1, generator=gen)))
    return out

def groups_of(model, g0:dict, g1:dict):
    "Two parameter groups with different hyper-parameters: the first two layers, and the last."
    return [{'params': list(model[0].parameters()) + list(model[2].parameters()), **g0},
            {'params': list(model[4].parameters()), **g1}]

def train(model, opt, batches):
    for x, y in batches:
        loss = F.mse_loss(model(x), y); loss.backward(); opt.step(); opt.zero_grad()
    return model

VARIANTS = [  # (ours, torch's, defaults, group 0, group 1)
    ('sgd', SGD, torch.optim.SGD, dict(lr=0.05), {}, dict(lr=0.02)),
    ('sgd momentum', SGD, torch.optim.SGD, dict(lr=0.02, momentum=0.9), {}, dict(momentum=0.5, lr=0.01)),
    ('sgd mixed momentum', SGD, torch.optim.SGD, dict(lr=0.02, momentum=0.9), dict(momentum=0.), {}),
    ('sgd nesterov', SGD, torch.optim.SGD, dict(lr=0.02, momentum=0.9, nesterov=True), {}, dict(lr=0.01, momentum=0.8)),
    ('sgd dampening', SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, dampening=0.5), {}, dict(dampening=0.1)),
    ('sgd weight decay', SGD, torch.optim.SGD, dict(lr=0.02, momentum=0.9, weight_decay=1e-2), {}, dict(weight_decay=0.1)),
    ('rmsprop', RMSProp, torch.optim.RMSprop, dict(lr=1e-3), {}, dict(alpha=0.9, lr=3e-3)),
    ('rmsprop momentum', RMSProp, torch.optim.RMSprop, dict(lr=1e-3, momentum=0.9), {}, dict(momentum=0.5, eps=1e-6)),
    ('rmsprop weight decay', RMSProp, torch.optim.RMSprop, dict(lr=1e-3, weight_decay=0.05), {}, dict(weight_decay=0.)),
    ('adam', Adam, torch.optim.Adam, dict(lr=3e-3), {}, dict(betas=(0.8, 0.99), lr=1e-3)),
    ('adam l2', Adam, torch.optim.Adam, dict(lr=3e-3, weight_decay=0.05), {}, dict(weight_decay=0.1, eps=1e-6)),
    ('adamw', AdamW, torch.optim.AdamW, dict(lr=3e-3), {}, dict(weight_decay=0.2, betas=(0.85, 0.995))),
]
IDS = [v[0] for v in VARIANTS]

def torch_kwargs(cls):
    return {'foreach': False} if cls in (torch.optim.SGD, torch.optim.RMSprop, torch.optim.Adam, torch.optim.AdamW) else {}

@pytest.mark.parametrize('name,ours_cls,torch_cls,defaults,g0,g1', VARIANTS, ids=IDS)
def test_100_steps_match_torch(name, ours_cls, torch_cls, defaults, g0, g1):
    batches = make_batches()
    a, b = make_model(), make_model()
    opt_a = ours_cls(groups_of(a, g0, g1), **defaults)
    opt_b = torch_cls(groups_of(b, g0, g1), **defaults, **torch_kwargs(torch_cls))
    train(a, opt_a, batches); train(b, opt_b, batches)
    moved = sum((p - q).abs().sum().item() for p, q in zip(a.parameters(), make_model().parameters()))
    assert moved > 1e-2, "training should move the parameters"
    for p, q in zip(a.parameters(), b.parameters()): torch.testing.assert_close(p, q)
    for ga, gb in zip(opt_a.param_groups, opt_b.param_groups):
        for k in ga:
            if k != 'params': assert ga[k] == gb[k], k

@pytest.mark.parametrize('chunk', [O.FOREACH_CHUNK, 1, 100], ids=['default-chunk', 'one-tensor-per-call', 'small-chunks'])
@pytest.mark.parametrize('cls,torch_cls,kw', [(Adam, torch.optim.Adam, dict(lr=3e-3, weight_decay=0.05)),
                                              (AdamW, torch.optim.AdamW, dict(lr=3e-3, weight_decay=0.1))])
def test_foreach_path_matches_torch_and_per_parameter(cls, torch_cls, kw, chunk, monkeypatch):
    monkeypatch.setattr(O, 'FOREACH_CHUNK', chunk)  # the CPU path works in chunks of this many elements
    batches = make_batches()
    models = [make_model() for _ in range(3)]
    opts = [cls(groups_of(models[0], {}, dict(lr=1e-3, betas=(0.8, 0.99))), foreach=True, **kw),
            cls(groups_of(models[1], {}, dict(lr=1e-3, betas=(0.8, 0.99))), **kw),
            torch_cls(groups_of(models[2], {}, dict(lr=1e-3, betas=(0.8, 0.99))), foreach=True, **kw)]
    for m, o in zip(models, opts): train(m, o, batches)
    for p, q, r in zip(*(m.parameters() for m in models)):
        torch.testing.assert_close(p, q); torch.testing.assert_close(p, r)

@pytest.mark.parametrize('name,ours_cls,torch_cls,defaults,g0,g1', VARIANTS, ids=IDS)
def test_state_dict_round_trip_mid_training(name, ours_cls, torch_cls, defaults, g0, g1):
    batches = make_batches(60)
    a = make_model(); opt_a = ours_cls(groups_of(a, g0, g1), **defaults)
    train(a, opt_a, batches[:30])
    saved_model, saved_opt = copy.deepcopy(a.state_dict()), copy.deepcopy(opt_a.state_dict())
    train(a, opt_a, batches[30:])
    b = make_model(seed=5); b.load_state_dict(saved_model)
    opt_b = ours_cls(groups_of(b, {}, {}), **defaults)
    opt_b.load_state_dict(saved_opt)
    for ga, gb in zip(opt_a.param_groups, opt_b.param_groups):
        assert {k: v for k, v in ga.items() if k != 'params'} == {k: v for k, v in gb.items() if k != 'params'}
    train(b, opt_b, batches[30:])
    for p, q in zip(a.parameters(), b.parameters()): torch.testing.assert_close(p, q, rtol=0, atol=0)

def test_state_dict_loading_copies_and_checks_shapes():
    m = make_model(); opt = Adam(m.parameters(), lr=1e-2); train(m, opt, make_batches(3))
    sd = opt.state_dict(); before = sd['state'][0]['exp_avg'].clone()
    opt2 = Adam(m.parameters(), lr=1e-2); opt2.load_state_dict(sd); train(m, opt2, make_batches(3, seed=9))
    torch.testing.assert_close(sd['state'][0]['exp_avg'], before)
    with pytest.raises(ValueError, match='parameter groups'):
        Adam(groups_of(m, {}, {}), lr=1e-2).load_state_dict(sd)

# ---------- the Optimizer class

def test_unknown_or_misspelled_hyper_parameter_is_an_error():
    m = make_model()
    with pytest.raises(TypeError, match="Did you mean 'momentum'"): Optimizer(m.parameters(), [sgd_step, average_grad, momentum_step], lr=0.1, momentun=0.9)
    with pytest.raises(TypeError, match="'betas'"): Optimizer([{'params': m.parameters(), 'betas': (0.9, 0.99)}], [sgd_step], lr=0.1)
    with pytest.raises(TypeError, match='missing required'): Optimizer(m.parameters(), [sgd_step])
    with pytest.raises(TypeError, match="Did you mean 'momentum'"): SGD(m.parameters(), lr=0.1, momentun=0.9)
    with pytest.raises(TypeError, match='without'): Optimizer(m.parameters(), [lambda p, state, **kw: None], lr=0.1)

def test_defaults_match_torch():
    m = make_model()
    for ours, theirs in ((SGD, torch.optim.SGD), (RMSProp, torch.optim.RMSprop), (Adam, torch.optim.Adam), (AdamW, torch.optim.AdamW)):
        a, b = ours(m.parameters()), theirs(m.parameters())
        for k, v in a.defaults.items(): assert b.defaults[k] == v, (ours.__name__, k)

def test_zero_grad_and_closure():
    m = make_model(); opt = SGD(m.parameters(), lr=0.1)
    x, y = make_batches(1)[0]
    def closure():
        opt.zero_grad(); loss = F.mse_loss(m(x), y); loss.backward(); return loss
    loss = opt.step(closure)
    assert torch.is_tensor(loss) and all(p.grad is not None for p in m.parameters())
    opt.zero_grad(set_to_none=False); assert all((p.grad == 0).all() for p in m.parameters())
    opt.zero_grad(); assert all(p.grad is None for p in m.parameters())

def test_step_does_not_touch_grad_or_autograd():
    m = make_model(); opt = Adam(m.parameters(), lr=0.1, weight_decay=0.1)
    x, y = make_batches(1)[0]; F.mse_loss(m(x), y).backward()
    grads = [p.grad.clone() for p in m.parameters()]
    opt.step()
    for p, g in zip(m.parameters(), grads): torch.testing.assert_close(p.grad, g); assert p.grad_fn is None
    assert all('grad' not in s for s in opt.state.values())

# ---------- each callback by hand, on one-element tensors

def t(v): return torch.tensor([float(v)])

@pytest.mark.parametrize('ours,theirs', [(Adam, torch.optim.Adam), (AdamW, torch.optim.AdamW)])
def test_adam_takes_torchs_arguments_and_defaults(ours, theirs):
    "foreach and fused come from the appendix's __init__ (the lesson's first Adam has neither); torch's defaults are kept."
    ps, tp = inspect.signature(ours).parameters, inspect.signature(theirs).parameters
    assert list(ps) == ['params', 'lr', 'betas', 'eps', 'weight_decay', 'foreach', 'fused']
    for k in ('lr', 'betas', 'eps', 'weight_decay'): assert ps[k].default == tp[k].default, k
    opt = ours(make_model().parameters(), foreach=True)
    assert opt.foreach and not opt.fused and opt.cbs[-1] is O.adam_step

def test_callback_hypers_are_read_from_the_signature():
    assert callback_hypers(adam_step) == {'lr': callback_hypers(sgd_step)['lr'], 'betas': (0.9, 0.999), 'eps': 1e-8}
    assert callback_hypers(step_stat) == {}

def test_sgd_step_l2_and_weight_decay_by_hand():
    p, st = t(2), {'grad': t(0.5)}
    assert l2_reg(p, st, weight_decay=0.1)['grad'].item() == pytest.approx(0.7)
    assert l2_reg(p, st, weight_decay=0.) is None and st['grad'].item() == 0.5
    sgd_step(p, st, lr=0.1); assert p.item() == pytest.approx(1.95)
    p = t(2); decoupled_wd(p, st, lr=0.1, weight_decay=0.1); assert p.item() == pytest.approx(1.98)
    assert weight_decay is decoupled_wd  # the callback's first name still works
    assert step_stat(p, {}) == {'step': 1} and step_stat(p, {'step': 7}) == {'step': 8}

def test_momentum_callbacks_by_hand():
    p, st = t(0), {'grad': t(1)}
    assert average_grad(p, st, momentum=0.) is None
    st.update(average_grad(p, st, momentum=0.9)); assert st['momentum_buffer'].item() == 1.
    momentum_step(p, st, lr=0.1, momentum=0.9); assert p.item() == pytest.approx(-0.1)
    st['grad'] = t(2); average_grad(p, st, momentum=0.9, dampening=0.5); assert st['momentum_buffer'].item() == pytest.approx(1.9)
    p = t(0); momentum_step(p, st, lr=1., momentum=0.9, nesterov=True); assert p.item() == pytest.approx(-(2 + 0.9 * 1.9))
    p = t(0); momentum_step(p, st, lr=1., momentum=0.); assert p.item() == pytest.approx(-2)

def test_rmsprop_callbacks_by_hand():
    p, st = t(1), {'grad': t(2)}
    st.update(average_sqr_grad(p, st, alpha=0.75)); assert st['square_avg'].item() == pytest.approx(1.)
    average_sqr_grad(p, st, alpha=0.5); assert st['square_avg'].item() == pytest.approx(2.5)
    rms_prop_step(p, st, lr=0.1, eps=0.); assert p.item() == pytest.approx(1 - 0.2 / math.sqrt(2.5))
    p = t(1); st.update(rms_prop_step(p, st, lr=0.1, eps=0., momentum=0.5))
    assert st['rms_momentum_buffer'].item() == pytest.approx(2 / math.sqrt(2.5))
    rms_prop_step(p, st, lr=0.1, eps=0., momentum=0.5)
    assert st['rms_momentum_buffer'].item() == pytest.approx(1.5 * 2 / math.sqrt(2.5))

def test_adam_step_by_hand():
    p, st = t(1), {'grad': t(4), 'step': 1}
    st.update(adam_step(p, st, lr=0.1, betas=(0.9, 0.999), eps=0.))
    assert p.item() == pytest.approx(0.9) and st['exp_avg'].item() == pytest.approx(0.4)
    st['grad'], st['step'] = t(-2), 2
    adam_step(p, st, lr=0.1, betas=(0.9, 0.999), eps=0.)
    m, v = 0.9 * 0.4 - 0.2, 0.999 * 0.016 + 0.001 * 4
    expected = 0.9 - 0.1 * (m / (1 - 0.81)) / math.sqrt(v / (1 - 0.999 ** 2))
    assert p.item() == pytest.approx(expected, rel=1e-5)

# ---------- schedules and one-cycle

def test_schedules():
    assert [linear_sched(1, 3)(p) for p in (0, .5, 1)] == pytest.approx([1, 2, 3])
    assert [cos_sched(1, 3)(p) for p in (0, .25, .5, 1)] == pytest.approx([1, 2 - math.sqrt(2) / 2, 2, 3])
    assert [exp_sched(1e-3, 1e-1)(p) for p in (0, .5, 1)] == pytest.approx([1e-3, 1e-2, 1e-1])
    s = combined_sched([0.25, 0.75], [linear_sched(0, 1), linear_sched(1, 0)])
    assert [s(p) for p in (0, .125, .25, .625, 1)] == pytest.approx([0, .5, 1, .5, 0])
    with pytest.raises(ValueError, match='pcts'): combined_sched([0.5, 0.6], [linear_sched(0, 1)] * 2)
    with pytest.raises(ValueError, match='positive'): exp_sched(0, 1)

def test_one_cycle_sched_documented_points():
    assert one_cycle_sched(0., 0.1) == pytest.approx((0.1 / 25, 0.95))
    assert one_cycle_sched(0.25, 0.1) == pytest.approx((0.1, 0.85))
    assert one_cycle_sched(1., 0.1) == pytest.approx((0.1 / 1e5, 0.95))
    assert one_cycle_sched(0.3, 1., pct_start=0.3, div=10, div_final=100, moms=(0.9, 0.8, 0.7)) == pytest.approx((1., 0.8))

def regression_dls(n=512, bs=32):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 6, generator=gen); y = x @ torch.randn(6, 1, generator=gen) + 0.1 * torch.randn(n, 1, generator=gen)
    return DataLoaders.from_tensors((x[:448], y[:448]), (x[448:], y[448:]), bs=bs, seed=0, device='cpu')

def by_layer(model): return [list(model[0].parameters()) + list(model[2].parameters()), model[4].parameters()]

@pytest.mark.parametrize('opt_func,key', [(SGD, None), (lambda p, lr: SGD(p, lr, momentum=0.9), 'momentum'),
                                          (Adam, 'betas'), (torch.optim.Adam, 'betas'),
                                          (lambda p, lr: torch.optim.SGD(p, lr, momentum=0.9), 'momentum'),
                                          (lambda p, lr: RMSProp(p, lr, momentum=0.5), 'momentum')])
def test_one_cycle_in_a_run(opt_func, key):
    learn = Learner(regression_dls(), make_model(), F.mse_loss, opt_func=opt_func, silent=True)
    cb = OneCycle(0.01)
    learn.fit(2, cbs=[cb])
    n = 2 * len(learn.dls.train)
    assert len(learn.recorder.lrs) == n
    assert learn.recorder.lrs[0] == pytest.approx(0.01 / 25)
    peak = int(round(0.25 * (n - 1)))  # the first batch is at 0%, the last at 100%
    assert learn.recorder.lrs[peak] == pytest.approx(0.01, rel=1e-3) and max(learn.recorder.lrs) == pytest.approx(0.01, rel=1e-3)
    assert learn.recorder.lrs[-1] == pytest.approx(0.01 / 1e5)
    if key is None: assert learn.opt.param_groups[0]['momentum'] == 0  # no momentum asked for: none added
    else:
        assert cb.hist['mom'][0][0] == pytest.approx(0.95, abs=1e-3) and cb.hist['mom'][0][peak] == pytest.approx(0.85, abs=1e-4)
        assert cb.hist['lr'][0] == learn.recorder.lrs
        g = learn.opt.param_groups[0]; mom = g['betas'][0] if key == 'betas' else g['momentum']
        assert mom == pytest.approx(0.95, abs=1e-3)
        if key == 'betas': assert g['betas'][1] == 0.999

def test_fit_one_cycle_with_slices():
    learn = Learner(regression_dls(), make_model(), F.mse_loss, opt_func=Adam, splitter=by_layer, silent=True)
    seen = []
    class Peek(O.Callback):
        order = 20
        def before_batch(self): seen.append([g['lr'] for g in self.learn.opt.param_groups])
    fit_one_cycle(learn, 1, slice(3e-3), cbs=[Peek()])
    assert [a / b for a, b in seen] == pytest.approx([1 / 3] * len(seen))  # every group follows its own cycle
    assert max(b for a, b in seen) == pytest.approx(3e-3, rel=0.02)
    learn = Learner(regression_dls(), make_model(), F.mse_loss, opt_func=Adam, splitter=by_layer, silent=True)
    seen.clear(); fit_one_cycle(learn, 1, slice(1e-4, 1e-2), cbs=[Peek()])
    assert [a / b for a, b in seen] == pytest.approx([1e-2] * len(seen))
    assert max(b for a, b in seen) == pytest.approx(1e-2, rel=0.02)

def test_one_cycle_learns_with_our_optimizers_as_opt_func():
    for opt_func in (SGD, RMSProp, Adam, AdamW):
        dls, model = regression_dls(), make_model()
        x, y = dls.valid.tensors
        with torch.no_grad(): start = F.mse_loss(model(x), y).item()
        learn = Learner(dls, model, F.mse_loss, opt_func=opt_func, silent=True)
        fit_one_cycle(learn, 3, 3e-2 if opt_func is SGD else 1e-2)
        assert learn.recorder.history.valid_loss.iloc[-1] < 0.2 * start, opt_func.__name__

# ---------- lr_find

@pytest.mark.parametrize('opt_func', [Adam, lambda p, lr: torch.optim.SGD(p, lr, momentum=0.9)])
def test_lr_find_leaves_the_learner_exactly_as_before(opt_func):
    learn = Learner(regression_dls(), make_model(), F.mse_loss, opt_func=opt_func, lr=1e-3, silent=True)
    learn.fit(1)  # so that the optimizer has state and the recorder a history
    model_before = copy.deepcopy(learn.model.state_dict())
    opt_before = copy.deepcopy(learn.opt.state_dict())
    history_before, losses_before = learn.recorder.history.copy(), list(learn.recorder.losses)
    gen_before = learn.dls.train.generator.get_state()
    s = O.lr_find(learn, num_it=40, show_plot=False)
    for k, v in learn.model.state_dict().items(): assert torch.equal(v, model_before[k]), k
    opt_after = learn.opt.state_dict()
    assert opt_after['param_groups'] == opt_before['param_groups']
    assert opt_after['state'].keys() == opt_before['state'].keys()
    for i, st in opt_before['state'].items():
        for k, v in st.items():
            assert torch.equal(torch.as_tensor(opt_after['state'][i][k]), torch.as_tensor(v)), (i, k)
    assert learn.recorder.losses == losses_before and learn.recorder.history.equals(history_before)
    assert torch.equal(learn.dls.train.generator.get_state(), gen_before)
    assert all(p.grad is None for p in learn.model.parameters())  # a sweep stopped mid-batch used to leave its gradients
    assert len(s.lrs) >= 10 and s.lrs[0] == pytest.approx(1e-7)
    assert 1e-7 < s.minimum < 10 and 1e-7 < s.steepest < 10
    lr_min, lr_steep = s
    assert (lr_min, lr_steep) == (s.minimum, s.steepest)

def test_lr_find_stops_when_the_loss_explodes_without_message(capsys):
    learn = Learner(regression_dls(), make_model(), F.mse_loss, opt_func=SGD, silent=True)
    s = O.lr_find(learn, start_lr=1e-4, end_lr=1e4, num_it=100, show_plot=False)
    assert len(s.lrs) < 100 and max(s.lrs) < 1e4
    assert 'Training stopped' not in capsys.readouterr().out
    assert learn.opt is None and learn.stop_reason is None

def test_lr_find_bad_input():
    learn = Learner(regression_dls(), make_model(), F.mse_loss, silent=True)
    with pytest.raises(ValueError, match='end_lr: got 0.1'): O.lr_find(learn, start_lr=1., end_lr=0.1)
    with pytest.raises(ValueError, match='num_it'): O.lr_find(learn, num_it=1)

def test_suggest_lrs_on_a_known_curve():
    lrs = np.geomspace(1e-5, 1, 60)
    losses = 2 - np.tanh(3 * (np.log10(lrs) + 2.5)) + np.where(lrs > 0.1, 30 * (lrs - 0.1), 0)
    s = O.suggest_lrs(lrs, losses)
    assert math.log10(s.steepest) == pytest.approx(-2.5, abs=0.1)
    assert s.minimum == pytest.approx(lrs[np.argmin(losses)] / 10)
    with pytest.raises(ValueError, match='too few'): O.suggest_lrs(lrs[:4], losses[:4])

# ---------- the momentum explorer and the functions under it

def test_momentum_rate_matches_matrix_eigenvalues():
    rng = np.random.default_rng(0)
    for _ in range(20):
        lr, mom, lam = rng.uniform(0.01, 3), rng.uniform(0, 0.99), rng.uniform(0.01, 2)
        M = np.array([[1 + mom - lr * lam, -mom], [1, 0]])
        assert O.momentum_rate(lr, mom, [lam]) == pytest.approx(np.abs(np.linalg.eigvals(M)).max())
    assert O.momentum_rate(0.5, 0., [0.1, 1.]) == pytest.approx(0.95)
    grid = O.momentum_rate(np.geomspace(0.01, 1, 5)[None, :], np.linspace(0, 0.9, 4)[:, None], [0.05, 1.])
    assert grid.shape == (4, 5)

def surface_torch(surface, p):
    x, y = p[0], p[1]
    return 0.5 * (0.05 * x**2 + y**2) if surface == 'quadratic' else 0.5 * (1 - x)**2 + 5 * (y - x**2)**2

@pytest.mark.parametrize('surface', ['quadratic', 'valley'])
@pytest.mark.parametrize('opt,lr,mom,make', [
    ('SGD', 0.01, 0., lambda ps, lr, mom: SGD(ps, lr=lr)),
    ('momentum', 0.005, 0.8, lambda ps, lr, mom: SGD(ps, lr=lr, momentum=mom)),
    ('RMSProp', 0.01, 0.5, lambda ps, lr, mom: RMSProp(ps, lr=lr, momentum=mom)),
    ('Adam', 0.05, 0.9, lambda ps, lr, mom: Adam(ps, lr=lr, betas=(mom, 0.999)))])
def test_optimizer_path_follows_our_optimizers(surface, opt, lr, mom, make):
    pts, losses = O.optimizer_path(opt, lr, mom, surface, steps=40)
    p = torch.tensor(O.SURFACES[surface][2], dtype=torch.float64, requires_grad=True)
    o = make([p], lr, mom); expected = [p.detach().clone()]
    for _ in range(40):
        surface_torch(surface, p).backward(); o.step(); o.zero_grad(); expected.append(p.detach().clone())
    np.testing.assert_allclose(pts, torch.stack(expected).numpy(), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(losses, [surface_torch(surface, q).item() for q in expected], rtol=1e-6, atol=1e-12)

def test_optimizer_path_bad_input_and_divergence():
    with pytest.raises(ValueError, match="opt: got 'adagrad'"): O.optimizer_path('adagrad')
    with pytest.raises(ValueError, match="surface: got 'bowl'"): O.optimizer_path(surface='bowl')
    with pytest.raises(ValueError, match='momentum'): O.optimizer_path(momentum=1.)
    pts, losses = O.optimizer_path('SGD', 10., 0., 'valley')
    assert len(pts) < 61 and np.isfinite(pts).all()
    assert O.classify_path(losses, 60) == 'diverging'

def test_classify_path_regimes():
    assert O.classify_path(O.optimizer_path('SGD', 0.3, 0.)[1], 60) == 'slow'
    assert O.classify_path(O.optimizer_path('momentum', 0.5, 0.5)[1], 60) == 'converging'
    assert O.classify_path(O.optimizer_path('momentum', 0.5, 0.95)[1], 60) == 'oscillating'
    assert O.classify_path(O.optimizer_path('SGD', 2.5, 0.)[1], 60) == 'diverging'

def test_explorer_updates_figure_data_and_reports_divergence():
    ex = O.momentum_explorer()
    png, path = ex.image.value, ex.path_line.get_xydata().copy()
    ex.opt_menu.value = 'momentum'; ex.mom_slider.value = 0.7; ex.lr_slider.value = 0.4
    assert not np.array_equal(ex.path_line.get_xydata(), path) and ex.image.value != png
    assert ex.marker.get_data()[1][0] == pytest.approx(0.7) and ex.marker.get_data()[0][0] == pytest.approx(math.log10(0.4))
    pts, losses = O.optimizer_path('momentum', 0.4, 0.7)
    np.testing.assert_allclose(ex.path_line.get_xydata(), pts)
    np.testing.assert_allclose(ex.loss_line.get_ydata(), np.clip(losses, *O.LOSS_RANGE))
    assert ex.rate == pytest.approx(O.momentum_rate(0.4, 0.7, (0.05, 1.)))
    ex.lr_slider.value = 10.
    assert ex.regime == 'diverging' and 'diverging' in ex.label.value
    for opt in O.OPTIMIZERS:
        ex.opt_menu.value = opt
        for surface in O.SURFACES: ex.surface_menu.value = surface; assert ex.regime in O.PATH_REGIMES
    ex.surface_menu.value = 'valley'
    assert ex.contours['valley'].get_visible() and not ex.contours['quadratic'].get_visible()

def test_import_is_headless():
    import os, subprocess, sys
    env = {k: v for k, v in os.environ.items() if k not in ('DISPLAY', 'MPLBACKEND')}
    code = "import lessonlib.optimizers as o; e = o.momentum_explorer(); assert e.image.value[:4] == b'\\x89PNG'"
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr

def test_chunk_slices_cut_runs_of_at_most_limit_elements():
    assert O._chunk_slices([10, 50, 30, 200, 5], 64) == [slice(0, 2), slice(2, 3), slice(3, 4), slice(4, 5)]
    assert O._chunk_slices([3, 3, 3], 6) == [slice(0, 2), slice(2, 3)]
    assert O._chunk_slices([10, 50], None) == [slice(0, 2)]

@pytest.mark.parametrize('cls,torch_cls,kw', [(Adam, torch.optim.Adam, dict(lr=3e-3, weight_decay=0.05)),
                                              (AdamW, torch.optim.AdamW, dict(lr=3e-3, weight_decay=0.1))])
def test_fused_compiled_path_matches_torch(cls, torch_cls, kw):
    "The torch.compile'd path: same numbers as torch.optim over 100 steps of two param groups (compiles once, slowly)."
    batches = make_batches()
    models = [make_model() for _ in range(2)]
    opts = [cls(groups_of(models[0], {}, dict(lr=1e-3, betas=(0.8, 0.99))), fused=True, **kw),
            torch_cls(groups_of(models[1], {}, dict(lr=1e-3, betas=(0.8, 0.99))), foreach=False, **kw)]
    for m, o in zip(models, opts): train(m, o, batches)
    for p, q in zip(*(m.parameters() for m in models)): torch.testing.assert_close(p, q)
    assert opts[0].state_dict()['state'][0]['step'] == 100

def test_foreach_and_fused_together_is_an_error():
    with pytest.raises(ValueError, match='foreach and fused cannot both be True'):
        AdamW(make_model().parameters(), foreach=True, fused=True)

# ---------- issue 14's fixes and issue 17's Learner methods

def test_one_cycle_records_every_group():
    "OneCycle used to record only the last group's values (`key` leaked out of its loop): each group now has its own history."
    learn = Learner(regression_dls(), make_model(), F.mse_loss, opt_func=lambda p, lr: SGD(p, lr, momentum=0.9),
                    splitter=lambda m: [{'params': by_layer(m)[0], 'momentum': 0.}, {'params': by_layer(m)[1]}], silent=True)
    cb = OneCycle(slice(3e-3))
    learn.fit(1, cbs=[cb])
    n = len(learn.dls.train)
    assert [len(h) for h in cb.hist['lr']] == [n, n] and [len(h) for h in cb.hist['mom']] == [n, n]
    assert max(cb.hist['lr'][0]) == pytest.approx(1e-3, rel=0.05) and max(cb.hist['lr'][1]) == pytest.approx(3e-3, rel=0.05)
    assert [a / b for a, b in zip(*cb.hist['lr'])] == pytest.approx([1 / 3] * n)
    assert cb.hist['mom'][0] == [None] * n  # the group without momentum got none, and its history says so
    assert cb.hist['mom'][1][0] == pytest.approx(0.95) and min(cb.hist['mom'][1]) == pytest.approx(0.85, abs=5e-3)
    assert learn.opt.param_groups[0]['momentum'] == 0.

def test_slice_hi_gives_earlier_groups_a_third():
    from lessonlib.sgd import lrs_for_groups
    assert lrs_for_groups(slice(3e-3), 3) == pytest.approx([1e-3, 1e-3, 3e-3])  # fastai v2 would give 3e-4
    assert lrs_for_groups(slice(1e-4, 1e-2), 3) == pytest.approx([1e-4, 1e-3, 1e-2])

def test_hyper_name_cache_lives_in_each_optimizer():
    m = make_model()
    opts = [Adam(m.parameters(), lr=1e-3) for _ in range(3)]
    x, y = make_batches(1)[0]
    for o in opts: F.mse_loss(m(x), y).backward(); o.step(); o.zero_grad()
    for o in opts: assert set(o._read_cache) == set(o.cbs)
    assert not hasattr(O, '_hyper_names')  # no global cache keyed by callbacks any more
    cb = lambda p, state, lr: None
    o = Optimizer(m.parameters(), [cb], lr=0.1); F.mse_loss(m(x), y).backward(); o.step()
    assert list(o._read_cache.values()) == [('lr',)]

def test_learner_methods_match_the_functions():
    def run(method):
        set_seed(0)
        learn = Learner(regression_dls(), make_model(), F.mse_loss, opt_func=Adam, silent=True)
        if method: learn.fit_one_cycle(2, 1e-2, pct_start=0.3)
        else: fit_one_cycle(learn, 2, 1e-2, pct_start=0.3)
        return learn
    a, b = run(True), run(False)
    for p, q in zip(a.model.parameters(), b.model.parameters()): torch.testing.assert_close(p, q, rtol=0, atol=0)
    assert a.recorder.lrs == b.recorder.lrs
    learn = Learner(regression_dls(), make_model(), F.mse_loss, opt_func=Adam, silent=True)
    s1 = learn.lr_find(num_it=30, show_plot=False); s2 = O.lr_find(learn, num_it=30, show_plot=False)
    assert (s1.minimum, s1.steepest, s1.lrs, s1.losses) == (s2.minimum, s2.steepest, s2.lrs, s2.losses)  # a sweep leaves no trace
    with pytest.raises(TypeError, match="Did you mean 'lr_max'"): learn.fit_one_cycle(1, lr_mx=1e-3)
    with pytest.raises(TypeError, match="Did you mean 'num_it'"): learn.lr_find(num_iter=30)

def test_lr_find_says_when_the_loss_explodes_at_the_first_points():
    learn = Learner(regression_dls(), make_model(), F.mse_loss, opt_func=SGD, silent=True)
    with pytest.raises(RuntimeError, match=r'exploded after only \d+ batches.*start_lr=10 is already too high'):
        O.lr_find(learn, start_lr=10., end_lr=1e6, show_plot=False)
    assert learn.opt is None  # the learner is left as it was

def test_lr_find_blames_the_data_before_the_learning_rate():
    x = torch.randn(64, 6); x[3, 2] = float('nan')
    dls = DataLoaders.from_tensors((x, torch.randn(64, 1)), (torch.randn(8, 6), torch.randn(8, 1)), bs=64, device='cpu')
    learn = Learner(dls, make_model(), F.mse_loss, opt_func=Adam, silent=True)
    with pytest.raises(RuntimeError, match='the inputs of that batch hold NaN'): O.lr_find(learn, show_plot=False)

def test_empty_group_beside_others_steps_like_torch():
    a, b = make_model(), make_model()
    opt_a = Adam([{'params': a.parameters()}, {'params': [], 'lr': 1.}], lr=1e-2)
    opt_b = torch.optim.Adam([{'params': b.parameters()}, {'params': [], 'lr': 1.}], lr=1e-2, foreach=False)
    train(a, opt_a, make_batches(5)); train(b, opt_b, make_batches(5))
    for p, q in zip(a.parameters(), b.parameters()): torch.testing.assert_close(p, q)

def test_adamw_decays_alike_and_adam_l2_does_not():
    "The lesson's demonstration: weights with large and tiny noise gradients under decay."
    def run(cls):
        gen = torch.Generator().manual_seed(0); w = torch.ones(2, 1000, requires_grad=True)
        opt, scale = cls([w], lr=0.01, weight_decay=0.1), torch.tensor([[10.], [0.01]])
        for _ in range(300): w.grad = scale * torch.randn(2, 1000, generator=gen); opt.step()
        return w.mean(1)
    plain = (1 - 0.01 * 0.1) ** 300
    assert run(AdamW).tolist() == pytest.approx([plain, plain], abs=0.02)
    big, tiny = run(Adam).tolist()
    assert big > 0.95 and abs(tiny) < 0.05

def test_best_settings_closed_form_beats_every_grid_point():
    eigs = (0.05, 1.)
    best = O.best_settings(eigs)
    lr, mom = np.geomspace(1e-2, 10, 200)[None, :], np.linspace(0, 0.99, 100)[:, None]
    grid = O.momentum_rate(lr, mom, eigs)
    assert best['momentum']['rate'] <= grid.min() + 1e-9 and best['SGD']['rate'] <= grid[0].min() + 1e-9
    assert O.momentum_rate(best['momentum']['lr'], best['momentum']['momentum'], eigs) == pytest.approx(best['momentum']['rate'], abs=1e-6)
    assert best['SGD']['rate'] == pytest.approx(19 / 21) and best['momentum']['rate'] == pytest.approx((20**.5 - 1) / (20**.5 + 1))

def test_deep_net_shape():
    net = O.deep_net(5, 64)
    assert sum(isinstance(m, nn.Linear) for m in net) == 5 and net(torch.zeros(2, 784)).shape == (2, 10)
    assert sum(isinstance(m, nn.Linear) for m in O.deep_net(2)) == 2

def test_explorer_shows_equal_aspect_and_static_image():
    ex = O.momentum_explorer()
    assert ex.ax_path.get_aspect() == 1.0
    assert ex.mom_slider.disabled and 'momentum' not in ex.label.value  # plain SGD: no momentum, and the slider says so
    bundle = ex._repr_mimebundle_()
    assert 'image/png' in bundle and 'SGD' in bundle['text/plain']
    b = O.best_settings((0.05, 1.))['momentum']
    ex.opt_menu.value = 'momentum'; ex.mom_slider.value = 0.41; ex.lr_slider.value = 10 ** 0.42  # the sliders' nearest to the star
    assert not ex.mom_slider.disabled and ex.regime == 'converging' and ex.rate == pytest.approx(b['rate'], abs=0.01)
    ex.lr_slider.value = 50.  # the slider clamps to its maximum, and the label says so
    assert 'clamped to 10' in ex.label.value

def test_light_import():
    "Importing the module loads no widget, notebook or plotting stack of its own (beyond what lessonlib.sgd loads)."
    import subprocess, sys
    heavy = ('ipywidgets', 'IPython', 'matplotlib.pyplot')
    code = ("import sys; import lessonlib.sgd; before = set(sys.modules); import lessonlib.optimizers; "
            f"print(sorted(m for m in set(sys.modules) - before if m.startswith({heavy!r})))")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == '[]', out.stdout
