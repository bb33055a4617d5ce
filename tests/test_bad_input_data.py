"""Bad input to lessonlib.data (issue 16): every case asserts the exception type and that the message names the
argument or the problem. Cases are grouped by kind with the markers of conftest.py."""
import numpy as np
import pytest
import torch

from lessonlib.data import (DataLoaders, TensorLoader, split_indices, set_seed, human_numbers, movielens_100k,
                            mnist_sample, number_words, over_seeds, compare_seeds, check_number, check_keywords,
                            check_list, check_tensor, check_choice, check_type, require, Question)

x10 = torch.arange(10.)

@pytest.mark.wrong_kind
@pytest.mark.parametrize('call, exc, words', [
    (lambda: set_seed('42'), TypeError, r"seed: got '42', expected an integer"),
    (lambda: set_seed(4.2), TypeError, 'seed: got 4.2'),
    (lambda: TensorLoader([1, 2, 3]), TypeError, 'TensorLoader takes tensors'),
    (lambda: TensorLoader(x10, bs=4.0), TypeError, 'bs: got 4.0, expected an integer >= 1'),
    (lambda: DataLoaders.from_tensors(x10, (x10,)), TypeError, 'train: got a tensor of shape'),
    (lambda: DataLoaders.from_tensors((x10,), 'valid'), TypeError, 'valid: got .valid., expected a tuple of tensors'),
    (lambda: DataLoaders.from_split([1, 2, 3]), TypeError, 'takes tensors'),
    (lambda: check_list('metrics', len), TypeError, r'Wrap it in a list: metrics=\[len\]'),
    (lambda: check_type('model', 3, torch.nn.Module), TypeError, 'model: got 3, expected a Module'),
    (lambda: over_seeds(lambda s: 1.0, seeds=['a']), ValueError, 'invalid literal'),
])
def test_wrong_kinds(call, exc, words):
    with pytest.raises(exc, match=words): call()

@pytest.mark.bad_value
@pytest.mark.parametrize('call, exc, words', [
    (lambda: TensorLoader(x10, bs=0), ValueError, 'bs: got 0, expected an integer >= 1'),
    (lambda: TensorLoader(x10, bs=-5), ValueError, 'bs: got -5'),
    (lambda: TensorLoader(torch.zeros(0)), ValueError, 'no samples'),
    (lambda: TensorLoader(torch.zeros(3), torch.zeros(4)), ValueError, 'same length'),
    (lambda: TensorLoader(), ValueError, 'at least one tensor'),
    (lambda: split_indices(10, 0), ValueError, 'valid_pct: got 0'),
    (lambda: split_indices(10, 1.5), ValueError, r'valid_pct: got 1.5, expected a number in \(0, 1\)'),
    (lambda: split_indices(10, float('nan')), ValueError, 'valid_pct: got nan'),
    (lambda: split_indices(1, 0.5), ValueError, 'at least two samples'),
    (lambda: number_words(0), ValueError, '1..9999'),
    (lambda: number_words(10_000), ValueError, '1..9999'),
    (lambda: human_numbers(valid_pct=0), ValueError, 'valid_pct'),
    (lambda: check_number('lr', float('inf'), low=0), ValueError, 'lr: got inf'),
    (lambda: check_tensor('x', torch.tensor([1., float('nan')]), finite=True), ValueError, 'NaN or infinite'),
    (lambda: check_tensor('ids', torch.zeros(2, 2), ndim=1), ValueError, 'ids: got a tensor of shape \\(2, 2\\)'),
    (lambda: check_choice('reduction', 'avg', ['mean', 'sum', 'none']), ValueError, "reduction: got 'avg'"),
    (lambda: Question('q?', 'c', options=['a', 'b']), ValueError, 'answer'),
])
def test_bad_values(call, exc, words):
    with pytest.raises(exc, match=words): call()

@pytest.mark.silent
@pytest.mark.parametrize('call, words', [
    (lambda: DataLoaders.from_tensors((x10,), (x10,), valid_bs=0), 'valid_bs: got 0'),      # was replaced by 2*bs quietly
    (lambda: DataLoaders.from_split(torch.arange(10.), valid_pct=0.01), 'leaves samples on both sides'),  # no valid set
    (lambda: DataLoaders.from_split(torch.arange(10.), valid_pct=0.99), 'leaves samples on both sides'),  # no train set
    (lambda: DataLoaders.from_tensors((torch.zeros(0),), (x10,)), 'no samples'),               # empty training set
])
def test_used_to_be_silent(call, words):
    with pytest.raises(ValueError, match=words): call()

@pytest.mark.silent
@pytest.mark.parametrize('call, words', [
    (lambda: TensorLoader(x10, shuffle=True, seed=0.5), 'seed: got 0.5, expected an integer'),       # was truncated to 0
    (lambda: DataLoaders.from_tensors((x10,), (x10,), seed='7'), "seed: got '7'"),                   # was int('7')
    (lambda: split_indices(10, 0.2, seed=1.9), 'seed: got 1.9'),                                     # was truncated to 1
    (lambda: DataLoaders.from_split(x10, valid_pct=0.2, seed=True), 'seed: got True'),               # a bool is no seed
])
def test_seeds_that_used_to_be_truncated(call, words):
    with pytest.raises(TypeError, match=words): call()

@pytest.mark.keyword
def test_misspelled_keyword_gets_a_suggestion():
    with pytest.raises(TypeError, match="Did you mean 'betas'"): check_keywords('Adam', {'beta': 0.9}, ['lr', 'betas'])
    with pytest.raises(TypeError, match="It takes: eps, lr"): check_keywords('SGD', {'learning_rate': 1}, ['lr', 'eps'])

@pytest.mark.bad_value
def test_missing_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='is not a folder'): movielens_100k(tmp_path / 'nowhere')
    with pytest.raises(FileNotFoundError, match='u.data'): movielens_100k(tmp_path)
    with pytest.raises(FileNotFoundError, match='is not a folder'): mnist_sample(tmp_path / 'nowhere')
    with pytest.raises(FileNotFoundError, match='train.txt'): human_numbers(tmp_path)

@pytest.mark.bad_value
def test_optional_package_names_its_install_command():
    with pytest.raises(ModuleNotFoundError, match=r'pip install "lessonlib\[vision\]"'): require('no_such_module_xyz', 'vision')
    with pytest.raises(ModuleNotFoundError, match='pip install --no-deps recbole'):
        require('no_such_module_xyz', command='pip install --no-deps recbole')

@pytest.mark.wrong_kind
def test_compare_seeds_wants_one_number_per_run():
    with pytest.raises(ValueError, match="returned several values"): compare_seeds({'a': lambda s: {'x': 1, 'y': 2}})

def test_numpy_seed_is_accepted():
    set_seed(np.int64(5))
