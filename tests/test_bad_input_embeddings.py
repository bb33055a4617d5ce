"""Bad input to lessonlib.embeddings (issue 16): each case asserts the exception type and that the message names the
argument or the problem. Grouped by kind with the markers registered in conftest.py."""
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from lessonlib.data import DataLoaders
from lessonlib.embeddings import (DotProductBias, Embedding, EmbeddingNN, LookupL2, check_ratings, collab_learner, factor_pca,
                                  item_table, nearest_items, one_hot, ratings_dls, read_ratings, sigmoid_range)
from lessonlib.sgd import Learner, mse

NAN, INF = float('nan'), float('inf')

def frame(ratings=(4., 3., 5., 2., 1., 4., 3., 5., 2., 4.), users=None, items=None):
    "A small ratings frame: 10 ratings of 4 users and 3 movies unless told otherwise."
    n = len(ratings)
    return pd.DataFrame({'user': users if users is not None else [1, 2, 3, 4, 1, 2, 3, 4, 1, 2][:n],
                         'item': items if items is not None else [10, 10, 20, 20, 30, 30, 10, 20, 20, 30][:n], 'rating': list(ratings)})

@pytest.fixture(scope='module')
def small_dls():
    return ratings_dls(frame(), valid_pct=0.2, bs=4, device='cpu')

# ---------- wrong kinds of argument

@pytest.mark.wrong_kind
@pytest.mark.parametrize('call, match', [
    (lambda: one_hot([3, 0], 5), 'one_hot ids: got .*expected a tensor of integer ids'),
    (lambda: Embedding(5, 2)(torch.tensor([1.])), r'expected integers \(torch.long\)'),
    (lambda: DotProductBias(943.0, 1682), 'n_users: got 943.0, expected an integer'),
    (lambda: DotProductBias(943, 1682)([1, 2], torch.tensor([0, 1])), 'DotProductBias users: got .*expected a tensor of integer ids'),
    (lambda: collab_learner(DotProductBias), 'model: got the class DotProductBias.*Call the class'),
    (lambda: collab_learner(nn.Linear(2, 1).weight), 'model: got .*expected a torch nn.Module'),
    (lambda: collab_learner(DotProductBias(4, 3), dls=frame()), 'dls: got .*DataFrame.*ratings_dls'),
    (lambda: check_ratings([(1, 10, 4.)]), 'ratings: got .*expected a pandas DataFrame'),
    (lambda: item_table(np.zeros(3), frame(), frame()), 'dls: got .*DataLoaders made by ratings_dls'),
    (lambda: factor_pca(np.random.randn(5, 3)), 'factors: got .*expected a torch.Tensor'),
])
def test_wrong_kinds_are_named(call, match):
    with pytest.raises(TypeError, match=match): call()

@pytest.mark.wrong_kind
def test_lookup_l2_needs_a_model_that_lists_its_lookups(small_dls):
    model = nn.Sequential(nn.Embedding(4, 2))
    with pytest.raises(TypeError, match='model: got .*lookups'):
        collab_learner(model, dls=small_dls, lookup_l2=0.05)
    learn = Learner(small_dls, model, mse, cbs=[LookupL2(0.05)], progress=False)
    with pytest.raises(TypeError, match='LookupL2'): learn.fit(1)

# ---------- results that used to be silently wrong

@pytest.mark.silent
def test_users_and_items_of_different_shapes_do_not_broadcast():
    model = DotProductBias(10, 10, 3)
    users, items = torch.arange(8), torch.arange(8)[:, None]
    with pytest.raises(ValueError, match=r'items: got a tensor of shape \(8, 1\).*same shape as users, \(8,\)'): model(users, items)
    with pytest.raises(ValueError, match='same shape'): EmbeddingNN(10, 10)(users, items)

@pytest.mark.silent
def test_negative_ids_do_not_read_from_the_end():
    "Plain indexing would return the last row for id -1."
    with pytest.raises(IndexError, match='id -1 is outside the table of 5 rows'): Embedding(5, 2)(torch.tensor([0, -1]))
    with pytest.raises(IndexError, match='id -3 is outside'): one_hot(torch.tensor([-3]), 4)

@pytest.mark.silent
@pytest.mark.parametrize('dtype', [torch.bool, torch.uint8])
def test_mask_like_ids_are_refused(dtype):
    "A bool or uint8 tensor of ids would index as a mask, picking rows by position."
    with pytest.raises(TypeError, match='masks'): Embedding(3, 2)(torch.tensor([1, 0, 1], dtype=dtype))

@pytest.mark.silent
def test_ratings_outside_y_range_are_refused():
    "A model whose sigmoid_range cannot reach the ratings would train to a silently worse fit."
    dls = ratings_dls(frame(ratings=(8., 6., 10., 4., 2., 8., 6., 10., 4., 8.)), bs=4, device='cpu')
    with pytest.raises(ValueError, match=r'ratings run from 2 to 10 and y_range is \(0, 5.5\).*y_range=\(0, 11\)'):
        collab_learner(DotProductBias(4, 3), dls=dls)

@pytest.mark.silent
def test_nearest_items_refuses_more_neighbours_than_there_are():
    "It used to return fewer than k without a word."
    with pytest.raises(ValueError, match=r'k: got 5, expected an integer in \[1, 3\]'): nearest_items(torch.randn(4, 2), 0, k=5)

@pytest.mark.silent
def test_factor_pca_refuses_non_finite_factors():
    f = torch.randn(6, 3); f[2, 1] = NAN
    with pytest.raises(ValueError, match='factors: got .*1 of them are NaN or infinite'): factor_pca(f)

# ---------- the message names the real cause

