"""Tests of lessonlib.data: the bundled data sets, their official-file readers, bad input, and the loaders."""
import gzip
import numpy as np
import pandas as pd
import pytest
import torch

import lessonlib.data as data
from lessonlib.data import (DataLoaders, TensorLoader, human_numbers, mnist_sample, movielens_100k, number_words,
                            split_indices, read_idx, set_seed, ML_GENRES)

# ---------- seeds and devices

def test_set_seed_repeats_python_numpy_and_torch():
    import random
    set_seed(3); a = (random.random(), np.random.rand(), torch.rand(1).item())
    set_seed(3); b = (random.random(), np.random.rand(), torch.rand(1).item())
    assert a == b

def test_set_seed_refuses_non_int():
    with pytest.raises(TypeError, match='int'): set_seed('42')

def test_default_device_is_a_device():
    assert isinstance(data.default_device(), torch.device)

# ---------- MNIST

def test_mnist_sample_shapes_and_values():
    x, y = mnist_sample()
    assert x.shape == (5000, 784) and x.dtype == torch.float32
    assert y.shape == (5000,) and y.dtype == torch.int64
    assert 0 <= x.min() and x.max() <= 1 and x.max() == 1
    assert torch.bincount(y).tolist() == [500] * 10

def write_idx(path, array, magic_type=0x08, compress=False):
    "Write `array` (uint8) in the idx format."
    header = bytes([0, 0, magic_type, array.ndim]) + b''.join(int(d).to_bytes(4, 'big') for d in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    (gzip.open if compress else open)(path, 'wb').write(payload)

@pytest.mark.parametrize('compress', [False, True])
def test_mnist_reads_official_idx_files(tmp_path, compress):
    x, y = mnist_sample()
    images = (x[:100] * 255).round().to(torch.uint8).numpy().reshape(100, 28, 28)
    sfx = '.gz' if compress else ''
    write_idx(tmp_path / f'train-images-idx3-ubyte{sfx}', images, compress=compress)
    write_idx(tmp_path / f'train-labels-idx1-ubyte{sfx}', y[:100].numpy(), compress=compress)
    x2, y2 = mnist_sample(tmp_path)
    torch.testing.assert_close(x2, x[:100])
    assert torch.equal(y2, y[:100])

def test_mnist_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match='not a folder'): mnist_sample(tmp_path / 'nope')

def test_mnist_missing_files_names_them(tmp_path):
    with pytest.raises(FileNotFoundError, match='train-images-idx3-ubyte'): mnist_sample(tmp_path)

def test_mnist_bad_split(tmp_path):
    with pytest.raises(ValueError, match="split"): mnist_sample(tmp_path, split='valid')

def test_idx_wrong_magic(tmp_path):
    f = tmp_path / 'x-idx3-ubyte'
    write_idx(f, np.zeros((2, 28, 28)), magic_type=0x0D)
    with pytest.raises(ValueError, match='magic'): read_idx(f)

def test_idx_truncated(tmp_path):
    f = tmp_path / 'x-idx3-ubyte'
    write_idx(f, np.zeros((2, 28, 28)))
    f.write_bytes(f.read_bytes()[:-10])
    with pytest.raises(ValueError, match='declares shape'): read_idx(f)

def test_mnist_label_count_mismatch(tmp_path):
    write_idx(tmp_path / 'train-images-idx3-ubyte', np.zeros((3, 28, 28)))
    write_idx(tmp_path / 'train-labels-idx1-ubyte', np.zeros(2))
    with pytest.raises(ValueError, match='3 images but 2 labels'): mnist_sample(tmp_path)

def test_mnist_wrong_image_shape(tmp_path):
    write_idx(tmp_path / 'train-images-idx3-ubyte', np.zeros((3, 8, 8)))
    write_idx(tmp_path / 'train-labels-idx1-ubyte', np.zeros(3))
    with pytest.raises(ValueError, match=r'\(N, 28, 28\)'): mnist_sample(tmp_path)

def test_mnist_csv_with_wrong_columns(tmp_path, monkeypatch):
    bad = tmp_path / 'mnist_5k.csv.gz'
    with gzip.open(bad, 'wt') as f: f.write('1,2,3\n4,5,6\n')
    monkeypatch.setattr(data, 'package_file', lambda *a, **k: bad)
    with pytest.raises(ValueError, match='785'): mnist_sample()

