"""Bad input to lessonlib.optimizers (issue 16): each mistake a careless user makes gets an error naming the argument,
the value and what to do; none gives a silently wrong result. Grouped by kind with the markers of tests/conftest.py."""
import re
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lessonlib.data import DataLoaders
from lessonlib.sgd import Learner
from lessonlib import optimizers as O
from lessonlib.optimizers import SGD, RMSProp, Adam, AdamW, OneCycle, fit_one_cycle, lr_find

pytestmark = pytest.mark.usefixtures('one_thread')  # conftest's fixture, for every test here

def model(): return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))

def dls(x=None, y=None):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=gen) if x is None else x
    y = torch.randn(64, 1, generator=gen) if y is None else y
    return DataLoaders.from_tensors((x, y), (x[:16], y[:16]), bs=16, seed=0, device='cpu')

def learner(m=None, data=None, opt_func=Adam):
    return Learner(data or dls(), m or model(), F.mse_loss, opt_func=opt_func, silent=True)

def raises(exc, pattern, f):
    with pytest.raises(exc, match=pattern): f()

def case(exc, pattern, f, id):
    return pytest.param(exc, pattern, f, id=id)

def run(exc, pattern, f): raises(exc, pattern, f)

# ---------- wrong argument kinds

WRONG_KIND = [
    case(TypeError, re.escape("Pass the model's parameters: Adam(model.parameters(), ...)"), lambda: Adam(nn.Linear(3, 3)), 'module-instead-of-parameters'),
    case(TypeError, re.escape("Wrap a single tensor in a list: SGD([w], ...)"), lambda: SGD(torch.zeros(3, requires_grad=True), lr=0.1), 'single-tensor'),
    case(TypeError, 'Wrap a single group in a list', lambda: AdamW({'params': model().parameters()}), 'single-group-dict'),
    case(TypeError, r"params\[0\]: got Linear.*Pass the modules' parameters", lambda: Adam([nn.Linear(3, 3)]), 'list-of-modules'),
    case(TypeError, 'expected a floating-point tensor', lambda: SGD([torch.zeros(3, dtype=torch.long)], lr=0.1), 'integer-tensor'),
    case(TypeError, r"params\[1\]: got .*expected a dict with a 'params' entry", lambda: Adam([{'params': model().parameters()}, torch.zeros(2)]), 'groups-and-tensors-mixed'),
    case(ValueError, r"betas: got 0\.9, expected a pair of numbers", lambda: Adam(model().parameters(), betas=0.9), 'betas-not-a-pair'),
    case(TypeError, r"nesterov: got 'yes', expected a bool", lambda: SGD(model().parameters(), lr=0.1, momentum=0.9, nesterov='yes'), 'nesterov-not-bool'),
    case(TypeError, r"learn: got .*expected a Learner.*The Learner comes first", lambda: fit_one_cycle(model(), 1, 1e-3), 'model-instead-of-learner'),
    case(TypeError, r"cbs: got .*Wrap it in a list", lambda: fit_one_cycle(learner(), 1, 1e-3, cbs=OneCycle(1e-3)), 'callback-not-in-a-list'),
    case(TypeError, r"lr_max: got 'high'", lambda: OneCycle('high'), 'lr-max-a-string'),
    case(TypeError, r"learn: got .*The Learner comes first: lr_find\(learn\)", lambda: lr_find(model()), 'lr-find-without-learner'),
]

@pytest.mark.wrong_kind
@pytest.mark.parametrize('exc,pattern,f', WRONG_KIND)
def test_wrong_kind(exc, pattern, f): run(exc, pattern, f)

# ---------- calls in the wrong order (arguments given in the wrong order included)

WRONG_ORDER = [
    case(TypeError, r"n_epoch: got 0\.001.*The number of epochs comes before the learning rate", lambda: fit_one_cycle(learner(), 1e-3, 1), 'lr-where-epochs-go'),
    case(TypeError, r"n_epoch: got 0\.01", lambda: learner().fit_one_cycle(1e-2), 'method-lr-where-epochs-go'),
    case(ValueError, 'state_dict has 2 parameter groups, this optimizer has 1',
         lambda: Adam(model().parameters()).load_state_dict(Adam([{'params': model()[0].parameters()}, {'params': model()[2].parameters()}]).state_dict()),
         'state-of-another-optimizer'),
]

