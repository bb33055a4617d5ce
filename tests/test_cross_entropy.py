"""Tests of lessonlib.cross_entropy: values and gradients against torch.nn.functional, bad input, interpretation, explorer."""
import math, os, subprocess, sys
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from lessonlib.cross_entropy import (softmax, log_softmax, logsumexp, nll_loss, cross_entropy, binary_cross_entropy,
                                     binary_cross_entropy_with_logits, accuracy_multi, confusion_matrix, most_confused,
                                     plot_confusion_matrix, Interpretation, softmax_with_temperature, softmax_explorer)

REDUCTIONS = ['mean', 'sum', 'none']

def leaf(t, dtype=torch.float32):
    "A fresh leaf tensor that records its gradient."
    return t.detach().to(dtype).clone().requires_grad_()

def check_parity(ours_fn, torch_fn, *inputs, grad_of=(0,), **kwargs):
    "Run ours and torch's on copies of the same inputs; assert equal values and equal gradients of the chosen inputs."
    a = [leaf(x, x.dtype) if i in grad_of else x for i, x in enumerate(inputs)]
    b = [leaf(x, x.dtype) if i in grad_of else x for i, x in enumerate(inputs)]
    ours, theirs = ours_fn(*a, **kwargs), torch_fn(*b, **kwargs)
    assert_close(ours, theirs)
    assert torch.isfinite(ours).all()
    upstream = torch.randn(ours.shape, generator=torch.Generator().manual_seed(1), dtype=ours.dtype)
    (ours * upstream).sum().backward(); (theirs * upstream).sum().backward()
    for i in grad_of:
        assert_close(a[i].grad, b[i].grad)
        assert torch.isfinite(a[i].grad).all()
    return ours

# ---------- softmax, log_softmax, logsumexp

SHAPES_DIMS = [((7,), 0), ((7,), -1), ((4, 5), 0), ((4, 5), 1), ((4, 5), -1), ((2, 3, 4), 0), ((2, 3, 4), 1),
               ((2, 3, 4), 2), ((2, 3, 4, 5), -2), ((1, 1), 1)]

@pytest.mark.parametrize('shape,dim', SHAPES_DIMS)
@pytest.mark.parametrize('scale', [1., 30., 1e4])
def test_softmax_family_matches_torch(shape, dim, scale):
    x = torch.randn(shape) * scale
    check_parity(softmax, torch.softmax, x, dim=dim)
    check_parity(log_softmax, torch.log_softmax, x, dim=dim)
    check_parity(logsumexp, torch.logsumexp, x, dim=dim)
    check_parity(logsumexp, torch.logsumexp, x, dim=dim, keepdim=True)

def test_softmax_family_float64_and_extremes():
    x = torch.tensor([[1000., 999., -1000.], [-1e4, 1e4, 0.], [0., 0., 0.]], dtype=torch.float64)
    for ours, theirs in ((softmax, torch.softmax), (log_softmax, torch.log_softmax), (logsumexp, torch.logsumexp)):
        check_parity(ours, theirs, x, dim=1)
    assert_close(logsumexp(torch.full((2, 3), -math.inf), 1), torch.full((2,), -math.inf))
    assert softmax(torch.tensor([1000., 1000.])).tolist() == [0.5, 0.5]

def test_softmax_bad_input():
    with pytest.raises(IndexError, match=r'dim=2 is out of range .*\(3, 4\)'): softmax(torch.randn(3, 4), dim=2)
    with pytest.raises(TypeError, match='floating-point'): log_softmax(torch.arange(4))
    with pytest.raises(TypeError, match='torch.Tensor'): logsumexp([1., 2.])

# ---------- nll_loss and cross_entropy with class indices

CLASS_SHAPES = [(5,), (8, 5), (1, 3), (4, 3, 6), (2, 4, 3, 3)]

def class_target(shape, gen_seed=0):
    "Random valid class indices for scores of `shape` (classes along dim 1, or dim 0 for one sample)."
    g = torch.Generator().manual_seed(gen_seed)
    n = shape[1] if len(shape) > 1 else shape[0]
    tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    return torch.randint(0, n, tshape, generator=g)