def test_mnist_package_absent(monkeypatch):
    monkeypatch.setattr(data.importlib.util, 'find_spec', lambda name: None)
    with pytest.raises(FileNotFoundError, match=r'pip install "lessonlib\[data\]"'): mnist_sample()

def test_package_file_missing_data_file():
    with pytest.raises(FileNotFoundError, match='missing from the installed'): data.package_file('json', 'no_such.csv')

# ---------- MovieLens

def test_movielens_bundled_shapes():
    ratings, movies = movielens_100k()
    assert list(ratings.columns) == ['user', 'item', 'rating', 'timestamp']
    assert list(movies.columns) == ['item', 'title', 'year', 'genres']
    assert ratings.shape == (100_000, 4) and movies.shape == (1682, 4)
    assert ratings.user.nunique() == 943 and ratings.item.nunique() == 1682
    assert (ratings.dtypes == 'int64').all() and ratings.rating.between(1, 5).all()
    assert set(ratings.item) <= set(movies.item)

def test_movielens_malformed_rows_kept_with_missing_year():
    _, movies = movielens_100k()
    missing = movies[movies.year.isna()]
    assert missing.item.tolist() == [267, 1412]
    assert missing.title.tolist() == ['unknown', 'Land Before Time III: The Time of the Great Giving (1995)']
    assert movies.set_index('item').loc[1, 'title'] == 'Toy Story'
    assert movies.set_index('item').loc[1, 'year'] == 1995

# The two malformed rows, as GroupLens' u.item spells them.
RAW_TITLES = {267: 'unknown', 1412: 'Land Before Time III: The Time of the Great Giving (1995) (V)'}

def write_grouplens(folder, ratings, movies):
    "Write ratings and movies in GroupLens' ml-100k format (u.data, u.item)."
    folder.mkdir()
    ratings.to_csv(folder / 'u.data', sep='\t', header=False, index=False)
    lines = []
    for m in movies.itertuples():
        title = RAW_TITLES.get(m.item, f'{m.title} ({m.year})')
        flags = ['1' if g in m.genres.split('|') else '0' for g in ML_GENRES]
        lines.append('|'.join([str(m.item), title, '01-Jan-1995', '', 'http://example.invalid'] + flags))
    (folder / 'u.item').write_bytes(('\n'.join(lines) + '\n').encode('latin-1'))

def test_movielens_grouplens_files_give_identical_frames(tmp_path):
    ratings, movies = movielens_100k()
    write_grouplens(tmp_path / 'ml-100k', ratings, movies)
    r2, m2 = movielens_100k(tmp_path / 'ml-100k')
    pd.testing.assert_frame_equal(r2, ratings)
    pd.testing.assert_frame_equal(m2, movies)

def test_movielens_not_a_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match='not a folder'): movielens_100k(tmp_path / 'nope')

def test_movielens_missing_u_item(tmp_path):
    (tmp_path / 'u.data').write_text('1\t2\t3\t4\n')
    with pytest.raises(FileNotFoundError, match='u.item'): movielens_100k(tmp_path)

def test_movielens_wrong_column_count(tmp_path):
    ratings, movies = movielens_100k()
    write_grouplens(tmp_path / 'ml', ratings.head(5), movies)
    (tmp_path / 'ml' / 'u.data').write_text('1\t2\t3\n4\t5\t6\n')
    with pytest.raises(ValueError, match=r'u.data has 3 columns; expected 4'): movielens_100k(tmp_path / 'ml')

def test_movielens_ratings_out_of_range(tmp_path):
    ratings, movies = movielens_100k()
    bad = ratings.head(5).copy(); bad.loc[0, 'rating'] = 9
    write_grouplens(tmp_path / 'ml', bad, movies)
    with pytest.raises(ValueError, match='between 1 and 5'): movielens_100k(tmp_path / 'ml')

def test_movielens_non_numeric_ratings(tmp_path):
    ratings, movies = movielens_100k()
    write_grouplens(tmp_path / 'ml', ratings.head(5), movies)
    (tmp_path / 'ml' / 'u.data').write_text('1\t2\tgood\t4\n')
    with pytest.raises(ValueError, match='whole numbers'): movielens_100k(tmp_path / 'ml')

