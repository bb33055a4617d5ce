"""The data lesson's exercise checks: each passes its reference solution, catches known-wrong solutions with the
intended hint, and reports a stub as not attempted."""
import pytest
import torch

from lessonlib.data import (check_collate, check_batch_indices, check_split, check_digits_loaders, data_quiz, DataLoaders,
                            split_indices)

def stub(*args): raise NotImplementedError

# ---- references
def collate_ref(samples):
    xs, ys = zip(*samples)
    return torch.stack(xs), torch.stack(ys)

def batch_indices_ref(n, bs, generator):
    order = torch.randperm(n, generator=generator).tolist()
    return [order[i:i + bs] for i in range(0, n, bs)]

def split_ref(n, valid_pct, seed):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_valid = round(n * valid_pct)
    return order[n_valid:], order[:n_valid]

def digits_ref():
    from sklearn.datasets import load_digits
    d = load_digits()
    x, y = torch.tensor(d.data, dtype=torch.float32) / 16, torch.tensor(d.target)
    g = torch.Generator().manual_seed(0)
    valid = torch.cat([idx[torch.randperm(len(idx), generator=g)][:round(0.2 * len(idx))]
                       for idx in (torch.where(y == c)[0] for c in range(10))])
    train = torch.tensor(sorted(set(range(len(y))) - set(valid.tolist())))
    return DataLoaders.from_tensors((x[train], y[train]), (x[valid], y[valid]), bs=32, seed=0, device='cpu')

# ---- known-wrong versions
def collate_cat(samples):
    xs, ys = zip(*samples)
    return torch.cat(xs), torch.cat(ys)

def collate_swapped(samples):
    xs, ys = zip(*samples)
    return torch.stack(ys), torch.stack(xs)

def collate_unstacked(samples): return samples

def batches_drop_last(n, bs, generator):
    order = torch.randperm(n, generator=generator).tolist()
    return [order[i:i + bs] for i in range(0, n - n % bs if n >= bs else 0, bs)] or [order] * 0

def batches_in_order(n, bs, generator): return [list(range(n))[i:i + bs] for i in range(0, n, bs)]

def batches_global_rng(n, bs, generator):
    order = torch.randperm(n).tolist()
    return [order[i:i + bs] for i in range(0, n, bs)]

def split_last_rows(n, valid_pct, seed):
    n_valid = round(n * valid_pct)
    return torch.arange(n - n_valid), torch.arange(n - n_valid, n)

def split_overlapping(n, valid_pct, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.arange(n), torch.randint(0, n, (round(n * valid_pct),), generator=g)

def split_unseeded(n, valid_pct, seed):
    order = torch.randperm(n)
    n_valid = round(n * valid_pct)
    return order[n_valid:], order[:n_valid]

def digits_unscaled():
    from sklearn.datasets import load_digits
    d = load_digits()
    return DataLoaders.from_split(torch.tensor(d.data, dtype=torch.float32), torch.tensor(d.target), valid_pct=0.2, seed=0, device='cpu')

def digits_misaligned():
    dls = digits_ref()
    dls.train.tensors[1] = dls.train.tensors[1][torch.randperm(dls.train.n, generator=torch.Generator().manual_seed(1))]
    return dls

def digits_not_stratified():
    from sklearn.datasets import load_digits
    d = load_digits()
    x, y = torch.tensor(d.data, dtype=torch.float32) / 16, torch.tensor(d.target)
    order = torch.argsort(y, stable=True)  # sorted by digit: the last 20% are mostly 8s and 9s
    x, y = x[order], y[order]
    return DataLoaders.from_tensors((x[:1437], y[:1437]), (x[1437:], y[1437:]), device='cpu')

CASES = [
    (check_collate, collate_ref, [(collate_cat, 'torch.stack'), (collate_swapped, 'swapped'), (collate_unstacked, 'pair of tensors')]),
    (check_batch_indices, batch_indices_ref, [(batches_drop_last, 'last, shorter batch'), (batches_in_order, 'in order'),
                                              (batches_global_rng, 'generator you were given')]),
    (check_split, split_ref, [(split_last_rows, 'at random'), (split_overlapping, 'both sets'), (split_unseeded, 'same seed')]),
    (check_digits_loaders, digits_ref, [(digits_unscaled, 'divide the grey levels'), (digits_misaligned, 'aligned'),
                                         (digits_not_stratified, 'stratify')]),
]

@pytest.mark.parametrize('check, ref, wrongs', CASES, ids=[c[0].__name__ for c in CASES])
def test_check_passes_reference_and_names_mistakes(check, ref, wrongs):
    assert check(stub).status == 'not attempted'
    res = check(ref)
    assert res.passed, res.message
    for wrong, hint in wrongs:
        res = check(wrong)
        assert res.status == 'failed' and hint in res.message, (wrong.__name__, res.message)

def test_quiz_has_eight_to_twelve_answerable_questions():
    quiz = data_quiz()
    assert 8 <= len(quiz.questions) <= 12
    for q in quiz.questions:
        if q.kind != 'open': assert q.feedback(q.answer)[0], q.text
