"""The SGD lesson's exercise checks: each passes its reference solution, catches known mistakes with the intended hint,
and reports a stub left alone as 'not attempted'."""
import sys, types
from pathlib import Path
import pytest
import torch
import torch.nn.functional as F
from functools import partial

import lessonlib.sgd
from lessonlib.sgd import (Callback, CancelBatchException, CancelEpochException, CancelFitException, Learner, accuracy,
                           check_beats_logistic_regression, check_numerical_grad, check_sgd_step, check_stop_at_loss, mnist_dls,
                           sgd_quiz, two_layer_net, LogisticRegression)

def assert_fails_with(result, words):
    assert result.status == 'failed', result
    assert words in result.message, result.message

# ---------- 1. an SGD step

def sgd_step(params, lr):
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad.zero_()

def sgd_step_forgets_zero_grad(params, lr):
    with torch.no_grad():
        for p in params: p -= lr * p.grad

def sgd_step_outside_no_grad(params, lr):
    for p in params: p.sub_(lr * p.grad); p.grad.zero_()

def sgd_step_rebinds(params, lr):
    for p in params: p = p - lr * p.grad

def sgd_step_uphill(params, lr):
    with torch.no_grad():
        for p in params: p += lr * p.grad; p.grad = None

def sgd_step_grad_to_none(params, lr):
    with torch.no_grad():
        for p in params: p.sub_(lr * p.grad); p.grad = None

def test_sgd_step_reference_passes():
    assert check_sgd_step(sgd_step).passed
    assert check_sgd_step(sgd_step_grad_to_none).passed  # setting .grad to None clears it too

@pytest.mark.parametrize('wrong, words', [(sgd_step_forgets_zero_grad, 'the gradients are still there'),
                                          (sgd_step_outside_no_grad, 'torch.no_grad()'),
                                          (sgd_step_rebinds, 'The parameters did not change'),
                                          (sgd_step_uphill, 'moved up the gradient')])
def test_sgd_step_mistakes(wrong, words):
    assert_fails_with(check_sgd_step(wrong), words)

# ---------- 2. a finite-difference gradient

def numerical_grad(f, x, h=1e-3):
    grad = torch.zeros_like(x)
    flat = grad.view(-1)
    for i in range(x.numel()):
        e = torch.zeros(x.numel(), dtype=x.dtype); e[i] = h; e = e.view_as(x)
        flat[i] = (f(x + e) - f(x - e)) / (2 * h)
    return grad

def forward_difference(f, x, h=1e-3):
    grad = torch.zeros_like(x)
    for i in range(x.numel()):
        e = torch.zeros(x.numel(), dtype=x.dtype); e[i] = h
        grad.view(-1)[i] = (f(x + e.view_as(x)) - f(x)) / h
    return grad

def divides_by_h(f, x, h=1e-3):
    return 2 * numerical_grad(f, x, h)

def nudges_in_place(f, x, h=1e-3):
    grad = torch.zeros_like(x)
    for i in range(x.numel()):
        x.view(-1)[i] += h; up = f(x)
        x.view(-1)[i] -= 2 * h; down = f(x)
        grad.view(-1)[i] = (up - down) / (2 * h)  # and x is left h below where it was
    return grad

def nudges_in_place_and_restores(f, x, h=1e-3):
    "Nudging x itself and putting each entry back: the rounding of x + h - 2h + h must not count as changing x."
    grad = torch.zeros_like(x)
    for i in range(x.numel()):
        x.view(-1)[i] += h; up = f(x)
        x.view(-1)[i] -= 2 * h; down = f(x)
        x.view(-1)[i] += h
        grad.view(-1)[i] = (up - down) / (2 * h)
    return grad

def test_numerical_grad_reference_passes():
    assert check_numerical_grad(numerical_grad).passed
    assert check_numerical_grad(nudges_in_place_and_restores).passed

@pytest.mark.parametrize('wrong, words', [(forward_difference, 'centred difference'), (divides_by_h, 'Divide by 2h'),
                                          (nudges_in_place, 'changed `x`')])
def test_numerical_grad_mistakes(wrong, words):
    assert_fails_with(check_numerical_grad(wrong), words)

# ---------- 3. a callback that stops at a target

class StopAtLoss(Callback):
    def __init__(self, target): self.target = target
    def after_batch(self):
        if self.learn.training and self.learn.loss.item() < self.target: raise CancelFitException()

class StopsTheBatchOnly(StopAtLoss):
    def after_batch(self):
        if self.learn.training and self.learn.loss.item() < self.target: raise CancelBatchException()

class StopsTheEpochOnly(StopAtLoss):
    def after_batch(self):
        if self.learn.training and self.learn.loss.item() < self.target: raise CancelEpochException()

class CountsValidationBatches(StopAtLoss):
    def after_batch(self):
        if self.learn.loss.item() < self.target: raise CancelFitException()

class StopAtLossStub(Callback):
    def __init__(self, target): self.target = target
    def after_batch(self): raise NotImplementedError