def test_movielens_package_absent(monkeypatch):
    monkeypatch.setattr(data.importlib.util, 'find_spec', lambda name: None)
    with pytest.raises(FileNotFoundError, match='--no-deps recbole'): movielens_100k()

# ---------- human numbers

def test_number_words():
    assert number_words(1) == 'one' and number_words(20) == 'twenty' and number_words(21) == 'twenty one'
    assert number_words(110) == 'one hundred ten' and number_words(9999) == 'nine thousand nine hundred ninety nine'
    assert number_words(3005) == 'three thousand five'
    assert all('-' not in number_words(n) and ' and ' not in number_words(n) for n in range(1, 10_000))
    for bad in (0, 10_000, 2.5):
        with pytest.raises(ValueError, match='1..9999'): number_words(bad)

def test_human_numbers_counts_and_split():
    train, valid = human_numbers()
    tokens = train + valid
    assert len(tokens) == 63_098 and len(set(tokens)) == 30
    assert len(train) == int(len(tokens) * 0.8)
    assert tokens[:7] == ['one', '.', 'two', '.', 'three', '.', 'four']
    assert tokens[-7:] == ['.', 'nine', 'thousand', 'nine', 'hundred', 'ninety', 'nine']

def test_human_numbers_reads_fastai_files(tmp_path):
    lines = [number_words(n) for n in range(1, 10_000)]
    (tmp_path / 'train.txt').write_text(' \n'.join(lines[:8000]) + ' \n')
    (tmp_path / 'valid.txt').write_text(' \n'.join(lines[8000:]) + ' \n')
    assert human_numbers(tmp_path) == human_numbers()

def test_human_numbers_missing_file(tmp_path):
    (tmp_path / 'train.txt').write_text('one\ntwo\n')
    with pytest.raises(FileNotFoundError, match='valid.txt'): human_numbers(tmp_path)

def test_human_numbers_not_text(tmp_path):
    (tmp_path / 'train.txt').write_bytes(b'\xff\xfe\x00bad')
    (tmp_path / 'valid.txt').write_text('one\n')
    with pytest.raises(ValueError, match='UTF-8'): human_numbers(tmp_path)

def test_human_numbers_bad_valid_pct():
    with pytest.raises(ValueError, match='valid_pct'): human_numbers(valid_pct=1.5)

# ---------- loaders

def test_every_sample_once_per_epoch():
    x = torch.arange(103)
    tl = TensorLoader(x, x * 2, bs=10, shuffle=True, seed=1, device='cpu')
    for _ in range(3):
        batches = list(tl)
        assert len(batches) == len(tl) == 11
        seen = torch.cat([b[0] for b in batches])
        assert sorted(seen.tolist()) == list(range(103))
        assert all(torch.equal(b[1], b[0] * 2) for b in batches)

def test_seeded_order_repeats_and_epochs_differ():
    make = lambda: TensorLoader(torch.arange(50), bs=8, shuffle=True, seed=7, device='cpu')
    a, b = make(), make()
    first_a, first_b = torch.cat([t[0] for t in a]), torch.cat([t[0] for t in b])
    assert torch.equal(first_a, first_b)
    assert not torch.equal(torch.cat([t[0] for t in a]), first_a)

def test_unshuffled_keeps_order_and_drop_last():
    tl = TensorLoader(torch.arange(10), bs=4, drop_last=True, device='cpu')
    assert [b[0].tolist() for b in tl] == [[0, 1, 2, 3], [4, 5, 6, 7]] and len(tl) == 2

