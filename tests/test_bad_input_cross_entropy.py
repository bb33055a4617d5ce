"""Bad input to lessonlib.cross_entropy (issue 16): each case asserts the exception (or warning) and that the message names
the argument or the problem. Grouped by kind with the markers registered in conftest.py."""
import math, warnings
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lessonlib.cross_entropy import (softmax, log_softmax, logsumexp, nll_loss, cross_entropy, binary_cross_entropy,
                                     binary_cross_entropy_with_logits, accuracy_multi, confusion_matrix, most_confused,
                                     plot_confusion_matrix, Interpretation, softmax_with_temperature, softmax_explorer)

NAN = float('nan')
LOGITS, TARGET = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])

class TinyLearner:
    "Just what Interpretation.from_learner reads."
    def __init__(self, model, dl): self.model, self.dls = model, type('DLs', (), {'valid': dl})()

def interp():
    return Interpretation(torch.rand(3, 784), torch.tensor([[2., 0.], [0., 2.], [2., 0.]]), torch.tensor([0, 1, 1]))

# ---------- wrong kinds of argument

@pytest.mark.wrong_kind
@pytest.mark.parametrize('call, match', [
    (lambda: cross_entropy([[1., 2.], [3., 4.]], torch.tensor([0, 1])), 'logits must be a torch.Tensor, got list'),
    (lambda: cross_entropy(LOGITS, [0, 1, 2, 0]), 'target must be a torch.Tensor, got list'),
    (lambda: softmax(np.array([1., 2.])), 'x must be a torch.Tensor, got ndarray'),
    (lambda: nll_loss(LOGITS.log_softmax(1), TARGET.numpy()), 'target must be a torch.Tensor'),
    (lambda: binary_cross_entropy_with_logits(torch.randn(4), [0., 1., 1., 0.]), 'target must be a torch.Tensor'),
    (lambda: most_confused([[3, 1], [0, 2]]), 'cm must be a confusion matrix'),
    (lambda: confusion_matrix([0, 1], torch.tensor([0, 1])), 'preds must be a torch.Tensor'),
    (lambda: accuracy_multi(torch.randn(2, 3), torch.ones(2, 3), sigmoid='yes'), 'sigmoid: got'),
    (lambda: softmax_with_temperature('cat', 1.), 'logits must be a list of numbers'),
    (lambda: cross_entropy(LOGITS, TARGET, ignore_index=1.5), 'ignore_index: got 1.5, expected a finite integer'),
])
def test_wrong_kinds_are_named(call, match):
    with pytest.raises(TypeError, match=match): call()

@pytest.mark.wrong_kind
def test_from_learner_wants_a_learner():
    from lessonlib.data import DataLoaders
    dls = DataLoaders.from_tensors((torch.randn(4, 3), TARGET), (torch.randn(4, 3), TARGET), bs=2, device='cpu')
    with pytest.raises(TypeError, match='learn must be a Learner'): Interpretation.from_learner(dls)

# ---------- operations in the wrong order

@pytest.mark.wrong_order
def test_nll_loss_before_log_softmax_is_named():
    "nll_loss takes log-probabilities: raw logits (log_softmax forgotten) are refused, not turned into a meaningless loss."
    with pytest.raises(ValueError, match='look like raw logits; apply log_softmax'): nll_loss(LOGITS + 5, TARGET)

@pytest.mark.wrong_order
def test_binary_cross_entropy_before_sigmoid_is_named():
    with pytest.raises(ValueError, match='probs must lie between 0 and 1 \\(apply a sigmoid'):
        binary_cross_entropy(torch.tensor([2., -1.]), torch.tensor([1., 0.]))

@pytest.mark.wrong_order
def test_softmax_before_cross_entropy_warns():
    "A model ending in a softmax feeds cross_entropy probabilities, which it softmaxes again: a warning names the fix."
    with pytest.warns(UserWarning, match='remove the softmax at the end of the model'):
        cross_entropy(torch.softmax(torch.randn(5, 4), 1), torch.tensor([0, 1, 2, 3, 0]))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        cross_entropy(torch.randn(5, 4), torch.tensor([0, 1, 2, 3, 0]))  # real logits: no warning

@pytest.mark.wrong_order
def test_sigmoid_twice_in_accuracy_multi_warns():
    with pytest.warns(UserWarning, match='pass sigmoid=False'):
        accuracy_multi(torch.sigmoid(torch.randn(4, 3)), (torch.rand(4, 3) > 0.5).float())