@pytest.mark.parametrize('shape', CLASS_SHAPES)
@pytest.mark.parametrize('reduction', REDUCTIONS)
@pytest.mark.parametrize('scale', [1., 1e4])
@pytest.mark.parametrize('label_smoothing', [0., 0.1])
def test_cross_entropy_matches_torch(shape, reduction, scale, label_smoothing):
    logits, target = torch.randn(shape) * scale, class_target(shape)
    check_parity(cross_entropy, F.cross_entropy, logits, target, reduction=reduction, label_smoothing=label_smoothing)

@pytest.mark.parametrize('shape', [(8, 5), (4, 3, 6), (2, 4, 3, 3)])
@pytest.mark.parametrize('reduction', REDUCTIONS)
@pytest.mark.parametrize('label_smoothing', [0., 0.1])
def test_cross_entropy_weight_and_ignore_index(shape, reduction, label_smoothing):
    logits, target = torch.randn(shape), class_target(shape)
    n = shape[1]
    weight = torch.rand(n) + 0.5
    target.view(-1)[0] = -100
    for ignore_index, t in ((-100, target), (1, class_target(shape, 3))):
        check_parity(cross_entropy, F.cross_entropy, logits, t, weight=weight, ignore_index=ignore_index,
                     reduction=reduction, label_smoothing=label_smoothing)

def test_cross_entropy_extreme_logits_stay_finite():
    logits = torch.tensor([[1e4, -1e4, 0.], [-1e4, 1e4, 1e4], [1000., 999., 998.]])
    target = torch.tensor([1, 0, 2])
    for ls in (0., 0.1):
        out = check_parity(cross_entropy, F.cross_entropy, logits, target, reduction='none', label_smoothing=ls)
        assert out[0] > 1e4  # a confident mistake costs a lot, and stays a number

def test_cross_entropy_float64():
    logits, target = torch.randn(6, 4, dtype=torch.float64), torch.tensor([0, 1, 2, 3, 0, 1])
    check_parity(cross_entropy, F.cross_entropy, logits, target, label_smoothing=0.2)

def test_cross_entropy_all_ignored_refuses_the_mean_where_torch_gives_nan():
    logits, target = torch.randn(3, 4), torch.full((3,), -100)
    assert torch.isnan(F.cross_entropy(logits, target))
    with pytest.raises(ValueError, match='every target equals ignore_index=-100'): cross_entropy(logits, target)
    assert_close(cross_entropy(logits, target, reduction='sum'), F.cross_entropy(logits, target, reduction='sum'))
    assert_close(cross_entropy(logits, target, reduction='none'), F.cross_entropy(logits, target, reduction='none'))

@pytest.mark.parametrize('shape', [(6, 4), (2, 3, 5), (4,)])
@pytest.mark.parametrize('reduction', REDUCTIONS)
@pytest.mark.parametrize('label_smoothing', [0., 0.1])
def test_cross_entropy_probability_targets(shape, reduction, label_smoothing):
    logits = torch.randn(shape) * 5
    dim = 1 if len(shape) > 1 else 0
    probs = torch.softmax(torch.randn(shape), dim)
    weight = torch.rand(shape[dim]) + 0.5
    check_parity(cross_entropy, F.cross_entropy, logits, probs, reduction=reduction, label_smoothing=label_smoothing)
    check_parity(cross_entropy, F.cross_entropy, logits, probs, weight=weight, reduction=reduction)

def test_cross_entropy_gradient_is_softmax_minus_one_hot():
    logits, target = leaf(torch.randn(5, 3)), torch.tensor([0, 2, 1, 1, 0])
    cross_entropy(logits, target, reduction='sum').backward()
    assert_close(logits.grad, torch.softmax(logits.detach(), 1) - F.one_hot(target, 3).float())

@pytest.mark.parametrize('shape', CLASS_SHAPES)
@pytest.mark.parametrize('reduction', REDUCTIONS)
def test_nll_loss_matches_torch(shape, reduction):
    log_probs, target = torch.log_softmax(torch.randn(shape), dim=1 if len(shape) > 1 else 0), class_target(shape)
    check_parity(nll_loss, F.nll_loss, log_probs, target, reduction=reduction)
    if len(shape) > 1:
        weight = torch.rand(shape[1]) + 0.1
        check_parity(nll_loss, F.nll_loss, log_probs, target, weight=weight, reduction=reduction)

