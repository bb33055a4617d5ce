"""The weight-decay lesson's exercise checks: each passes its reference solution, catches known-wrong solutions with
the intended hint, and reports a stub as not attempted; the quiz is well formed. The recommender check trains on MovieLens:
its tests run one seed each, with collab_learner's fused AdamW, on one torch thread."""

import pytest
import torch
from torch import nn

from lessonlib.embeddings import DotProductBias, collab_learner
from lessonlib.sgd import Learner, mse
from lessonlib.weight_decay import (check_decay_split, check_l2_penalty, check_regularised_recommender, check_sgdw_step,
                                    weight_decay_quiz)

pytestmark = pytest.mark.usefixtures('one_thread')  # conftest's fixture, for every test here

def stub(*args): raise NotImplementedError

# ---- references
def l2_ref(params, wd): return wd * sum((p ** 2).sum() for p in params)

def sgdw_ref(w, grad, buf, lr, momentum, wd):
    new_buf = momentum * buf + grad
    return w * (1 - lr * wd) - lr * new_buf, new_buf

def split_ref(model):
    norms = (nn.BatchNorm1d, nn.LayerNorm)
    decayed, kept = [], []
    for m in model.modules():
        for p in m.parameters(recurse=False):
            if not p.requires_grad: continue
            keep = isinstance(m, norms) or p.ndim <= 1 or (p.ndim == 2 and p.shape[1] == 1 and not isinstance(m, nn.Linear))
            (kept if keep else decayed).append(p)
    return decayed, kept

def collab(dls, wd, lr):
    "Lesson 02's collab_learner over the given dls, at a constant learning rate `lr`."
    learn = collab_learner(DotProductBias(len(dls.users), len(dls.items), 50), dls=dls, wd=wd)
    learn.lr = lr
    return learn

def recommender_ref(dls): return collab(dls, wd=0.3, lr=5e-3)

# ---- known-wrong versions
def l2_abs(params, wd): return wd * sum(p.abs().sum() for p in params)
def l2_mean(params, wd): return wd * sum((p ** 2).mean() for p in params)
def l2_half(params, wd): return wd / 2 * sum((p ** 2).sum() for p in params)
def l2_norm(params, wd): return wd * torch.sqrt(sum((p ** 2).sum() for p in params))
def l2_detached(params, wd): return wd * sum((p.detach() ** 2).sum().item() for p in params)
def l2_stacked(params, wd): return wd * torch.stack([(p ** 2).sum() for p in params]).sum()  # fails on an empty list

def sgdw_coupled(w, grad, buf, lr, momentum, wd):
    new_buf = momentum * buf + grad + wd * w
    return w - lr * new_buf, new_buf

def sgdw_decay_after(w, grad, buf, lr, momentum, wd):
    new_buf = momentum * buf + grad
    return (w - lr * new_buf) * (1 - lr * wd), new_buf

def sgdw_no_lr(w, grad, buf, lr, momentum, wd):
    new_buf = momentum * buf + grad
    return w * (1 - wd) - lr * new_buf, new_buf

def sgdw_ewma(w, grad, buf, lr, momentum, wd):
    new_buf = momentum * buf + (1 - momentum) * grad
    return w * (1 - lr * wd) - lr * new_buf, new_buf

def sgdw_old_buffer(w, grad, buf, lr, momentum, wd):
    new_buf = momentum * buf + grad
    return w * (1 - lr * wd) - lr * new_buf, buf

def split_everything(model):
    return [p for p in model.parameters() if p.requires_grad], []

def split_nn_embedding_only(model):
    "The bug issue 13 found in decay_groups: only nn.Embedding is recognised as a table."
    decayed, kept = [], []
    for m in model.modules():
        for p in m.parameters(recurse=False):
            if not p.requires_grad: continue
            keep = isinstance(m, (nn.BatchNorm1d, nn.LayerNorm)) or p.ndim <= 1 or (isinstance(m, nn.Embedding) and p.shape[1] == 1)
            (kept if keep else decayed).append(p)
    return decayed, kept