@pytest.mark.wrong_order
@pytest.mark.parametrize('exc,pattern,f', WRONG_ORDER)
def test_wrong_order(exc, pattern, f): run(exc, pattern, f)

# ---------- the message names the real cause

def nan_inputs():
    x = torch.randn(64, 4); x[5, 1] = float('nan'); return dls(x=x)

def nan_targets():
    y = torch.randn(64, 1); y[0, 0] = float('inf'); return dls(y=y)

def broken_model():
    m = model(); m[0].weight.data[0, 0] = float('nan'); return m

@pytest.mark.blame
def test_lr_find_blames_nan_inputs_not_the_learning_rate():
    with pytest.raises(RuntimeError, match='the inputs of that batch hold NaN') as e: lr_find(learner(data=nan_inputs()), show_plot=False)
    assert 'too few' not in str(e.value) and 'learning rate is' not in str(e.value)

@pytest.mark.blame
def test_lr_find_blames_nan_targets():
    raises(RuntimeError, 'the targets of that batch hold NaN or infinite', lambda: lr_find(learner(data=nan_targets()), show_plot=False))

@pytest.mark.blame
def test_lr_find_blames_a_broken_model():
    raises(RuntimeError, "the model's parameters already hold NaN", lambda: lr_find(learner(m=broken_model()), show_plot=False))

@pytest.mark.blame
def test_lr_find_says_the_loss_exploded_at_the_first_points():
    with pytest.raises(RuntimeError, match=r'the loss exploded after only \d+ batches.*start_lr=1 is already too high.*try start_lr=0\.01') as e:
        lr_find(learner(opt_func=SGD), start_lr=1., end_lr=1e8, show_plot=False)
    assert 'too few' not in str(e.value)

# ---------- mistakes that used to give a silently wrong result

SILENT = [
    case(ValueError, r"params\[0\]: got .*expected a leaf tensor.*never gets a \.grad", lambda: SGD([model()[0].weight * 2], lr=0.1), 'non-leaf-tensor-never-moves'),
    case(ValueError, r"eps: got 0\.0, expected a number > 0", lambda: Adam(model().parameters(), eps=0.), 'eps-zero-gives-nan'),
    case(ValueError, r"eps: got -1e-08", lambda: RMSProp(model().parameters(), eps=-1e-8), 'eps-negative'),
    case(ValueError, r"weight_decay: got inf", lambda: AdamW(model().parameters(), weight_decay=float('inf')), 'weight-decay-inf'),
    case(ValueError, r"weight_decay: got -0\.01, expected a number >= 0", lambda: SGD(model().parameters(), lr=0.1, weight_decay=-0.01), 'weight-decay-negative'),
    case(ValueError, r"lr: got -0\.1", lambda: Adam(model().parameters(), lr=-0.1), 'negative-lr-trains-uphill'),
    case(ValueError, r"lr: got -1", lambda: Adam([{'params': model().parameters(), 'lr': -1}]), 'negative-lr-in-a-group'),
    case(ValueError, r"momentum: got 1\.0, expected a number in \[0, 1\)", lambda: SGD(model().parameters(), lr=0.1, momentum=1.), 'momentum-one-never-forgets'),
    case(ValueError, r"lr_max\.start: got 0", lambda: fit_one_cycle(learner(), 1, slice(0, 1e-3)), 'slice-from-zero'),
    case(ValueError, re.escape("did you mean slice(0.0001, 0.01)?"), lambda: OneCycle(slice(1e-2, 1e-4)), 'reversed-slice'),
    case(ValueError, r"lr_max: got -0\.001", lambda: OneCycle(-1e-3), 'negative-peak'),
    case(ValueError, r"lr_max\[1\]: got 0", lambda: OneCycle([1e-3, 0]), 'zero-rate-in-list'),
    case(ValueError, 'Every parameter group is empty', lambda: Adam([{'params': []}, {'params': []}]), 'only-empty-groups'),
]