def test_nll_loss_is_a_lookup():
    log_probs = torch.tensor([[-0.1, -2.0, -3.0], [-1.5, -0.3, -4.0]])
    assert nll_loss(log_probs, torch.tensor([0, 2]), reduction='none').tolist() == [pytest.approx(0.1), pytest.approx(4.0)]

# ---------- bad input for the class-index losses

def test_targets_out_of_range_name_the_values():
    logits = torch.randn(4, 3)
    with pytest.raises(ValueError, match=r'class indices \[3\] outside 0..2.*\(4, 3\)'): cross_entropy(logits, torch.tensor([0, 3, 1, 2]))
    with pytest.raises(ValueError, match=r'class indices \[-1\] outside 0..2'): cross_entropy(logits, torch.tensor([0, -1, 1, 2]))
    with pytest.raises(ValueError, match=r'outside 0..2'): nll_loss(logits.log_softmax(1), torch.tensor([0, 1, 7, 2]))
    with pytest.raises(ValueError, match=r'outside 0..3'): cross_entropy(torch.randn(4), torch.tensor(4))

def test_mismatched_batch_sizes_name_the_shapes():
    with pytest.raises(ValueError, match=r'target has shape \(5,\) but logits has shape \(4, 3\).*should have shape \(4,\)'):
        cross_entropy(torch.randn(4, 3), torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match=r'should have shape \(2, 6\)'):
        nll_loss(torch.randn(2, 3, 6).log_softmax(1), torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r'target has shape \(4, 3\)'):  # a one-hot target of integers is not class indices
        cross_entropy(torch.randn(4, 3), F.one_hot(torch.tensor([0, 1, 2, 0]), 3))

def test_wrong_dtypes_are_explained():
    with pytest.raises(TypeError, match='integer class indices, got dtype torch.float32; probabilities as targets'):
        cross_entropy(torch.randn(4, 3), torch.tensor([0., 1., 2., 0.]))
    with pytest.raises(TypeError, match='integer class indices, got dtype torch.bool'):
        nll_loss(torch.randn(2, 3).log_softmax(1), torch.tensor([True, False]))
    with pytest.raises(TypeError, match='logits must be a floating-point tensor'):
        cross_entropy(torch.tensor([[1, 2], [3, 4]]), torch.tensor([0, 1]))
    with pytest.raises(TypeError, match='target must be a torch.Tensor'):
        cross_entropy(torch.randn(2, 3), [0, 1])

def test_bad_options_are_refused():
    logits, target = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    with pytest.raises(ValueError, match=r"reduction: got 'avg', expected one of 'mean', 'sum', 'none'"): cross_entropy(logits, target, reduction='avg')
    with pytest.raises(ValueError, match=r'label_smoothing: got 1.5, expected a number in \[0, 1\]'): cross_entropy(logits, target, label_smoothing=1.5)
    with pytest.raises(ValueError, match=r'weight must have shape \(3,\)'): cross_entropy(logits, target, weight=torch.ones(4))
    with pytest.raises(ValueError, match='needs a class dimension'): cross_entropy(torch.tensor(1.), torch.tensor(0))

def test_int32_targets_are_accepted():
    logits, target = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    assert_close(cross_entropy(logits, target.int()), F.cross_entropy(logits, target))

# ---------- binary cross-entropy

@pytest.mark.parametrize('shape', [(10,), (4, 3), (2, 3, 4)])
@pytest.mark.parametrize('reduction', REDUCTIONS)
def test_binary_cross_entropy_matches_torch(shape, reduction):
    probs = torch.rand(shape) * 0.98 + 0.01
    hard = (torch.rand(shape) > 0.5).float()  # targets of exactly 0 and 1
    soft = torch.rand(shape)
    weight = torch.rand(shape[-1:]) + 0.5
    for target in (hard, soft):
        check_parity(binary_cross_entropy, F.binary_cross_entropy, probs, target, reduction=reduction)
        check_parity(binary_cross_entropy, F.binary_cross_entropy, probs, target, weight=weight, reduction=reduction)

def test_binary_cross_entropy_at_probabilities_of_exactly_0_and_1():
    probs = torch.tensor([0., 1., 0., 1., 1e-30, 1 - 1e-7])
    target = torch.tensor([0., 1., 1., 0., 1., 0.])
    for reduction in REDUCTIONS:
        check_parity(binary_cross_entropy, F.binary_cross_entropy, probs, target, reduction=reduction)
    assert binary_cross_entropy(probs, target, reduction='none')[2] == 100.  # logs are clamped at -100, as in PyTorch

