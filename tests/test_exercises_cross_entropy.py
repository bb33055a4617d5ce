"""The cross-entropy lesson's exercise checks: each passes its reference solution, catches known-wrong solutions with the
hint aimed at their mistake, and reports a stub as 'not attempted'. The reference solutions live only here."""
import pytest
import torch
import torch.nn.functional as F
from functools import partial
from torch import nn

from lessonlib.cross_entropy import (check_log_softmax, check_cross_entropy, check_bce_with_logits, check_label_smoothing,
                                     check_rare_eight, cross_entropy, cross_entropy_quiz)
from lessonlib.data import DataLoaders, Quiz

def stub(*args): raise NotImplementedError  # your code here

ALL_CHECKS = [check_log_softmax, check_cross_entropy, check_bce_with_logits, check_label_smoothing, check_rare_eight]

@pytest.mark.parametrize('check', ALL_CHECKS)
def test_stub_is_not_attempted(check):
    result = check(stub)
    assert result.status == 'not attempted' and 'Not attempted yet' in result.message

def failed_with(result, words):
    assert result.status == 'failed', result
    assert words in result.message, result.message

# ---------- 1. log-softmax

def log_softmax_ref(x):
    m = x.max(-1, keepdim=True).values
    shifted = x - m
    return shifted - shifted.exp().sum(-1, keepdim=True).log()

def test_log_softmax_reference_passes():
    assert check_log_softmax(log_softmax_ref).passed

@pytest.mark.parametrize('wrong, words', [
    (lambda x: (x.exp() / x.exp().sum(-1, keepdim=True)).log(), 'exp(1000) overflows'),
    (lambda x: torch.softmax(x, -1).log(), 'compute x - logsumexp(x)'),
    (lambda x: log_softmax_ref(x.transpose(0, -1)).transpose(0, -1) if x.dim() > 1 else log_softmax_ref(x),
     'not over the batch'),
    (lambda x: torch.softmax(x, -1), 'Your result is the softmax itself'),
    (lambda x: x - x.max(-1, keepdim=True).values, 'stopped there'),
    (lambda x: x - x.logsumexp(-1, keepdim=True).detach(), 'only the maximum may be detached'),
    (lambda x: torch.tensor(torch.log_softmax(x, -1).tolist()), 'carries no gradient'),
])
def test_log_softmax_mistakes_are_named(wrong, words):
    failed_with(check_log_softmax(wrong), words)

# ---------- 2. cross-entropy

def cross_entropy_ref(logits, target):
    return -log_softmax_ref(logits)[torch.arange(len(target)), target].mean()

def test_cross_entropy_reference_passes():
    assert check_cross_entropy(cross_entropy_ref).passed
    assert check_cross_entropy(cross_entropy).passed  # the lesson's own

@pytest.mark.parametrize('wrong, words', [
    (lambda x, y: cross_entropy_ref(torch.softmax(x, 1), y), 'softmaxes the logits a second time'),
    (lambda x, y: -x[torch.arange(len(y)), y].log().mean(), 'took the log of the logits'),
    (lambda x, y: -x[torch.arange(len(y)), y].mean(), 'never normalised'),
    (lambda x, y: cross_entropy_ref(x, y) * len(y), 'rather than summing'),
    (lambda x, y: -cross_entropy_ref(x, y), 'wrong sign'),
    (lambda x, y: -log_softmax_ref(x)[:, y].mean(), 'log_probs[:, target] takes every'),
    (lambda x, y: -((x.exp() / x.exp().sum(1, keepdim=True)).log())[torch.arange(len(y)), y].mean(), 'exp(1000) overflows'),
    (lambda x, y: cross_entropy_ref(x, y).detach(), 'carries no gradient'),
])
def test_cross_entropy_mistakes_are_named(wrong, words):
    failed_with(check_cross_entropy(wrong), words)

# ---------- 3. binary cross-entropy from logits

def bce_ref(x, y):
    return ((1 - y) * x + x.neg().clamp(min=0) + torch.log1p(torch.exp(-x.abs()))).mean()

def test_bce_reference_passes():
    assert check_bce_with_logits(bce_ref).passed