# ---------- the message names the real cause

@pytest.mark.blame
def test_nan_logits_blame_the_model_not_the_loss():
    logits = LOGITS.clone(); logits[1, 2] = NAN
    with pytest.raises(ValueError, match=r'logits of shape \(4, 3\) holds 1 NaN value; .*diverges .*learning rate.*inputs hold NaN'):
        cross_entropy(logits, TARGET)

@pytest.mark.blame
def test_nan_targets_blame_the_data():
    with pytest.raises(ValueError, match='target of shape \\(3,\\) holds 1 NaN value; check the data'):
        binary_cross_entropy_with_logits(torch.randn(3), torch.tensor([0., NAN, 1.]))

@pytest.mark.blame
def test_swapped_arguments_are_recognised():
    with pytest.raises(TypeError, match='arguments look swapped: call cross_entropy\\(logits, target\\)'):
        cross_entropy(TARGET, LOGITS)

@pytest.mark.blame
def test_plus_inf_logits_are_blamed_on_the_model():
    with pytest.raises(ValueError, match=r'holds 1 \+inf value'):
        cross_entropy(torch.tensor([[math.inf, 0.], [0., 1.]]), torch.tensor([0, 1]))

# ---------- used to give a silently wrong result

@pytest.mark.silent
@pytest.mark.parametrize('call, match', [
    (lambda: cross_entropy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long)), 'the batch is empty'),
    (lambda: cross_entropy(LOGITS, torch.full((4,), -100)), 'every target equals ignore_index=-100'),
    (lambda: cross_entropy(LOGITS, TARGET, weight=torch.tensor([0., 0., 0.])), "classes all have weight 0"),
    (lambda: nll_loss(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long)), 'mean loss over no targets'),
    (lambda: cross_entropy(torch.zeros(0, 3), torch.zeros(0, 3)), 'mean loss of an empty batch'),
    (lambda: binary_cross_entropy_with_logits(torch.zeros(0), torch.zeros(0)), 'mean loss of an empty batch'),
    (lambda: accuracy_multi(torch.zeros(0, 3), torch.zeros(0, 3)), 'accuracy of an empty batch'),
])
def test_means_over_nothing_are_refused(call, match):
    "PyTorch returns NaN for these; ours names why there is nothing to average."
    with pytest.raises(ValueError, match=match): call()

@pytest.mark.silent
def test_sums_over_nothing_are_still_zero():
    assert cross_entropy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long), reduction='sum').item() == 0.
    assert binary_cross_entropy_with_logits(torch.zeros(0), torch.zeros(0), reduction='none').shape == (0,)

@pytest.mark.silent
@pytest.mark.parametrize('target, match', [
    (torch.tensor([[0.5, 0.3, 0.], [0., 0., 1.]]), r'sample 0 sums to 0.8 \(1 of 2 off\)'),
    (torch.tensor([[0.2, 0.3, 0.5], [1., 1., 1.]]), r'sample 1 sums to 3'),
    (torch.tensor([[1.5, -0.5, 0.], [0., 0., 1.]]), r'probability targets must be >= 0'),
    (torch.tensor([[NAN, 0.5, 0.5], [0., 0., 1.]]), 'target of shape \\(2, 3\\) holds 1 NaN'),
])
def test_soft_targets_must_be_distributions(target, match):
    with pytest.raises(ValueError, match=match): cross_entropy(torch.randn(2, 3), target)

@pytest.mark.silent
def test_soft_target_of_one_sample_and_of_pixels():
    with pytest.raises(ValueError, match='the target sums to 0.5'): cross_entropy(torch.randn(3), torch.tensor([0.5, 0., 0.]))
    bad = torch.softmax(torch.randn(2, 3, 4), 1); bad[1, :, 2] = 0.
    with pytest.raises(ValueError, match=r'sample \(1, 2\) sums to 0'): cross_entropy(torch.randn(2, 3, 4), bad)

@pytest.mark.silent
def test_nan_probabilities_are_refused_by_bce():
    "NaN fails every comparison, so a range check alone let NaN probabilities through."
    with pytest.raises(ValueError, match='probs of shape \\(2,\\) holds 1 NaN'):
        binary_cross_entropy(torch.tensor([0.5, NAN]), torch.tensor([1., 0.]))