def test_binary_cross_entropy_target_gradient():
    probs, target = torch.rand(5) * 0.9 + 0.05, torch.rand(5)
    check_parity(binary_cross_entropy, F.binary_cross_entropy, probs, target, grad_of=(0, 1), reduction='sum')

@pytest.mark.parametrize('shape', [(10,), (4, 3), (2, 3, 4)])
@pytest.mark.parametrize('reduction', REDUCTIONS)
@pytest.mark.parametrize('scale', [1., 50., 1e4])
def test_bce_with_logits_matches_torch(shape, reduction, scale):
    logits = torch.randn(shape) * scale
    hard, soft = (torch.rand(shape) > 0.5).float(), torch.rand(shape)
    for target in (hard, soft):
        check_parity(binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits, logits, target, reduction=reduction)
    weight, pos_weight = torch.rand(shape) + 0.5, torch.rand(shape[-1:]) * 3
    check_parity(binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits, logits, hard,
                 weight=weight, pos_weight=pos_weight, reduction=reduction)

def test_bce_with_logits_at_zero_and_extremes():
    logits = torch.tensor([0., 0., 1e4, -1e4, 1e4, -1e4, 88., -88.])
    target = torch.tensor([0., 1., 0., 1., 1., 0., 0.5, 0.5])
    check_parity(binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits, logits, target, reduction='none')
    check_parity(binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits, logits.double(), target.double(), reduction='sum')

def test_bce_bad_input():
    with pytest.raises(ValueError, match=r'target has shape \(3,\) but probs has shape \(4,\)'):
        binary_cross_entropy(torch.rand(4), torch.rand(3))
    with pytest.raises(ValueError, match=r'target has shape \(4, 1\) but logits has shape \(4,\)'):
        binary_cross_entropy_with_logits(torch.randn(4), torch.rand(4, 1))
    with pytest.raises(TypeError, match='target must be a float tensor.*torch.int64'):
        binary_cross_entropy_with_logits(torch.randn(4), torch.tensor([0, 1, 1, 0]))
    with pytest.raises(ValueError, match='probs must lie between 0 and 1.*with_logits'):
        binary_cross_entropy(torch.tensor([0.5, 1.5]), torch.tensor([0., 1.]))
    with pytest.raises(ValueError, match='target values must lie between 0 and 1'):
        binary_cross_entropy_with_logits(torch.randn(3), torch.tensor([0., 2., 1.]))
    with pytest.raises(ValueError, match='does not broadcast'):
        binary_cross_entropy_with_logits(torch.randn(4, 3), torch.rand(4, 3), pos_weight=torch.ones(4))
    with pytest.raises(ValueError, match='reduction'):
        binary_cross_entropy(torch.rand(3), torch.rand(3), reduction='max')

# ---------- multi-label accuracy

def test_accuracy_multi():
    logits = torch.tensor([[3., -2., 0.5], [-1., 4., -3.]])
    target = torch.tensor([[1., 0., 0.], [0., 1., 0.]])
    assert accuracy_multi(logits, target).item() == pytest.approx(5 / 6)
    assert accuracy_multi(logits, target, thresh=0.7).item() == pytest.approx(1.)
    assert accuracy_multi(torch.sigmoid(logits), target, thresh=0.7, sigmoid=False).item() == pytest.approx(1.)
    with pytest.raises(ValueError, match='shape'): accuracy_multi(logits, target[:, :2])

# ---------- reading mistakes

def test_confusion_matrix_by_hand():
    preds, targets = torch.tensor([0, 1, 1, 2, 2, 2, 0]), torch.tensor([0, 1, 2, 2, 1, 1, 1])
    cm = confusion_matrix(preds, targets)
    assert cm.tolist() == [[1, 0, 0], [1, 1, 2], [0, 1, 1]]
    assert confusion_matrix(preds, targets, n_classes=4).shape == (4, 4)
    scores = F.one_hot(preds, 3).float()
    assert torch.equal(confusion_matrix(scores, targets), cm)