def split_by_name(model):
    decayed = [p for n, p in model.named_parameters() if p.requires_grad and 'bias' not in n]
    return decayed, [p for n, p in model.named_parameters() if p.requires_grad and 'bias' in n]

def split_with_frozen(model):
    decayed, kept = split_ref(model)
    return decayed + [p for p in model.parameters() if not p.requires_grad], kept

def recommender_no_decay(dls): return collab(dls, wd=0., lr=1e-2)
def recommender_too_much(dls): return collab(dls, wd=10., lr=1e-2)
class PlainDot(nn.Module):
    "User factors times item factors with no squashing, so a large enough step sends the loss to infinity."
    def __init__(self, n_users, n_items, k=8):
        super().__init__(); self.users, self.items = nn.Embedding(n_users, k), nn.Embedding(n_items, k)
    def forward(self, users, items): return (self.users(users) * self.items(items)).sum(-1)

def recommender_diverges(dls): return Learner(dls, PlainDot(len(dls.users), len(dls.items)), mse, lr=1e3, silent=True)

def recommender_model_only(dls): return DotProductBias(len(dls.users), len(dls.items), 50)

# ---- the checks

def test_l2_penalty_check():
    assert check_l2_penalty(l2_ref).passed
    for wrong, words in ((l2_abs, 'L1 penalty'), (l2_mean, 'averaged the squares'), (l2_half, 'half the penalty'),
                         (l2_norm, 'drop the square root'), (l2_detached, 'carries no gradient'),
                         (l2_stacked, 'empty group')):
        result = check_l2_penalty(wrong)
        assert result.status == 'failed' and words in result.message, (wrong.__name__, result.message)
    assert check_l2_penalty(stub).status == 'not attempted'

def test_sgdw_step_check():
    assert check_sgdw_step(sgdw_ref).passed
    for wrong, words in ((sgdw_coupled, 'which is L2 (coupled)'), (sgdw_decay_after, 'decayed after the step'),
                         (sgdw_no_lr, 'missing the learning rate'), (sgdw_ewma, 'buffer is an average'),
                         (sgdw_old_buffer, 'not the old one')):
        result = check_sgdw_step(wrong)
        assert result.status == 'failed' and words in result.message, (wrong.__name__, result.message)
    assert check_sgdw_step(stub).status == 'not attempted'

def test_decay_split_check():
    assert check_decay_split(split_ref).passed
    for wrong, words in ((split_everything, 'normalisation parameters'), (split_nn_embedding_only, 'width-1 bias tables'),
                         (split_by_name, 'normalisation parameters'), (split_with_frozen, 'frozen')):
        result = check_decay_split(wrong)
        assert result.status == 'failed' and words in result.message, (wrong.__name__, result.message)
    assert check_decay_split(stub).status == 'not attempted'

def test_regularised_recommender_check():
    result = check_regularised_recommender(recommender_ref, seeds=(0,))
    assert result.passed, result.message
    for wrong, words in ((recommender_no_decay, 'overfits'), (recommender_too_much, 'underfits'), (recommender_model_only, 'Return a Learner')):
        result = check_regularised_recommender(wrong, seeds=(0,))
        assert result.status == 'failed' and words in result.message, (wrong.__name__, result.message)
    assert check_regularised_recommender(stub).status == 'not attempted'

def test_recommender_check_restores_the_thread_count_and_reports_divergence_as_a_hint():
    torch.set_num_threads(2)
    result = check_regularised_recommender(recommender_diverges, epochs=1, seeds=(0,))
    assert torch.get_num_threads() == 2
    assert result.status == 'failed' and 'training diverged' in result.message and 'learning rate' in result.message, result.message

def test_quiz_has_questions_of_every_kind_with_answers():
    quiz = weight_decay_quiz()
    assert 8 <= len(quiz.questions) <= 12
    assert {q.kind for q in quiz.questions} == {'choice', 'number', 'open'}
    for q in quiz.questions:
        if q.kind != 'open': assert q.feedback(q.answer)[0]
        if q.kind == 'choice':
            for wrong in q.options:
                if wrong != q.answer: assert not q.feedback(wrong)[0] and q.why.get(wrong)
    assert 'details' in quiz.markdown()