@pytest.mark.silent
def test_a_row_of_minus_inf_is_refused():
    "-inf masks a class; masking every class of a sample would make its loss NaN."
    logits = torch.tensor([[0., -math.inf, 1.], [-math.inf, -math.inf, -math.inf]])
    with pytest.raises(ValueError, match='every class is -inf'): cross_entropy(logits, torch.tensor([0, 1]))
    assert torch.isfinite(cross_entropy(logits[:1], torch.tensor([0])))  # one masked class is fine

@pytest.mark.silent
@pytest.mark.parametrize('kw', ['weight', 'pos_weight'])
def test_bce_weights_that_would_broadcast_the_result_are_refused(kw):
    logits, target = torch.randn(4, 3), torch.rand(4, 3)
    with pytest.raises(ValueError, match=rf'{kw} of shape \(4, 1, 3\) does not broadcast .*turn the result into shape \(4, 4, 3\)'):
        binary_cross_entropy_with_logits(logits, target, **{kw: torch.ones(4, 1, 3)})
    assert binary_cross_entropy_with_logits(logits, target, reduction='none', **{kw: torch.ones(3)}).shape == (4, 3)

@pytest.mark.silent
def test_accuracy_multi_refuses_nan_and_soft_targets():
    with pytest.raises(ValueError, match='pred of shape \\(1, 2\\) holds 1 NaN'): accuracy_multi(torch.tensor([[NAN, 1.]]), torch.ones(1, 2))
    with pytest.raises(ValueError, match='multi-hot .* values such as \\[0.5\\]'): accuracy_multi(torch.randn(1, 2), torch.tensor([[1., 0.5]]))

@pytest.mark.silent
def test_confusion_matrix_scores_and_n_classes_must_agree():
    with pytest.raises(ValueError, match='n_classes=4 but the scores have 3 columns'):
        confusion_matrix(torch.randn(5, 3), torch.tensor([0, 1, 2, 0, 1]), n_classes=4)

@pytest.mark.silent
def test_vocab_and_image_shape_must_fit():
    with pytest.raises(ValueError, match='vocab has 3 names but logits have 2 classes'):
        Interpretation(torch.rand(3, 784), torch.randn(3, 2), torch.tensor([0, 1, 1]), vocab=['a', 'b', 'c'])
    with pytest.raises(ValueError, match='vocab has 1 names but cm has 2 classes'): plot_confusion_matrix(torch.eye(2, dtype=torch.long), ['a'])
    with pytest.raises(ValueError, match=r'image_shape=\(28, 28\) holds 784 values but each input has 100'):
        Interpretation(torch.rand(3, 100), torch.randn(3, 2), torch.tensor([0, 1, 1])).plot_top_losses(2)

@pytest.mark.silent
def test_nan_class_weights_are_refused():
    with pytest.raises(ValueError, match='weight of shape \\(3,\\) holds 1 NaN'): cross_entropy(LOGITS, TARGET, weight=torch.tensor([1., NAN, 1.]))

# ---------- out-of-range and ill-shaped values