def test_confusion_matrix_bad_input():
    with pytest.raises(ValueError, match='same length'): confusion_matrix(torch.tensor([0, 1]), torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match=r'0..1'): confusion_matrix(torch.tensor([0, 2]), torch.tensor([0, 1]), n_classes=2)
    with pytest.raises(TypeError, match='integer'): confusion_matrix(torch.tensor([0., 1.]), torch.tensor([0, 1]))

def test_most_confused_by_hand():
    cm = torch.tensor([[5, 0, 3], [2, 7, 0], [3, 1, 9]])
    assert most_confused(cm) == [(0, 2, 3), (2, 0, 3), (1, 0, 2), (2, 1, 1)]
    assert most_confused(cm, min_val=3, vocab=['cat', 'dog', 'fox']) == [('cat', 'fox', 3), ('fox', 'cat', 3)]
    assert most_confused(torch.eye(3, dtype=torch.long) * 4) == []

def test_interpretation_and_plots():
    inputs = torch.rand(6, 784)
    logits = torch.tensor([[4., 0, 0], [0, 4., 0], [0, 4., 0], [0, 0, 4.], [4., 0, 0], [0, 0, 4.]])
    targets = torch.tensor([0, 1, 0, 2, 2, 2])
    interp = Interpretation(inputs, logits, targets, vocab=['a', 'b', 'c'])
    assert interp.confusion_matrix().tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert interp.most_confused() == [('a', 'b', 1), ('c', 'a', 1)]
    losses, idxs = interp.top_losses(2)
    assert set(idxs.tolist()) == {2, 4}
    assert_close(losses, F.cross_entropy(logits, targets, reduction='none')[idxs])
    fig = interp.plot_top_losses(4, ncols=2)
    assert len(fig.axes) == 4
    ax = plot_confusion_matrix(interp.confusion_matrix(), interp.vocab)
    assert len(ax.texts) == 9

def test_top_losses_titles_give_the_probability_of_the_prediction():
    "fastai's layout: predicted/actual / loss / probability of the predicted class (never the actual class's, which is exp(-loss))."
    logits, targets = torch.tensor([[0., 4., 0.], [4., 0., 0.]]), torch.tensor([0, 0])
    fig = Interpretation(torch.rand(2, 4), logits, targets, vocab=['a', 'b', 'c']).plot_top_losses(1, ncols=1, image_shape=(2, 2))
    p_pred, loss = math.exp(4) / (math.exp(4) + 2), math.log(math.exp(4) + 2)
    assert fig.axes[0].get_title() == f"b/a / {loss:.2f} / {p_pred:.2f}"

# ---------- the softmax explorer and its plain function

def test_softmax_with_temperature():
    probs, loss = softmax_with_temperature([2., 1., 0.1, -1.], 1., target=0)
    assert_close(torch.tensor(probs), torch.softmax(torch.tensor([2., 1., 0.1, -1.], dtype=torch.float64), 0))
    assert loss == pytest.approx(-math.log(probs[0]))
    probs, loss = softmax_with_temperature([10., 0., 0., 0.], 0.01, target=1)
    assert np.isfinite(probs).all() and loss == pytest.approx(1000.)
    assert softmax_with_temperature([1., 2., 3.], 1e6)[1] == pytest.approx(math.log(3), abs=1e-4)
    with pytest.raises(ValueError, match='temperature: got 0.0, expected a number > 0'): softmax_with_temperature([1., 2.], 0.)
    with pytest.raises(ValueError, match=r'target: got 2, expected an integer in \[0, 1\]'): softmax_with_temperature([1., 2.], 1., 2)

def test_softmax_explorer_updates_bars_in_place():
    ex = softmax_explorer()
    bars = list(ex.bars)
    ex.logit_sliders[2].value = 8.
    assert list(ex.bars) == bars  # the same artists, moved
    assert [b.get_height() for b in ex.bars] == pytest.approx(list(ex.probs))
    assert ex.probs.argmax() == 2 and 'cross-entropy for cat' in ex.ax.get_title()
    ex.target_picker.value = 2
    assert ex.loss == pytest.approx(-math.log(ex.probs[2])) and 'bird' in ex.ax.get_title()
    assert ex.bars[2].get_facecolor() != ex.bars[0].get_facecolor()