@pytest.mark.blame
@pytest.mark.parametrize('bad, match', [
    (NAN, r'missing values \(1 in rating\)'),
    (INF, "ratings.rating has 1 infinite value"),
])
def test_non_finite_ratings_are_named_before_training(bad, match):
    ratings = frame(); ratings.loc[3, 'rating'] = bad
    with pytest.raises(ValueError, match=match): ratings_dls(ratings)

@pytest.mark.blame
def test_nan_ratings_in_hand_made_loaders_are_named(small_dls):
    "Loaders made without ratings_dls can still hold NaN: collab_learner names the data, not the learning rate."
    (u, i, r), valid = small_dls.train.tensors, small_dls.valid.tensors
    r = r.clone(); r[0] = NAN
    dls = DataLoaders.from_tensors((u, i, r), tuple(valid), bs=4, device='cpu')
    with pytest.raises(ValueError, match='ratings in dls: .*1 of them are NaN or infinite.*missing or infinite ratings'):
        collab_learner(DotProductBias(4, 3), dls=dls)

@pytest.mark.blame
def test_a_model_too_small_for_the_data_is_named_before_training():
    dls = ratings_dls(frame(), bs=4, device='cpu')
    with pytest.raises(ValueError, match=r"model: got .*a user table with a row for each of the 4 users.*has 3 rows.*len\(dls.users\)"):
        collab_learner(DotProductBias(3, 3), dls=dls)

@pytest.mark.blame
def test_missing_columns_name_the_columns(tmp_path):
    (tmp_path / 'ratings.csv').write_text('userId,movieId,stars\n1,2,4\n')
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['rating'\]"): read_ratings(tmp_path)

# ---------- misspelled keywords

@pytest.mark.keyword
@pytest.mark.parametrize('kwargs, match', [
    ({'lookup_wd': 0.05}, "unexpected keyword argument 'lookup_wd'. Did you mean 'lookup_l2'"),
    ({'weight_decay': 0.1}, "unexpected keyword argument 'weight_decay'. Did you mean 'wd'"),
    ({'lr': 3e-3}, 'collab_learner takes no learning rate: give it to the fit'),
    ({'progres': True}, "Did you mean 'progress'"),
])
def test_collab_learner_keywords(small_dls, kwargs, match):
    with pytest.raises(TypeError, match=match): collab_learner(DotProductBias(4, 3), dls=small_dls, **kwargs)

# ---------- out-of-range values and data

@pytest.mark.bad_value
@pytest.mark.parametrize('call, match', [
    (lambda: Embedding(0, 2), 'num_embeddings: got 0, expected an integer >= 1'),
    (lambda: Embedding(5, 2, std=-1.), 'std: got -1.0, expected a number >= 0'),
    (lambda: one_hot(torch.tensor([1]), 0), 'n: got 0, expected an integer >= 1'),
    (lambda: DotProductBias(10, 10, y_range=(5, 1)), r'y_range: got \(5, 1\), expected a range \(lo, hi\) with lo < hi'),
    (lambda: DotProductBias(10, 10, y_range=5.5), r'y_range: got 5.5, expected a pair \(lo, hi\)'),
    (lambda: EmbeddingNN(10, 10, p=1.0), r'p: got 1.0, expected a number in \[0, 1\)'),
    (lambda: sigmoid_range(torch.zeros(2), 0, NAN), 'sigmoid_range high end: got nan'),
    (lambda: LookupL2(-0.1), 'wd: got -0.1, expected a number >= 0'),
    (lambda: nearest_items(torch.randn(4, 2), 0, k=0), r'k: got 0, expected an integer in \[1, 3\]'),
    (lambda: factor_pca(torch.randn(6, 3), k=4), r'k: got 4, expected an integer in \[1, 3\]'),
    (lambda: check_ratings(frame().assign(rating=['4'] * 10)), 'ratings.rating must hold numbers'),
    (lambda: check_ratings(frame().assign(rating=[True] * 10)), 'ratings.rating must hold numbers'),
    (lambda: ratings_dls(frame().iloc[:0]), 'ratings is empty'),
    (lambda: ratings_dls(frame(), valid_pct=0.01), 'valid_pct'),
])
def test_out_of_range_values_are_named(call, match):
    with pytest.raises(ValueError, match=match): call()

@pytest.mark.bad_value
@pytest.mark.parametrize('kwargs, match', [({'wd': -1.}, 'wd: got -1.0'), ({'wd': INF}, 'wd: got inf'), ({'lookup_l2': NAN}, 'lookup_l2: got nan')])
def test_collab_learner_refuses_bad_regularisation(small_dls, kwargs, match):
    with pytest.raises(ValueError, match=match): collab_learner(DotProductBias(4, 3), dls=small_dls, **kwargs)

@pytest.mark.bad_value
def test_ids_past_the_table_name_the_id_and_the_size():
    with pytest.raises(IndexError, match=r'id 1682 is outside the table of 1682 rows \(valid ids are 0..1681\)'):
        DotProductBias(943, 1682, 5)(torch.tensor([0, 1]), torch.tensor([5, 1682]))
    with pytest.raises(IndexError, match='nearest_items: id 30 is outside the table of 30 rows'): nearest_items(torch.randn(30, 3), 30)

# ---------- no public model or function returns a broadcast or NaN result for these inputs

@pytest.mark.silent
def test_models_never_return_a_broadcast_or_nan_result():
    users, items = torch.arange(8), torch.arange(8)
    for model in (DotProductBias(10, 10, 3), EmbeddingNN(10, 10, 4, 4, 8)):
        out = model(users, items)
        assert out.shape == (8,) and torch.isfinite(out).all()
        for bad in ((users, items[:, None]), (users[:, None], items), (users, items[:4])):
            with pytest.raises(ValueError, match='same shape'): model(*bad)