@pytest.mark.silent
@pytest.mark.parametrize('exc,pattern,f', SILENT)
def test_silent(exc, pattern, f): run(exc, pattern, f)

@pytest.mark.silent
def test_eps_zero_would_have_given_nan():
    "Why eps=0 is refused: torch's own Adam returns NaN for a weight whose gradient has always been zero."
    w = torch.zeros(2, requires_grad=True)
    opt = torch.optim.Adam([w], eps=0.); w.grad = torch.tensor([1., 0.]); opt.step()
    assert torch.isnan(w[1])

# ---------- misspelled keywords

KEYWORD = [
    case(TypeError, "Did you mean 'betas'", lambda: Adam(model().parameters(), beta=(0.9, 0.99)), 'adam-beta'),
    case(TypeError, "Did you mean 'momentum'", lambda: SGD(model().parameters(), lr=0.1, momentun=0.9), 'sgd-momentun'),
    case(TypeError, "Did you mean 'alpha'", lambda: RMSProp(model().parameters(), alpah=0.9), 'rmsprop-alpah'),
    case(TypeError, "Did you mean 'weight_decay'", lambda: AdamW(model().parameters(), weight_decy=0.1), 'adamw-weight-decy'),
    case(TypeError, "Did you mean 'weight_decay'", lambda: O.Optimizer(model().parameters(), [O.l2_reg, O.sgd_step], lr=0.1, weight_decy=0.1), 'optimizer-weight-decy'),
    case(TypeError, "Did you mean 'lr_max'", lambda: fit_one_cycle(learner(), 1, lr_mx=1e-3), 'fit-one-cycle-lr-mx'),
    case(TypeError, "Did you mean 'pct_start'", lambda: learner().fit_one_cycle(1, 1e-3, pct_strat=0.3), 'method-pct-strat'),
    case(TypeError, "Did you mean 'num_it'", lambda: learner().lr_find(num_iter=30), 'lr-find-num-iter'),
    case(TypeError, "Did you mean 'div_final'", lambda: OneCycle(1e-3, div_finl=1e4), 'one-cycle-div-finl'),
    case(TypeError, "Did you mean 'momentum'", lambda: O.momentum_explorer(momentun=0.5), 'explorer-momentun'),
]

@pytest.mark.keyword
@pytest.mark.parametrize('exc,pattern,f', KEYWORD)
def test_keyword(exc, pattern, f): run(exc, pattern, f)

# ---------- out-of-range and ill-shaped values

BAD_VALUE = [
    case(ValueError, r"betas\[1\]: got 1\.0, expected a number in \[0, 1\)", lambda: Adam(model().parameters(), betas=(0.9, 1.0)), 'beta2-one'),
    case(ValueError, r"betas\[0\]: got -0\.1", lambda: AdamW(model().parameters(), betas=(-0.1, 0.99)), 'beta1-negative'),
    case(ValueError, r"betas\[0\]: got 1\.5", lambda: Adam([{'params': model().parameters(), 'betas': (1.5, 0.9)}]), 'betas-in-a-group'),
    case(ValueError, r"alpha: got 1\.0", lambda: RMSProp(model().parameters(), alpha=1.), 'rmsprop-alpha-one'),
    case(ValueError, r"dampening: got 1\.5", lambda: SGD(model().parameters(), lr=0.1, momentum=0.9, dampening=1.5), 'dampening-above-one'),
    case(ValueError, r"nesterov: got True, expected momentum > 0 and dampening = 0", lambda: SGD(model().parameters(), lr=0.1, nesterov=True), 'nesterov-without-momentum'),
    case(ValueError, 'foreach and fused cannot both be True', lambda: Adam(model().parameters(), foreach=True, fused=True), 'foreach-and-fused'),
    case(ValueError, r"params: got \[\], expected at least one tensor.*generator", lambda: Adam([]), 'empty-parameters'),
    case(ValueError, r"pct_start: got 0, expected a number in \(0, 1\)", lambda: OneCycle(1e-3, pct_start=0), 'pct-start-zero'),
    case(ValueError, r"div: got 0", lambda: OneCycle(1e-3, div=0), 'div-zero'),
    case(ValueError, r"moms: got \(0\.95, 0\.85\), expected three momentums", lambda: OneCycle(1e-3, moms=(0.95, 0.85)), 'two-moms'),
    case(ValueError, r"end_lr: got 0\.1, expected a number > 1", lambda: lr_find(learner(), start_lr=1., end_lr=0.1), 'lr-find-reversed-range'),
    case(ValueError, r"num_it: got 3, expected an integer >= 8", lambda: lr_find(learner(), num_it=3), 'lr-find-too-few-batches'),
    case(ValueError, r"losses: got .*one loss per learning rate", lambda: O.suggest_lrs([1e-3, 1e-2], [1.]), 'sweep-lengths'),
    case(ValueError, r"opt: got 'adagrad'", lambda: O.optimizer_path('adagrad'), 'path-unknown-optimizer'),
    case(ValueError, r"momentum: got 1\.0", lambda: O.optimizer_path(momentum=1.), 'path-momentum-one'),
    case(ValueError, r"lr: got 0, expected a number > 0", lambda: O.optimizer_path(lr=0), 'path-lr-zero'),
]