@pytest.mark.bad_value
@pytest.mark.parametrize('call, error, match', [
    (lambda: cross_entropy(LOGITS, torch.tensor([0, 3, 1, 2])), ValueError, r'class indices \[3\] outside 0..2'),
    (lambda: cross_entropy(LOGITS, torch.tensor([0, -2, 1, 2])), ValueError, r'class indices \[-2\] outside 0..2'),
    (lambda: cross_entropy(LOGITS, torch.tensor([0, 1])), ValueError, r'target should have shape \(4,\)'),
    (lambda: cross_entropy(LOGITS, TARGET.float()), TypeError, 'integer class indices, got dtype torch.float32; probabilities'),
    (lambda: nll_loss(LOGITS.log_softmax(1), TARGET.bool()), TypeError, 'integer class indices, got dtype torch.bool'),
    (lambda: cross_entropy(LOGITS, TARGET, weight=torch.ones(4)), ValueError, r'weight must have shape \(3,\)'),
    (lambda: cross_entropy(LOGITS, TARGET, weight=torch.tensor([1., -1., 1.])), ValueError, 'class weights must be >= 0'),
    (lambda: cross_entropy(LOGITS, TARGET, label_smoothing=1.5), ValueError, r'label_smoothing: got 1.5, expected a number in \[0, 1\]'),
    (lambda: cross_entropy(LOGITS, TARGET, label_smoothing=NAN), ValueError, 'label_smoothing: got nan'),
    (lambda: cross_entropy(LOGITS, TARGET, reduction='means'), ValueError, "reduction: got 'means'.*Did you mean 'mean'"),
    (lambda: cross_entropy(torch.tensor(1.), torch.tensor(0)), ValueError, 'needs a class dimension'),
    (lambda: log_softmax(LOGITS, dim=2), IndexError, r'dim=2 is out of range for a tensor of shape \(4, 3\)'),
    (lambda: logsumexp(LOGITS, dim=True), IndexError, 'dim=True is out of range'),
    (lambda: softmax(torch.arange(3)), TypeError, 'x must be a floating-point tensor, got dtype torch.int64'),
    (lambda: binary_cross_entropy_with_logits(torch.randn(3), torch.tensor([0., 2., 1.])), ValueError, 'target values must lie between 0 and 1'),
    (lambda: binary_cross_entropy_with_logits(torch.randn(4), torch.rand(4, 1)), ValueError, r'target has shape \(4, 1\) but logits has shape \(4,\)'),
    (lambda: binary_cross_entropy_with_logits(torch.randn(2), torch.rand(2), pos_weight=torch.tensor([-1.])), ValueError, 'pos_weight must be >= 0'),
    (lambda: accuracy_multi(torch.randn(2, 3), torch.ones(2, 3), thresh=1.5), ValueError, r'thresh: got 1.5, expected a number in \[0, 1\]'),
    (lambda: accuracy_multi(torch.randn(2, 3), torch.ones(2, 2)), ValueError, r'pred has shape \(2, 3\) but target has \(2, 2\)'),
    (lambda: confusion_matrix(torch.tensor([0, 2]), torch.tensor([0, 1]), n_classes=2), ValueError, 'classes must lie in 0..1'),
    (lambda: confusion_matrix(torch.tensor([0, 1]), torch.tensor([0, 1, 1])), ValueError, 'same length'),
    (lambda: most_confused(torch.ones(2, 3, dtype=torch.long)), ValueError, r'square matrix, got shape \(2, 3\)'),
    (lambda: most_confused(torch.eye(2, dtype=torch.long), min_val=-1), ValueError, 'min_val: got -1'),
    (lambda: interp().top_losses(0), ValueError, 'k: got 0, expected an integer >= 1'),
    (lambda: Interpretation(torch.rand(2, 784), torch.randn(3, 2), torch.tensor([0, 1, 1])), ValueError, '2 inputs but 3 rows of logits'),
    (lambda: softmax_with_temperature([1., 2.], 0.), ValueError, 'temperature: got 0.0, expected a number > 0'),
    (lambda: softmax_with_temperature([1., 2.], math.inf), ValueError, 'temperature: got inf'),
    (lambda: softmax_with_temperature([1., NAN], 1.), ValueError, 'logits of shape \\(2,\\) holds 1 NaN'),
    (lambda: softmax_with_temperature([1., 2.], 1., target=2), ValueError, r'target: got 2, expected an integer in \[0, 1\]'),
    (lambda: softmax_with_temperature([], 1.), ValueError, 'non-empty list of scores'),
])
def test_bad_values_are_named(call, error, match):
    with pytest.raises(error, match=match): call()

@pytest.mark.bad_value
def test_from_learner_with_an_empty_loader():
    model = torch.nn.Linear(4, 2)
    with pytest.raises(ValueError, match='dl: got .*expected a loader that yields at least one batch'):
        Interpretation.from_learner(TinyLearner(model, []))

# ---------- the explorer's extremes

@pytest.mark.widget
@pytest.mark.parametrize('kwargs, match', [
    (dict(logits=(20., 0., 0., 0.)), r'logit of cat: got 20.0, expected a number in \[-10, 10\]. The logit sliders run from -10 to 10'),
    (dict(temperature=1000.), r'temperature: got 1000.0, expected a number in \[0.01, 100\]'),
    (dict(temperature=0.), r'temperature: got 0.0'),
    (dict(target=4), r'target: got 4, expected an integer in \[0, 3\]'),
    (dict(classes=('cat', 'cat', 'dog', 'fox')), 'class names must differ'),
    (dict(logits=(1., 2.)), '2 logits but 4 classes'),
    (dict(logits=(1.,), classes=('cat',)), 'at least two classes'),
])
def test_explorer_refuses_values_its_widgets_would_clamp(kwargs, match):
    with pytest.raises(ValueError, match=match): softmax_explorer(**kwargs)

