"""The RNN lesson's exercises (issue 15): every check passes its reference solution, catches known-wrong solutions with
the intended hint, and says 'not attempted' for the stub. The reference solutions live here, not in the notebook."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lessonlib.data import DataLoaders
from lessonlib.sgd import Learner, accuracy
from lessonlib.optimizers import fit_one_cycle
from lessonlib.rnn import (LMDataLoader, LSTMLM, ResetStateCallback, StatefulLM, check_clip_grad_norm, check_countdown_lm,
                           check_locked_dropout, check_lstm_step, check_stateful_forward, lm_loss, rnn_quiz)


def stub(*args, **kwargs): raise NotImplementedError  # what the learner finds in the notebook

# ---------- 1. one LSTM step

def lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh, order='ifgo', tanh_c=True, input_gate=True):
    gates = dict(zip(order, (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=-1)))
    i, f, g, o = torch.sigmoid(gates['i']), torch.sigmoid(gates['f']), torch.tanh(gates['g']), torch.sigmoid(gates['o'])
    c = f * c + (i * g if input_gate else g)
    return o * (torch.tanh(c) if tanh_c else c), c

def ref_lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh):
    i, f, g, o = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c

def test_lstm_step_reference_passes():
    assert check_lstm_step(ref_lstm_step).passed

@pytest.mark.parametrize('wrong, hint', [
    (dict(order='ifog'), "Yours reads i, f, o, g"),
    (dict(order='figo'), 'input and forget gates are swapped'),
    (dict(tanh_c=False), 'h should be o \\* tanh\\(c\\)'),
    (dict(input_gate=False), 'the input gate i scales the candidate g'),
])
def test_lstm_step_catches_mistakes(wrong, hint):
    result = check_lstm_step(lambda *a: lstm_step(*a, **wrong))
    assert result.status == 'failed'
    assert __import__('re').search(hint, result.message), result.message

def test_lstm_step_catches_detached_and_single_outputs():
    assert 'No gradient reaches' in check_lstm_step(lambda *a: tuple(t.detach() for t in ref_lstm_step(*a))).message
    assert 'Return a pair' in check_lstm_step(lambda *a: ref_lstm_step(*a)[0]).message

# ---------- 2. locked dropout

def ref_locked_dropout(x, p):
    mask = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1 - p) / (1 - p)
    return x * mask

@pytest.mark.parametrize('wrong, hint', [
    (lambda x, p: x * x.new_empty(x.shape).bernoulli_(1 - p) / (1 - p), 'draw the mask once per sequence'),
    (lambda x, p: x * x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1 - p), 'not scaled'),
    (lambda x, p: x * x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(p) / p if p else x, 'keep each with probability 1 - p'),
    (lambda x, p: x * x.new_empty(1, 1, x.shape[2]).bernoulli_(1 - p) / (1 - p), 'Every row drops the same units'),
])
def test_locked_dropout_catches_mistakes(wrong, hint):
    result = check_locked_dropout(wrong)
    assert result.status == 'failed' and hint in result.message, result.message

def test_locked_dropout_reference_passes():
    assert check_locked_dropout(ref_locked_dropout).passed

# ---------- 3. gradient clipping

def ref_clip(params, max_norm):
    grads = [p.grad for p in params if p.grad is not None]
    total = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    for g in grads: g.mul_(min(1., max_norm / (total.item() + 1e-6)))
    return total

def clip_per_tensor(params, max_norm):
    grads = [p.grad for p in params if p.grad is not None]
    total = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    for g in grads: g.mul_(min(1., max_norm / (g.norm().item() + 1e-6)))
    return total

def clip_always(params, max_norm):
    grads = [p.grad for p in params if p.grad is not None]
    total = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    for g in grads: g.mul_(max_norm / (total.item() + 1e-6))
    return total

def clip_values(params, max_norm):
    grads = [p.grad for p in params if p.grad is not None]
    total = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    for g in grads: g.clamp_(-max_norm, max_norm)
    return total

def clip_returns_after(params, max_norm):
    ref_clip(params, max_norm)
    return torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params if p.grad is not None]))

def clip_nan(params, max_norm):
    grads = [p.grad for p in params if p.grad is not None]
    total = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    if total > max_norm or total == 0:
        for g in grads: g.mul_(max_norm / total)
    return total

def test_clip_reference_passes():
    assert check_clip_grad_norm(ref_clip).passed

@pytest.mark.parametrize('wrong, hint', [(clip_per_tensor, 'Each tensor was clipped on its own'), (clip_always, 'already below max_norm'),
                                         (clip_values, 'clip_grad_value_'), (clip_returns_after, 'norm after clipping'),
                                         (clip_nan, 'NaN in the gradients')])
def test_clip_catches_mistakes(wrong, hint):
    result = check_clip_grad_norm(wrong)
    assert result.status == 'failed' and hint in result.message, result.message

# ---------- 4. a stateful forward pass

def ref_forward(model, x, detach=True, keep=True, restart=False, detach_out=False):
    h = model.h if (model.h is not None and not restart) else 0
    for t in range(x.shape[1]): h = F.relu(model.hidden(h + model.emb(x[:, t])))
    if keep: model.h = h.detach() if detach else h
    out = model.out(h)
    return out.detach() if detach_out else out

def test_stateful_forward_reference_passes():
    assert check_stateful_forward(ref_forward).passed

@pytest.mark.parametrize('wrong, hint', [(dict(detach=False), 'keep model.h = h.detach()'), (dict(keep=False), 'model.h is still None'),
                                         (dict(restart=True), 'Batch 2 starts from zero again'), (dict(detach_out=True), 'do not require gradients')])
def test_stateful_forward_catches_mistakes(wrong, hint):
    result = check_stateful_forward(lambda m, x: ref_forward(m, x, **wrong))
    assert result.status == 'failed' and hint in result.message, result.message

# ---------- 5. open: counting down

def ref_countdown(train_ids, valid_ids, vocab, epochs=5):
    dls = DataLoaders(LMDataLoader(train_ids, 64, 16, device='cpu'), LMDataLoader(valid_ids, 64, 16, device='cpu'))
    learn = Learner(dls, LSTMLM(len(vocab), 64, 2, lstm='torch'), lm_loss, opt_func=torch.optim.Adam, metrics=[accuracy],
                    cbs=[ResetStateCallback()], silent=True)
    fit_one_cycle(learn, epochs, 1e-2)
    return learn.model

def test_countdown_reference_passes(one_thread):
    result = check_countdown_lm(ref_countdown)
    assert result.passed, result.message

@pytest.mark.parametrize('wrong, hint', [
    (lambda tr, va, vocab: LSTMLM(len(vocab), 16, 1, lstm='torch'), 'it needs at least'),  # untrained
    (lambda tr, va, vocab: nn.Sequential(nn.Embedding(len(vocab), 8), nn.Linear(8, len(vocab))), 'with a reset() method'),
    (lambda tr, va, vocab: StatefulLM(len(vocab), 8), 'predict after every word'),
    (lambda tr, va, vocab: None, 'Return the trained model'),
])
def test_countdown_catches_mistakes(wrong, hint):
    result = check_countdown_lm(wrong)
    assert result.status == 'failed' and hint in result.message, result.message

# ---------- stubs and the quiz

@pytest.mark.parametrize('check', [check_lstm_step, check_locked_dropout, check_clip_grad_norm, check_stateful_forward, check_countdown_lm])
def test_stubs_are_not_attempted(check):
    result = check(stub)
    assert result.status == 'not attempted' and 'Not attempted yet' in result.message

def test_quiz_has_8_to_12_questions_with_answers():
    quiz = rnn_quiz()
    assert 8 <= len(quiz.questions) <= 12
    for q in quiz.questions:
        if q.kind == 'choice':
            assert q.feedback(q.answer)[0] and not q.feedback(next(o for o in q.options if o != q.answer))[0]
        elif q.kind == 'number': assert q.feedback(str(q.answer))[0]
    assert 'details' in quiz.markdown()
