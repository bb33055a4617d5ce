"""The data lesson's exercise checks: each passes its reference solution, catches known-wrong solutions with the
intended hint, and reports a stub as not attempted."""
import pytest
import torch

from lessonlib.data import (check_collate, check_sortish_batches, check_split, check_digits_loaders, data_quiz, DataLoaders,
                            split_indices)

def stub(*args): raise NotImplementedError

# ---- references
def collate_ref(samples):
    xs, ys = zip(*samples)
    return torch.stack(xs), torch.stack(ys)

def sortish_ref(lengths, bs, generator):
    "Shuffle, sort chunks of 50 batches by length, cut into batches, shuffle the batches (as fastai's SortishSampler does)."
    lengths = torch.tensor(lengths)
    order = torch.randperm(len(lengths), generator=generator)
    order = torch.cat([c[lengths[c].argsort(descending=True, stable=True)] for c in order.split(50 * bs)])
    batches = order.split(bs)
    return [batches[i].tolist() for i in torch.randperm(len(batches), generator=generator)]

def sortish_full_sort(lengths, bs, generator):
    "A valid alternative: sort everything by length (ties broken at random), shuffle the batches."
    order = torch.randperm(len(lengths), generator=generator)
    order = order[torch.tensor(lengths)[order].argsort(stable=True)]
    batches = [order[i:i + bs] for i in range(0, len(order), bs)]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator)]

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

def sortish_random(lengths, bs, generator):
    "The lesson's shuffled batches: random, but blind to the lengths."
    order = torch.randperm(len(lengths), generator=generator).tolist()
    return [order[i:i + bs] for i in range(0, len(order), bs)]

def sortish_unshuffled(lengths, bs, generator):
    "Sorted by length (ties at random), the batches left in order of length."
    order = torch.randperm(len(lengths), generator=generator)
    order = order[torch.tensor(lengths)[order].argsort(stable=True)].tolist()
    return [order[i:i + bs] for i in range(0, len(order), bs)]

def sortish_global_rng(lengths, bs, generator): return sortish_ref(lengths, bs, None)

def sortish_fixed_seed(lengths, bs, generator): return sortish_ref(lengths, bs, torch.Generator().manual_seed(0))

def sortish_drop_last(lengths, bs, generator):
    return [b for b in sortish_ref(lengths, bs, generator) if len(b) == bs] or [[]]

def sortish_none(lengths, bs, generator): sortish_ref(lengths, bs, generator)

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
    (check_sortish_batches, sortish_ref, [(sortish_random, 'similar lengths'), (sortish_unshuffled, 'in order of length'),
                                          (sortish_global_rng, 'generator you were given'), (sortish_fixed_seed, 'Another seed'),
                                          (sortish_drop_last, 'exactly once'), (sortish_none, 'return')]),
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

def test_sortish_check_accepts_a_full_sort():
    "Sorting the whole epoch by length and shuffling the batches is a valid answer too."
    res = check_sortish_batches(sortish_full_sort)
    assert res.passed, res.message

def test_split_check_accepts_a_block_drawn_by_chance():
    "A random split of 7 samples may hold out a block such as {5, 6}; the check must not call that a mistake."
    def unlucky(n, valid_pct, seed):
        if n == 7: order = torch.tensor([0, 1, 2, 3, 4, 5, 6]) if seed == 1 else torch.tensor([6, 5, 4, 3, 2, 1, 0])
        else: order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        n_valid = round(n * valid_pct)
        return order[:n - n_valid], order[n - n_valid:]
    res = check_split(unlucky)
    assert res.passed, res.message

def test_digits_check_takes_the_notebooks_own_class():
    "In the notebook, DataLoaders is the notebook's class, not lessonlib's: the check must not insist on lessonlib's."
    class NotebookDataLoaders:
        device = torch.device('cpu')
        def __init__(self, train, valid): self.train, self.valid = train, valid
    ref = digits_ref()
    res = check_digits_loaders(lambda: NotebookDataLoaders(ref.train, ref.valid))
    assert res.passed, res.message

def test_quiz_has_eight_to_twelve_answerable_questions():
    quiz = data_quiz()
    assert 8 <= len(quiz.questions) <= 12
    for q in quiz.questions:
        if q.kind != 'open': assert q.feedback(q.answer)[0], q.text