def test_len_counts_batches():
    "n / bs rounded up, or down with drop_last; and the epoch yields exactly that many batches."
    for n, bs in ((10, 4), (12, 4), (1, 64), (64, 64), (65, 64)):
        for drop_last in (False, True):
            tl = TensorLoader(torch.arange(n), bs=bs, drop_last=drop_last, device='cpu')
            assert len(tl) == (n // bs if drop_last else -(-n // bs)) == len(list(tl))

def test_first_batch_leaves_the_generator_alone():
    tl = TensorLoader(torch.arange(30), bs=7, shuffle=True, seed=4, device='cpu')
    state = tl.generator.get_state()
    first = tl.first_batch()[0]
    assert torch.equal(tl.generator.get_state(), state)
    assert torch.equal(next(iter(tl))[0], first)

def test_unseeded_loader_follows_set_seed():
    "With seed=None the shuffle's seed is drawn from torch's global generator, so set_seed fixes it."
    orders = []
    for _ in range(2):
        set_seed(11); orders.append(torch.cat([b[0] for b in TensorLoader(torch.arange(20), bs=5, shuffle=True, device='cpu')]))
    assert torch.equal(*orders)

def test_loader_bad_input():
    with pytest.raises(ValueError, match='same length'): TensorLoader(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match='at least one'): TensorLoader()
    with pytest.raises(ValueError, match='bs'): TensorLoader(torch.zeros(3), bs=0)
    with pytest.raises(TypeError, match='tensors'): TensorLoader([1, 2, 3])

def test_split_indices_is_a_seeded_partition():
    tr, va = split_indices(100, 0.2, seed=5)
    assert len(va) == 20 and len(tr) == 80
    assert sorted(torch.cat([tr, va]).tolist()) == list(range(100))
    assert torch.equal(split_indices(100, 0.2, seed=5)[1], va)
    with pytest.raises(ValueError, match='valid_pct'): split_indices(10, 0)

def test_dataloaders_from_split():
    x, y = torch.randn(200, 3), torch.arange(200)
    dls = DataLoaders.from_split(x, y, valid_pct=0.25, seed=0, bs=16, device='cpu')
    assert (dls.train.n, dls.valid.n) == (150, 50)
    xb, yb = dls.one_batch()
    assert xb.shape == (16, 3) and torch.equal(x[yb], xb)
    assert dls.device == torch.device('cpu') and dls[0] is dls.train and dls[1] is dls.valid
    assert not dls.valid.shuffle and dls.train.shuffle

def test_one_batch_does_not_move_the_shuffle():
    x = torch.arange(40)
    peeked, fresh = (DataLoaders.from_tensors((x, x), (x, x), bs=8, seed=3, device='cpu') for _ in range(2))
    first = peeked.one_batch()
    assert torch.equal(peeked.one_batch()[0], first[0])                      # asking twice gives the same batch
    epoch = [b[0].tolist() for b in peeked.train]
    assert epoch == [b[0].tolist() for b in fresh.train]                     # the first epoch is untouched
    assert epoch[0] == first[0].tolist()

def test_set_seed_takes_numpy_integers():
    set_seed(np.int64(3)); a = torch.rand(2)
    set_seed(3); b = torch.rand(2)
    assert torch.equal(a, b)
    set_seed(np.uint8(7)); set_seed(np.int32(-1) + 10)

def test_hand_written_loader_parts_match_torch():
    "The notebook's hand-written loader matches torch's DataLoader with a seeded RandomSampler."
    from torch.utils.data import TensorDataset, DataLoader, RandomSampler
    xs, ys = torch.arange(13.).unsqueeze(1), torch.arange(13)
    order = torch.randperm(13, generator=torch.Generator().manual_seed(5)).tolist()
    ours = [(xs[order[i:i + 4]], ys[order[i:i + 4]]) for i in range(0, 13, 4)]
    ds = TensorDataset(xs, ys)
    theirs = list(DataLoader(ds, batch_size=4, sampler=RandomSampler(ds, generator=torch.Generator().manual_seed(5))))
    assert len(ours) == len(theirs) == 4
    for (xa, ya), (xb, yb) in zip(ours, theirs): assert torch.equal(xa, xb) and torch.equal(ya, yb)

def test_title_and_year():
    from lessonlib.data import title_and_year
    assert title_and_year('Toy Story (1995)') == ('Toy Story', 1995)
    assert title_and_year('Shadows (Cienie) (1988)') == ('Shadows (Cienie)', 1988)
    assert title_and_year('Something (V)')[1] is pd.NA and title_and_year('')[0] == ''

def test_set_seed_deterministic_switch():
    try:
        set_seed(1, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
    finally: torch.use_deterministic_algorithms(False)

def test_dataloaders_repr_with_torch_loaders():
    from torch.utils.data import DataLoader, TensorDataset
    dl = DataLoader(TensorDataset(torch.zeros(5, 2)), batch_size=2)
    assert repr(DataLoaders(dl, dl)).startswith('DataLoaders(train: 5 samples, valid: 5 samples')
