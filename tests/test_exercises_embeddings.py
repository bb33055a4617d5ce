"""The embeddings lesson's exercise checks and quiz: each check passes its reference solution, catches known-wrong
solutions with the intended hint, and reports a stub as not attempted."""
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from lessonlib.data import Question, Quiz
from lessonlib.embeddings import (DotProductBias, check_future_ratings, check_lookup_l2_grad, check_nearest, check_predict,
                                  collab_learner, embeddings_quiz, ratings_dls, sigmoid_range)
from lessonlib.optimizers import fit_one_cycle


pytestmark = pytest.mark.usefixtures('one_thread')  # conftest's fixture, for every test here

def stub(*args): raise NotImplementedError

def assert_fails(result, hint):
    assert result.status == 'failed', result
    assert hint in result.message, result.message

# ---------- 1. a prediction by hand

def predict_ref(uf, itf, ub, ib, users, items, y_range):
    return sigmoid_range((uf[users] * itf[items]).sum(-1) + ub[users] + ib[items], *y_range)

def predict_no_bias(uf, itf, ub, ib, users, items, y_range): return sigmoid_range((uf[users] * itf[items]).sum(-1), *y_range)
def predict_no_range(uf, itf, ub, ib, users, items, y_range): return (uf[users] * itf[items]).sum(-1) + ub[users] + ib[items]
def predict_bias_after(uf, itf, ub, ib, users, items, y_range):
    return sigmoid_range((uf[users] * itf[items]).sum(-1), *y_range) + ub[users] + ib[items]
def predict_fixed_range(uf, itf, ub, ib, users, items, y_range):
    return sigmoid_range((uf[users] * itf[items]).sum(-1) + ub[users] + ib[items], 0, 5.5)
def predict_times_hi(uf, itf, ub, ib, users, items, y_range):
    return torch.sigmoid((uf[users] * itf[items]).sum(-1) + ub[users] + ib[items]) * y_range[1]
def predict_matmul(uf, itf, ub, ib, users, items, y_range):
    return sigmoid_range(uf[users] @ itf[items].T + ub[users] + ib[items], *y_range)
def predict_detached(uf, itf, ub, ib, users, items, y_range):
    with torch.no_grad(): return predict_ref(uf, itf, ub, ib, users, items, y_range)

def test_predict_reference_passes():
    result = check_predict(predict_ref)
    assert result.passed, result

@pytest.mark.parametrize('wrong, hint', [
    (predict_no_bias, 'The biases are missing'),
    (predict_no_range, 'Nothing keeps the prediction in range'),
    (predict_bias_after, 'The biases are added after sigmoid_range'),
    (predict_fixed_range, 'The range is fixed at (0, 5.5)'),
    (predict_times_hi, 'forgets the low end'),
    (predict_matmul, 'every user against every item'),
    (predict_detached, 'No gradient reaches the tables'),
])
def test_predict_catches_mistakes(wrong, hint):
    assert_fails(check_predict(wrong), hint)

def test_predict_agrees_with_dot_product_bias():
    "The reference of the check is DotProductBias's own forward, with its bias tables as vectors."
    model = DotProductBias(7, 9, 4, std=0.5)
    with torch.no_grad(): model.user_bias.weight.normal_(); model.item_bias.weight.normal_()
    u, i = torch.tensor([0, 6, 6, 2]), torch.tensor([8, 1, 1, 0])
    tables = (model.user_factors.weight, model.item_factors.weight, model.user_bias.weight[:, 0], model.item_bias.weight[:, 0])
    torch.testing.assert_close(predict_ref(*tables, u, i, model.y_range), model(u, i))

# ---------- 2. the gradient LookupL2 adds

def l2_grad_ref(weight, idx, wd):
    grad = torch.zeros_like(weight)
    return grad.index_add_(0, idx, 2 * wd * weight[idx] / len(idx))

def l2_grad_assign(weight, idx, wd):
    grad = torch.zeros_like(weight); grad[idx] = 2 * wd * weight[idx] / len(idx); return grad
def l2_grad_no_two(weight, idx, wd): return l2_grad_ref(weight, idx, wd) / 2
def l2_grad_sum(weight, idx, wd): return l2_grad_ref(weight, idx, wd) * len(idx)
def l2_grad_all_rows(weight, idx, wd): return 2 * wd * weight / len(idx)

def test_lookup_l2_reference_passes():
    result = check_lookup_l2_grad(l2_grad_ref)
    assert result.passed, result

@pytest.mark.parametrize('wrong, hint', [
    (l2_grad_assign, 'A row looked up twice must get its gradient twice'),
    (l2_grad_no_two, 'The factor 2 is missing'),
    (l2_grad_sum, 'The mean over the batch is missing'),
    (l2_grad_all_rows, 'Every row of the table is decayed'),
])
def test_lookup_l2_catches_mistakes(wrong, hint):
    assert_fails(check_lookup_l2_grad(wrong), hint)

# ---------- 3. nearest neighbours

def nearest_ref(factors, row, k):
    sims = F.normalize(factors, dim=1) @ F.normalize(factors[row], dim=0)
    sims[row] = -float('inf')
    return sims.topk(k).indices

def nearest_with_self(factors, row, k): return (F.normalize(factors, dim=1) @ F.normalize(factors[row], dim=0)).topk(k).indices
def nearest_by_dot(factors, row, k):
    s = factors @ factors[row]; s[row] = -float('inf'); return s.topk(k).indices