@pytest.mark.bad_value
def test_a_tensor_in_two_groups():
    m = model()
    raises(ValueError, r"group\['params'\]\[0\].*one parameter group only", lambda: SGD([{'params': m[0].parameters()}, {'params': [m[0].weight]}], lr=0.1))

@pytest.mark.bad_value
@pytest.mark.parametrize('exc,pattern,f', BAD_VALUE)
def test_bad_value(exc, pattern, f): run(exc, pattern, f)

@pytest.mark.bad_value
def test_an_empty_group_beside_others_is_accepted_like_torch():
    m = model()
    opt = Adam([{'params': m.parameters()}, {'params': []}], lr=1e-3)
    F.mse_loss(m(torch.randn(3, 4)), torch.randn(3, 1)).backward(); opt.step()
    assert len(opt.param_groups) == 2

# ---------- explorer extremes

@pytest.mark.widget
@pytest.mark.parametrize('kwargs,pattern', [(dict(lr=100.), "lr: got 100.0.*slider goes from 1e-4 to 10"),
                                            (dict(lr=1e-6), r"lr: got 1e-06"),
                                            (dict(momentum=0.995), r"momentum: got 0\.995.*slider goes from 0 to 0\.99"),
                                            (dict(opt='adam'), r"opt: got 'adam'.*Did you mean 'Adam'"),
                                            (dict(surface='rosenbrock'), r"surface: got 'rosenbrock'")])
def test_explorer_refuses_values_off_its_controls(kwargs, pattern):
    raises(ValueError, pattern, lambda: O.momentum_explorer(**kwargs))

@pytest.mark.widget
def test_explorer_steps_out_of_range():
    raises(ValueError, r"steps: got 0", lambda: O.MomentumExplorer(steps=0))

@pytest.mark.widget
def test_explorer_shows_a_clamped_slider_value():
    ex = O.momentum_explorer(opt='momentum', lr=0.5, momentum=0.5)
    ex.lr_slider.value = 1e3
    assert ex.lr_slider.value == 10 and 'clamped to 10' in ex.label.value and 'lr 10' in ex.label.value
    ex.mom_slider.value = 2.
    assert 'clamped to 0.99' in ex.label.value and 'momentum 0.99' in ex.label.value

@pytest.mark.widget
def test_explorer_does_not_ignore_momentum_silently_for_sgd():
    ex = O.momentum_explorer(opt='momentum', lr=0.5, momentum=0.9)
    ex.opt_menu.value = 'SGD'
    assert ex.mom_slider.disabled and 'momentum' not in re.sub('<[^>]+>', '', ex.label.value)
    ex.opt_menu.value = 'Adam'
    assert not ex.mom_slider.disabled and 'beta1 0.90' in ex.label.value

@pytest.mark.widget
def test_explorer_extreme_learning_rate_says_diverged_not_traceback():
    ex = O.momentum_explorer(opt='Adam', lr=10., momentum=0.9, surface='valley')
    ex.lr_slider.value = 10.; ex.opt_menu.value = 'SGD'
    assert ex.regime == 'diverging' and 'flew off' in ex.label.value