def test_softmax_explorer_plain_text_keeps_a_separator():
    "The static copy's one line of text reads as a sentence: the label's line break becomes a comma and a space."
    text = softmax_explorer()._repr_mimebundle_()['text/plain']
    assert text == 'SoftmaxExplorer: temperature 1: p(cat) = 0.638, loss 0.449'

def test_softmax_explorer_extremes_stay_finite():
    ex = softmax_explorer()
    ex.temp_slider.value = 10 ** ex.temp_slider.min
    for s, v in zip(ex.logit_sliders, (ex.logit_sliders[0].max, ex.logit_sliders[0].min, 0., 0.)): s.value = v
    ex.target_picker.value = 1
    assert math.isfinite(ex.loss) and ex.loss > 1000 and 'diverged' not in ex.label.value
    ex.temp_slider.value = 10 ** ex.temp_slider.max
    assert abs(ex.loss - math.log(4)) < 0.15  # at temperature 100 every class is nearly equally likely
    assert ex.image.value[:8] == b'\x89PNG\r\n\x1a\n'

def test_import_works_headless(tmp_path):
    code = 'import lessonlib.cross_entropy as ce; print(ce.cross_entropy.__name__)'
    env = {k: v for k, v in os.environ.items() if k not in ('DISPLAY', 'MPLBACKEND')}
    out = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'cross_entropy'

def test_import_is_light_at_module_level():
    "The module's own top-level imports bring no widget, notebook or plotting stack (plots and the explorer import them when called)."
    import ast, lessonlib.cross_entropy as ce
    tree = ast.parse(open(ce.__file__).read())
    names = [a.name for node in tree.body if isinstance(node, ast.Import) for a in node.names]
    names += [node.module for node in tree.body if isinstance(node, ast.ImportFrom) and node.module]
    assert not [n for n in names if n.split('.')[0] in ('ipywidgets', 'IPython', 'matplotlib')], names

# ---------- code shared by the soft-target and smoothing paths, and Interpretation's model mode

def test_class_weights_broadcast_in_one_place():
    "Soft targets and label smoothing weigh classes through the same helper, on every layout of the class dimension."
    from lessonlib.cross_entropy import _class_weighted
    x, w = torch.randn(2, 3, 4), torch.tensor([1., 2., 3.])
    assert_close(_class_weighted(x, w, 1), x * w.view(1, 3, 1))
    assert_close(_class_weighted(torch.ones(3), w, 0), w)
    assert _class_weighted(x, None, 1) is x
    for shape in [(5, 3), (2, 3, 4), (3,)]:
        logits, dim = torch.randn(shape), 1 if len(shape) > 1 else 0
        probs = torch.softmax(torch.randn(shape), dim)
        target = torch.randint(0, 3, shape[:1] + shape[2:] if len(shape) > 1 else ())
        for red in REDUCTIONS:
            assert_close(cross_entropy(logits, probs, weight=w, reduction=red, label_smoothing=0.2),
                         F.cross_entropy(logits, probs, weight=w, reduction=red, label_smoothing=0.2))
            assert_close(cross_entropy(logits, target, weight=w, reduction=red, label_smoothing=0.2),
                         F.cross_entropy(logits, target, weight=w, reduction=red, label_smoothing=0.2))

class _TinyLearner:
    "Just what Interpretation.from_learner reads: a model and loaders."
    def __init__(self, model, dl): self.model, self.dls = model, type('DLs', (), {'valid': dl})()

def test_from_learner_restores_the_model_mode():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Dropout(0.5))
    dl = [(torch.randn(5, 4), torch.randint(0, 3, (5,))), (torch.randn(2, 4), torch.randint(0, 3, (2,)))]
    for mode in (True, False):
        model.train(mode)
        interp = Interpretation.from_learner(_TinyLearner(model, dl))
        assert model.training == mode and len(interp.targets) == 7
    with torch.no_grad(): model.eval(); expected = model(torch.cat([b[0] for b in dl]))
    assert_close(interp.logits, expected)  # evaluated in eval mode: no dropout

def test_from_learner_restores_the_mode_when_the_model_fails():
    class Broken(torch.nn.Module):
        def forward(self, x): raise RuntimeError('boom')
    model = Broken().train()
    with pytest.raises(RuntimeError, match='boom'):
        Interpretation.from_learner(_TinyLearner(model, [(torch.randn(2, 4), torch.tensor([0, 1]))]))
    assert model.training