@pytest.mark.parametrize('wrong, words', [
    (lambda x, y: -(y * torch.sigmoid(x).log() + (1 - y) * (1 - torch.sigmoid(x)).log()).mean(), 'sigmoid(40) rounds to exactly 1.0'),
    (lambda x, y: F.binary_cross_entropy(torch.sigmoid(x), y), 'sigmoid(40) rounds to exactly 1.0'),
    (lambda x, y: ((1 - y) * x + torch.log(1 + torch.exp(-x))).mean(), 'log(1 + exp(-x)) overflows'),
    (lambda x, y: (y * x + x.neg().clamp(min=0) + torch.log1p(torch.exp(-x.abs()))).mean(), 'The terms are swapped'),
    (lambda x, y: bce_ref(x, y) * y.numel(), 'rather than summing'),
])
def test_bce_mistakes_are_named(wrong, words):
    failed_with(check_bce_with_logits(wrong), words)

# ---------- 4. label smoothing

def label_smoothing_ref(logits, target, eps):
    lp = log_softmax_ref(logits)
    nll = -lp[torch.arange(len(target)), target]
    return ((1 - eps) * nll - eps / logits.shape[1] * lp.sum(1)).mean()

def test_label_smoothing_reference_passes():
    assert check_label_smoothing(label_smoothing_ref).passed

def smoothing_over_others(logits, target, eps):
    lp = log_softmax_ref(logits)
    nll = -lp[torch.arange(len(target)), target]
    return ((1 - eps) * nll + eps / (logits.shape[1] - 1) * (-lp.sum(1) - nll)).mean()

@pytest.mark.parametrize('wrong, words', [
    (smoothing_over_others, 'over the C - 1 others'),
    (lambda x, y, eps: (cross_entropy_ref(x, y) * 1 - eps / x.shape[1] * log_softmax_ref(x).sum(1).mean()), 'scale the plain loss by (1 - eps)'),
    (lambda x, y, eps: (1 - eps) * cross_entropy_ref(x, y) - eps * log_softmax_ref(x).sum(1).mean(), 'divide the smoothing term'),
    (lambda x, y, eps: (1 - eps) * cross_entropy_ref(x, y) - eps / x.shape[1] * torch.softmax(x, 1).sum(1).mean(), 'not probabilities'),
    (lambda x, y, eps: cross_entropy_ref(x, y), 'Wrong value for eps=0.1'),
])
def test_label_smoothing_mistakes_are_named(wrong, words):
    failed_with(check_label_smoothing(wrong), words)

# ---------- 5. the rare eight (open, checked by its outcome)

def train_digits(x, y, weight=None, n_epoch=5):
    "A 784-128-10 net trained with plain PyTorch (SGD with momentum) on (x, y); the learner may use anything."
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    dls = DataLoaders.from_tensors((x, y), (x[:64], y[:64]), bs=64, device='cpu')
    for _ in range(n_epoch):
        for xb, yb in dls.train:
            loss = cross_entropy(model(xb), yb, weight=weight); loss.backward(); opt.step(); opt.zero_grad()
    return model

def rare_eight_ref(x, y):
    "Train plainly, then correct the scores for the skewed class counts (subtract the log of each class's share)."
    model = train_digits(x, y)
    log_prior = torch.bincount(y, minlength=10).float().div(len(y)).log()
    return lambda images: model(images) - log_prior

def test_rare_eight_reference_passes():
    result = check_rare_eight(rare_eight_ref)
    assert result.passed, result

def test_rare_eight_plain_training_misses_the_eights():
    failed_with(check_rare_eight(lambda x, y: train_digits(x, y)), 'it has learned that an 8 is rare')

def test_rare_eight_always_eight_fails_on_accuracy():
    failed_with(check_rare_eight(lambda x, y: lambda images: F.one_hot(torch.full((len(images),), 8), 10).float()),
                'of all images an 8')

def test_rare_eight_wrong_returns_are_named():
    failed_with(check_rare_eight(lambda x, y: 0.9), 'Return a function (or a model)')
    failed_with(check_rare_eight(lambda x, y: lambda images: images[:, :5]), 'scores of shape (1000, 10)')

# ---------- the quiz

def test_quiz_has_8_to_12_questions_with_answers():
    quiz = cross_entropy_quiz()
    assert isinstance(quiz, Quiz) and 8 <= len(quiz.questions) <= 12
    kinds = {q.kind for q in quiz.questions}
    assert {'choice', 'number', 'open'} <= kinds
    for q in quiz.questions:
        if q.kind != 'open': assert q.feedback(q.answer)[0], q.text
    assert quiz.markdown().count('<details>') == len(quiz.questions)