def test_stop_at_loss_reference_passes():
    assert check_stop_at_loss(StopAtLoss).passed

def notebook_copy():
    "The module's code run into a namespace of its own, as the notebook runs it: its classes are not lessonlib.sgd's."
    copy = types.ModuleType('lessonlib.sgd_notebook_copy')
    copy.__package__ = 'lessonlib'  # for its relative imports of lessonlib.data
    sys.modules[copy.__name__] = copy
    exec(compile(Path(lessonlib.sgd.__file__).read_text(), copy.__name__, 'exec'), copy.__dict__)
    return copy

def test_stop_at_loss_written_in_the_notebook():
    "In the notebook, the learner's callback raises the notebook's own CancelFitException, which lessonlib.sgd's Learner would not catch."
    nb = notebook_copy()
    try:
        assert nb.CancelFitException is not CancelFitException
        class NotebookStopAtLoss(nb.Callback):
            def __init__(self, target): self.target = target
            def after_batch(self):
                if self.learn.training and self.learn.loss.item() < self.target: raise nb.CancelFitException()
        class NotebookStopsTheBatchOnly(NotebookStopAtLoss):
            def after_batch(self):
                if self.learn.training and self.learn.loss.item() < self.target: raise nb.CancelBatchException()
        class NotebookStopsTheEpochOnly(NotebookStopAtLoss):
            def after_batch(self):
                if self.learn.training and self.learn.loss.item() < self.target: raise nb.CancelEpochException()
        assert check_stop_at_loss(NotebookStopAtLoss).passed
        assert nb.check_stop_at_loss(StopAtLoss).passed  # and the notebook's own check (after Run All) with the module's classes
        assert_fails_with(check_stop_at_loss(NotebookStopsTheBatchOnly), 'raise CancelFitException')
        assert_fails_with(check_stop_at_loss(NotebookStopsTheEpochOnly), 'with CancelFitException')
    finally: del sys.modules['lessonlib.sgd_notebook_copy']

@pytest.mark.parametrize('wrong, words', [(StopsTheBatchOnly, 'raise CancelFitException'), (StopsTheEpochOnly, 'with CancelFitException'),
                                          (CountsValidationBatches, 'only training batches count')])
def test_stop_at_loss_mistakes(wrong, words):
    assert_fails_with(check_stop_at_loss(wrong), words)

# ---------- 4. open: beat logistic regression

def my_learner():
    torch.manual_seed(0)
    return Learner(mnist_dls(device='cpu'), two_layer_net(), F.cross_entropy, lr=0.5, metrics=[accuracy], silent=True)

def trained_already():
    learn = my_learner()
    learn.fit(5)  # and the check would train it 5 epochs more
    return learn

def logistic_regression_again():
    torch.manual_seed(0)
    return Learner(mnist_dls(device='cpu'), LogisticRegression(), F.cross_entropy, lr=0.2, silent=True)

def returns_the_model():
    return two_layer_net()

def test_open_exercise_reference_passes():
    result = check_beats_logistic_regression(my_learner)
    assert result.passed, result

def test_open_exercise_baseline_is_the_lessons_train_by_hand_run():
    "The bar is the epoch-4 row (after 5 epochs) of the lesson's train_by_hand printout: valid accuracy 0.876."
    from lessonlib.sgd import _baseline_accuracy
    assert round(_baseline_accuracy(), 3) == 0.876

def test_open_exercise_works_with_a_notebook_copy_of_the_learner():
    nb = notebook_copy()
    try:
        def notebook_learner():
            torch.manual_seed(0)
            return nb.Learner(nb.mnist_dls(device='cpu'), nb.two_layer_net(), F.cross_entropy, lr=0.5, silent=True)
        result = check_beats_logistic_regression(notebook_learner)
        assert result.passed, result
    finally: del sys.modules['lessonlib.sgd_notebook_copy']

@pytest.mark.parametrize('wrong, words', [(trained_already, 'Return the Learner untrained'), (logistic_regression_again, 'points better yet'),
                                          (returns_the_model, 'should return a Learner')])
def test_open_exercise_mistakes(wrong, words):
    assert_fails_with(check_beats_logistic_regression(wrong), words)

# ---------- stubs left alone

def stub(*args, **kwargs): raise NotImplementedError

@pytest.mark.parametrize('check, fn', [(check_sgd_step, stub), (check_numerical_grad, stub), (check_stop_at_loss, StopAtLossStub),
                                       (check_beats_logistic_regression, stub)])
def test_stubs_are_not_attempted(check, fn):
    result = check(fn)
    assert result.status == 'not attempted' and 'Not attempted yet' in result.message

def test_the_quiz_has_8_to_12_questions_with_answers():
    quiz = sgd_quiz()
    assert 8 <= len(quiz.questions) <= 12
    for q in quiz.questions:
        if q.kind != 'open': assert q.feedback(q.answer)[0]
    md = quiz.markdown()
    assert md.count('<details>') == len(quiz.questions)