def nearest_by_distance(factors, row, k):
    d = (factors - factors[row]).norm(dim=1); d[row] = float('inf'); return (-d).topk(k).indices
def nearest_least(factors, row, k):
    s = F.cosine_similarity(factors[row][None], factors, dim=-1); s[row] = float('inf'); return (-s).topk(k).indices
def nearest_tuple(factors, row, k):
    s = F.cosine_similarity(factors[row][None], factors, dim=-1); s[row] = -2; top = s.topk(k); return top.indices, top.values

def test_nearest_reference_passes():
    result = check_nearest(nearest_ref)
    assert result.passed, result

@pytest.mark.parametrize('wrong, hint', [
    (nearest_with_self, 'The row itself is in the list'),
    (nearest_by_dot, 'Ranked by the dot product'),
    (nearest_by_distance, 'Ranked by Euclidean distance'),
    (nearest_least, 'These are the least similar rows'),
    (nearest_tuple, 'Return only the indices'),
])
def test_nearest_catches_mistakes(wrong, hint):
    assert_fails(check_nearest(wrong), hint)

# ---------- 4. predict the future (open exercise, checked by its outcome)

def future_ref(train, test):
    "DotProductBias with lookup L2; users and movies absent from train get the average learned row and bias."
    dls = ratings_dls(train, valid_pct=0.1, bs=512, device='cpu')
    learn = collab_learner(DotProductBias(len(dls.users), len(dls.items), 50), dls=dls, lookup_l2=0.05)
    fit_one_cycle(learn, 5, 5e-3)
    m = learn.model
    with torch.no_grad():
        def table(emb): return torch.cat([emb.weight, emb.weight.mean(0, keepdim=True)])
        U, I, Ub, Ib = table(m.user_factors), table(m.item_factors), table(m.user_bias)[:, 0], table(m.item_bias)[:, 0]
        u, i = torch.tensor(dls.users.get_indexer(test.user)), torch.tensor(dls.items.get_indexer(test.item))
        u[u < 0], i[i < 0] = len(U) - 1, len(I) - 1
        return sigmoid_range((U[u] * I[i]).sum(-1) + Ub[u] + Ib[i], *m.y_range)

def future_mean(train, test): return np.full(len(test), train.rating.mean())

def future_new_users_in_the_middle(train, test):
    "Each movie's average for known users, the middle of y_range (what zero factors and bias give) for new ones."
    pred = test.item.map(train.groupby('item').rating.mean()).fillna(train.rating.mean()).to_numpy()
    return np.where(test.user.isin(train.user), pred, 2.75)

def future_nan_for_new(train, test):
    pred = test.item.map(train.groupby('item').rating.mean()).fillna(train.rating.mean()).to_numpy()
    return np.where(test.user.isin(train.user), pred, np.nan)

def future_lookup_raw(train, test):
    "Looks new users up as row -1, which the model refuses."
    dls = ratings_dls(train, device='cpu')
    model = DotProductBias(len(dls.users), len(dls.items), 4)
    return model(torch.tensor(dls.users.get_indexer(test.user)), torch.tensor(dls.items.get_indexer(test.item)))

def future_short(train, test): return np.zeros(10)

def test_future_reference_passes():
    result = check_future_ratings(future_ref)
    assert result.passed, result
    assert "each movie's average" in result.message

@pytest.mark.parametrize('wrong, hint', [
    (future_mean, 'no better than predicting the training mean'),
    (future_new_users_in_the_middle, 'New users pull the score down'),
    (future_nan_for_new, 'NaN or infinite'),
    (future_lookup_raw, 'the cold start'),
    (future_short, 'One prediction per row of test'),
])
def test_future_catches_mistakes(wrong, hint):
    assert_fails(check_future_ratings(wrong), hint)

def test_future_test_frame_hides_the_ratings():
    seen = {}
    def spy(train, test): seen['columns'] = list(test.columns); raise NotImplementedError
    check_future_ratings(spy)
    assert seen['columns'] == ['user', 'item', 'timestamp']

# ---------- stubs and quiz

@pytest.mark.parametrize('check', [check_predict, check_lookup_l2_grad, check_nearest, check_future_ratings])
def test_stub_is_not_attempted(check):
    result = check(stub)
    assert result.status == 'not attempted' and not result.passed

def test_quiz_has_eight_to_twelve_questions_with_answers():
    quiz = embeddings_quiz()
    assert isinstance(quiz, Quiz) and 8 <= len(quiz.questions) <= 12
    kinds = {q.kind for q in quiz.questions}
    assert {'choice', 'number', 'open'} <= kinds
    for q in quiz.questions:
        ok, _ = q.feedback(q.answer)
        assert ok, q.text
        if q.kind == 'choice':
            wrong = next(o for o in q.options if o != q.answer)
            ok, message = q.feedback(wrong)
            assert not ok and message != 'Not quite. Look at the options again.', q.text  # each wrong option has its feedback
    assert '<details>' in quiz.markdown()

def test_quiz_numbers_are_the_lessons():
    quiz = embeddings_quiz()
    params = next(q for q in quiz.questions if 'parameters' in q.text)
    assert params.answer == sum(p.numel() for p in DotProductBias(943, 1682, 50).parameters())
    bias = next(q for q in quiz.questions if 'bias of +0.5' in q.text)
    assert abs(bias.answer - sigmoid_range(torch.tensor(0.5), 0, 5.5).item()) < 0.005