@pytest.mark.widget
def test_explorer_shows_the_value_a_slider_clamped():
    "A slider clamps a value set beyond its range; the label always shows the temperature actually used."
    ex = softmax_explorer()
    ex.temp_slider.value = 1e5
    assert ex.temp_slider.value == pytest.approx(100) and 'temperature 100' in ex.label.value
    ex.temp_slider.value = 1e-9
    assert ex.temp_slider.value == pytest.approx(0.01) and 'temperature 0.01' in ex.label.value

@pytest.mark.widget
def test_explorer_extremes_stay_finite_and_labelled():
    ex = softmax_explorer(logits=(10., -10., -10., -10.), temperature=0.01, target=1)
    assert math.isfinite(ex.loss) and ex.loss == pytest.approx(2000., rel=1e-6)
    assert 'diverged' not in ex.ax.get_title() and 'loss 2000.000' in ex.label.value

# ---------- no public loss or metric returns NaN (or a broadcast result) for the inputs above

NAN_LOGITS = torch.tensor([[1., NAN, 0.], [0., 1., 2.]])
NO_NAN_CASES = {
    'cross_entropy, NaN logits': lambda: cross_entropy(NAN_LOGITS, torch.tensor([0, 1])),
    'cross_entropy, soft targets, NaN logits': lambda: cross_entropy(NAN_LOGITS, torch.full((2, 3), 1 / 3)),
    'nll_loss, NaN log_probs': lambda: nll_loss(NAN_LOGITS - 5, torch.tensor([0, 1])),
    'cross_entropy, empty batch': lambda: cross_entropy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long)),
    'cross_entropy, every target ignored': lambda: cross_entropy(torch.randn(2, 3), torch.full((2,), -100)),
    'binary_cross_entropy, NaN probs': lambda: binary_cross_entropy(torch.tensor([NAN, 0.5]), torch.tensor([0., 1.])),
    'binary_cross_entropy_with_logits, NaN logits': lambda: binary_cross_entropy_with_logits(torch.tensor([NAN, 0.5]), torch.tensor([0., 1.])),
    'binary_cross_entropy_with_logits, +inf logits': lambda: binary_cross_entropy_with_logits(torch.tensor([math.inf]), torch.tensor([1.])),
    'binary_cross_entropy_with_logits, empty batch': lambda: binary_cross_entropy_with_logits(torch.zeros(0), torch.zeros(0)),
    'accuracy_multi, NaN pred': lambda: accuracy_multi(torch.tensor([[NAN, 1.]]), torch.ones(1, 2)),
    'accuracy_multi, empty batch': lambda: accuracy_multi(torch.zeros(0, 2), torch.zeros(0, 2)),
    'softmax_with_temperature, NaN logit': lambda: softmax_with_temperature([NAN, 1.], 1.),
    'Interpretation, NaN logits': lambda: Interpretation(torch.rand(2, 784), NAN_LOGITS, torch.tensor([0, 1])),
}

@pytest.mark.silent
@pytest.mark.parametrize('case', NO_NAN_CASES)
def test_no_public_loss_or_metric_returns_nan(case):
    "Where PyTorch's functions would return NaN, ours raise a ValueError that names the problem."
    with pytest.raises(ValueError, match='NaN|empty|ignore_index|inf'): NO_NAN_CASES[case]()

@pytest.mark.silent
def test_no_public_loss_broadcasts_mismatched_shapes():
    "(N,) against (N, 1) would broadcast to (N, N) in a hand-written loss; every public loss refuses it."
    with pytest.raises(ValueError, match='must match'): binary_cross_entropy_with_logits(torch.randn(5), torch.rand(5, 1))
    with pytest.raises(ValueError, match='must match'): binary_cross_entropy(torch.rand(5, 1), torch.rand(5))
    with pytest.raises(ValueError, match='should have shape'): cross_entropy(torch.randn(5, 3), torch.zeros(5, 1, dtype=torch.long))
    with pytest.raises(ValueError, match='target has'): accuracy_multi(torch.randn(5, 1), torch.ones(5))
