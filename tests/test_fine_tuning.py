"""Tests of lessonlib.fine_tuning: pretrained weights, freezing, parameter groups, BatchNorm, mixed precision, image_folder."""
import functools

import numpy as np
import pandas as pd
import PIL.Image
import pytest
import skimage.data
import torch
import torch.nn.functional as F
from torch import nn

from lessonlib.data import DataLoaders
from lessonlib.optimizers import AdamW
from lessonlib.sgd import Callback, Learner, accuracy
from lessonlib.fine_tuning import (BatchNormEval, EfficientNetBody, MixedPrecision, RandomAffine, Recipe, ValidEvery,
                                   compare_methods, create_head, efficientnet_lite0, fine_tune, freeze, image_folder,
                                   image_to_tensor, imagenet_classes, lite0_weights_path, lr_sweep, mnist_few_shot, n_trainable,
                                   partial_adamw, predict_imagenet, random_affine, seconds_table, steepest_lr, timer,
                                   torch_threads, train_transfer, transfer_model, transfer_splitter, unfreeze)

torch.set_num_threads(1)

@pytest.fixture(scope='module')
def enet(): return efficientnet_lite0()

@pytest.fixture
def model():
    torch.manual_seed(0)
    return transfer_model(10)

def body_params(model): return [p.detach().clone() for p in model[0].parameters()]

# --- the pretrained network -------------------------------------------------------------------------------------

def test_imagenet_classes():
    names = imagenet_classes()
    assert len(names) == 1000 and names[0] == 'tench' and names[967] == 'espresso' and names[281] == 'tabby'

def test_pretrained_classifies_bundled_photos(enet):
    cat = [n for n, _ in predict_imagenet(enet, skimage.data.chelsea())]
    assert {'tabby', 'tiger cat', 'Egyptian cat'} & set(cat), cat
    coffee = [n for n, _ in predict_imagenet(enet, skimage.data.coffee())]
    assert 'espresso' in coffee, coffee

def test_random_weights_are_not_confident():
    torch.manual_seed(0)
    (_, p), = predict_imagenet(efficientnet_lite0(pretrained=False), skimage.data.chelsea(), k=1)
    assert p < 0.2

def test_corrupted_weights_file_refused(tmp_path):
    bad = tmp_path / 'lite0.pth'
    bad.write_bytes(lite0_weights_path().read_bytes()[:50_000])
    with pytest.raises(ValueError, match='lite0.pth.*corrupted'): efficientnet_lite0(weights_path=bad)
    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(b'\x00' * 1000)
    with pytest.raises(ValueError, match='garbage.pth'): efficientnet_lite0(weights_path=garbage)

def test_missing_or_wrong_weights_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothere.pth'): efficientnet_lite0(weights_path=tmp_path / 'nothere.pth')
    torch.save([1, 2, 3], tmp_path / 'list.pth')
    with pytest.raises(ValueError, match='list.pth.*state dict'): efficientnet_lite0(weights_path=tmp_path / 'list.pth')
    torch.save({'_fc.weight': torch.zeros(3, 3)}, tmp_path / 'other.pth')
    with pytest.raises(ValueError, match='other.pth.*EfficientNet-Lite0'): efficientnet_lite0(weights_path=tmp_path / 'other.pth')

def test_body_matches_the_original_network(enet):
    "Our body + the original pooling and classifier give exactly the ImageNet network's outputs."
    body = EfficientNetBody(enet).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ours = enet._fc(F.adaptive_avg_pool2d(body(x), 1).flatten(1))
        torch.testing.assert_close(ours, enet(x))

def test_transfer_model_shapes(model):
    assert model(torch.randn(3, 3, 64, 64)).shape == (3, 10)
    with pytest.raises(ValueError, match='n_out'): transfer_model(0)

def test_heads():
    "The default head has two weight matrices with a ReLU between them; hidden=None gives one linear layer."
    two, one = create_head(1280, 10), create_head(1280, 10, hidden=None)
    assert [tuple(p.shape) for p in two.parameters() if p.dim() == 2] == [(512, 1280), (10, 512)]
    assert any(isinstance(m, nn.ReLU) for m in two)
    assert [tuple(p.shape) for p in one.parameters() if p.dim() == 2] == [(10, 1280)]
    assert one.eval()(torch.randn(2, 1280, 3, 3)).shape == two.eval()(torch.randn(2, 1280, 1, 1)).shape == (2, 10)

def test_bn_momentum_only_from_scratch():
    "The pretrained body keeps the network's own momentum (BatchNormEval never updates it); from scratch gets 0.1."
    momenta = lambda m: {b.momentum for b in m[0].modules() if isinstance(b, nn.BatchNorm2d)}
    assert {round(m, 6) for m in momenta(transfer_model(10))} == {0.01}  # 1 - 0.99 in the package
    assert momenta(transfer_model(10, pretrained=False)) == {0.1}
    assert momenta(transfer_model(10, bn_momentum=0.2)) == {0.2}

# --- freezing and parameter groups ---------------------------------------------------------------------------------

@pytest.mark.parametrize('opt_cls', [torch.optim.AdamW, AdamW])
def test_freeze_only_head_trains_and_body_is_bit_identical(model, opt_cls):
    freeze(model)
    head_ids = {id(p) for p in model[1].parameters()}
    assert all(p.requires_grad == (id(p) in head_ids) for p in model.parameters())
    before, head_before = body_params(model), [p.detach().clone() for p in model[1].parameters()]
    opt = opt_cls(model.parameters(), lr=0.1, weight_decay=0.1)
    model.train()
    F.cross_entropy(model(torch.randn(4, 3, 64, 64)), torch.tensor([1, 2, 3, 4])).backward()
    opt.step()
    assert all(torch.equal(a, b) for a, b in zip(before, model[0].parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(head_before, model[1].parameters()))
    unfreeze(model)
    assert all(p.requires_grad for p in model.parameters())

def test_freeze_train_bn_keeps_batchnorm_affine_trainable(model):
    freeze(model, train_bn=True)
    for m in model[0].modules():
        for p in m.parameters(recurse=False): assert p.requires_grad == isinstance(m, nn.BatchNorm2d)
    with pytest.raises(TypeError, match='Sequential'): freeze(nn.Linear(2, 2))

def test_splitter_covers_every_parameter_once(model):
    groups = transfer_splitter(model)
    assert len(groups) == 3
    ids = [id(p) for g in groups for p in g]
    assert len(ids) == len(set(ids)) and set(ids) == {id(p) for p in model.parameters()}
    assert [id(p) for p in groups[2]] == [id(p) for p in model[1].parameters()]

def test_slice_gives_geometric_rates_per_group(model):
    x, y = torch.randn(8, 3, 64, 64), torch.randint(0, 10, (8,))
    learn = Learner(DataLoaders.from_tensors((x, y), (x, y), bs=4, device='cpu'), model, F.cross_entropy,
                    opt_func=AdamW, splitter=transfer_splitter, silent=True)
    learn.set_lr(slice(1e-6, 1e-2))
    torch.testing.assert_close(torch.tensor([g['lr'] for g in learn.opt.param_groups]), torch.tensor([1e-6, 1e-4, 1e-2]))
    learn.set_lr(slice(3e-3))  # no start: every group but the head at a third of it
    torch.testing.assert_close(torch.tensor([g['lr'] for g in learn.opt.param_groups]), torch.tensor([1e-3, 1e-3, 3e-3]))

# --- fine_tune on a tiny (body, head) model -------------------------------------------------------------------------

class Snapshot(Callback):
    "Copies of the body's weights at the start of each fit."
    def __init__(self): self.bodies = []
    def before_fit(self): self.bodies.append([p.detach().clone() for p in self.learn.model[0].parameters()])

def tiny_split(m): return [list(m[0].parameters()), list(m[1].parameters())]

def test_fine_tune_freezes_then_unfreezes():
    torch.manual_seed(0)
    x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))
    model = nn.Sequential(nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU()), nn.Linear(16, 3))
    snap = Snapshot()
    learn = Learner(DataLoaders.from_tensors((x, y), (x, y), bs=16, device='cpu'), model, F.cross_entropy,
                    opt_func=AdamW, splitter=tiny_split, metrics=[accuracy], cbs=[snap], silent=True)
    hist = fine_tune(learn, 2, 1e-2, freeze_epochs=1)
    assert list(hist.phase) == ['frozen', 'unfrozen', 'unfrozen'] and list(hist.epoch) == [0, 1, 2]
    frozen_start, unfrozen_start = snap.bodies
    assert all(torch.equal(a, b) for a, b in zip(frozen_start, unfrozen_start))  # the frozen phase left the body alone
    assert not all(torch.equal(a, b) for a, b in zip(unfrozen_start, model[0].parameters()))  # then it trained
    assert all(p.requires_grad for p in model.parameters())
    assert len(learn.fine_tune_losses) == 3 * 4
    with pytest.raises(ValueError, match='epochs'): fine_tune(learn, 0)

def tiny_learner(seed=0):
    torch.manual_seed(seed)
    x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))
    model = nn.Sequential(nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU()), nn.Linear(16, 3))
    return Learner(DataLoaders.from_tensors((x, y), (x, y), bs=16, device='cpu', seed=0), model, F.cross_entropy,
                   opt_func=AdamW, splitter=tiny_split, metrics=[accuracy], silent=True)

def test_fine_tune_method_is_the_function():
    "learn.fine_tune(...) (patched onto Learner) gives exactly the function's result."
    a, b = tiny_learner(), tiny_learner()
    ha, hb = fine_tune(a, 2, 1e-2, lr_mult=10), b.fine_tune(2, 1e-2, lr_mult=10)
    pd.testing.assert_frame_equal(ha.drop(columns='time', errors='ignore'), hb.drop(columns='time', errors='ignore'))
    for p, q in zip(a.model.parameters(), b.model.parameters()): assert torch.equal(p, q)

def test_fine_tune_rates():
    "Frozen phase at slice(base_lr); unfrozen phase peaks at slice(base_lr / 2 / lr_mult, base_lr / 2) across the groups."
    learn = tiny_learner()
    class Peaks(Callback):
        def before_fit(self): self.peaks = [0.] * len(self.learn.opt.param_groups)
        def after_step(self): self.peaks = [max(a, g['lr']) for a, g in zip(self.peaks, self.learn.opt.param_groups)]
    peaks = Peaks()
    learn.fine_tune(2, 4e-3, freeze_epochs=1, lr_mult=100, cbs=[peaks])
    torch.testing.assert_close(torch.tensor(peaks.peaks), torch.tensor([2e-5, 2e-3]), rtol=0.05, atol=0)  # the unfrozen phase

def test_valid_every_counts_per_instance():
    a, b = ValidEvery(2), ValidEvery(3)
    a.seconds += 1.
    assert b.seconds == 0. and a.every == 2 and b.every == 3

def test_partial_adamw_is_a_partial():
    f = partial_adamw(0.1)
    assert isinstance(f, functools.partial) and f.func is AdamW and f.keywords == {'weight_decay': 0.1, 'foreach': True}
    opt = f([nn.Parameter(torch.ones(2))], lr=1e-3)
    assert opt.param_groups[0]['weight_decay'] == 0.1

def test_timer_and_threads():
    before = torch.get_num_threads()
    with timer() as t, torch_threads(1):
        assert torch.get_num_threads() == 1
        sum(range(1000))
    assert torch.get_num_threads() == before and t['seconds'] >= 0 and t['cpu'] >= 0

def test_steepest_lr_finds_the_fall_not_the_noise():
    "A flat noisy start, a fall centred near 1e-2, then a rise: the suggestion is in the fall, not in the noise."
    rng = np.random.default_rng(0)
    lrs = np.geomspace(1e-6, 1, 100)
    losses = 2.3 - 1.5 / (1 + np.exp(-(np.log10(lrs) + 2) * 3)) + 4 * (lrs > 0.3) * (lrs - 0.3) + rng.normal(0, 0.05, 100)
    assert 2e-3 < steepest_lr(lrs, losses) < 5e-2

def test_batchnorm_eval_keeps_statistics():
    torch.manual_seed(0)
    x, y = torch.randn(32, 8) * 5 + 3, torch.randint(0, 3, (32,))
    model = nn.Sequential(nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16)), nn.Linear(16, 3))
    bn = model[0][1]
    mean, var = bn.running_mean.clone(), bn.running_var.clone()
    learn = Learner(DataLoaders.from_tensors((x, y), (x, y), bs=8, device='cpu'), model, F.cross_entropy,
                    opt_func=AdamW, cbs=[BatchNormEval()], silent=True)
    learn.fit(2, lr=1e-2)
    assert torch.equal(bn.running_mean, mean) and torch.equal(bn.running_var, var)
    learn.remove_cbs([learn.batch_norm_eval]); learn.fit(1, lr=1e-2)
    assert not torch.equal(bn.running_mean, mean)  # without the callback, training mode updates them

# --- mixed precision ------------------------------------------------------------------------------------------------

def mp_learner(mp, cbs=()):
    torch.manual_seed(0)
    x, y = torch.randn(32, 8), torch.randint(0, 3, (32,))
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    return Learner(DataLoaders.from_tensors((x, y), (x, y), bs=8, device='cpu', seed=0), model, F.cross_entropy,
                   opt_func=torch.optim.SGD, cbs=[mp, *cbs], silent=True)

class Peek(Callback):
    def after_loss(self): self.dtypes = (self.learn.pred.dtype, self.learn.loss.dtype)

class PeekRaw(Callback):
    order = -10  # before MixedPrecision's after_pred
    def after_pred(self): self.raw = self.learn.pred.dtype

def test_mixed_precision_bfloat16_on_cpu():
    mp, peek, raw = MixedPrecision(), Peek(), PeekRaw()
    learn = mp_learner(mp, [peek, raw]); learn.fit(1, lr=0.1)
    assert raw.raw == torch.bfloat16 and peek.dtypes == (torch.float32, torch.float32)
    assert mp.dtype == torch.bfloat16 and not mp.scaling
    assert not torch.is_autocast_enabled('cpu') and 'forward' not in vars(learn.model)  # plain again after the fit
    with pytest.raises(ValueError, match='dtype'): MixedPrecision(dtype=torch.float64)

class Boom(nn.Module):
    def __init__(self): super().__init__(); self.lin = nn.Linear(8, 3)
    def forward(self, x): raise ValueError('boom')

def test_mixed_precision_leaves_autocast_off_when_forward_raises():
    "The autocast region is a with-block around each forward pass: an exception inside closes it."
    torch.manual_seed(0)
    x, y = torch.randn(8, 8), torch.randint(0, 3, (8,))
    learn = Learner(DataLoaders.from_tensors((x, y), (x, y), bs=4, device='cpu'), Boom(), F.cross_entropy,
                    opt_func=torch.optim.SGD, cbs=[MixedPrecision()], silent=True)
    with pytest.raises(ValueError, match='boom'): learn.fit(1, lr=0.1)
    assert not torch.is_autocast_enabled('cpu')

def test_loss_scaling_gives_the_unscaled_step():
    plain = mp_learner(MixedPrecision(loss_scale=False)); plain.fit(1, lr=0.1)
    scaled_cb = MixedPrecision(loss_scale=True, init_scale=1024.)
    scaled = mp_learner(scaled_cb); scaled.fit(1, lr=0.1)
    for a, b in zip(plain.model.parameters(), scaled.model.parameters()): torch.testing.assert_close(a, b)
    torch.testing.assert_close(torch.tensor(plain.recorder.losses), torch.tensor(scaled.recorder.losses))  # logged unscaled
    assert scaled_cb.skipped == 0

class Overflow(Callback):
    "Poison one gradient of the first batch, as a float16 overflow would."
    order = -50
    def after_backward(self):
        if self.learn.iter == 0 and self.learn.epoch == 0: next(self.learn.model.parameters()).grad[0, 0] = float('inf')

def test_loss_scaling_skips_overflowing_steps():
    mp = MixedPrecision(loss_scale=True, init_scale=256.)
    learn = mp_learner(mp, [Overflow()])
    w0 = [p.detach().clone() for p in learn.model.parameters()]
    class StopAfterFirst(Callback):
        def after_batch(self):
            if self.learn.training and self.learn.iter == 0: self.weights = [p.detach().clone() for p in self.learn.model.parameters()]
    stop = StopAfterFirst()
    learn.fit(1, lr=0.1, cbs=[stop])
    assert mp.skipped == 1 and mp.scale == 128.
    assert all(torch.equal(a, b) for a, b in zip(w0, stop.weights))  # the poisoned step was not taken
    assert all(p.grad is None for p in learn.model.parameters())

# --- images -------------------------------------------------------------------------------------------------------

def test_image_to_tensor():
    x = image_to_tensor(skimage.data.chelsea(), size=32)
    assert x.shape == (1, 3, 32, 32) and x.min() >= -1 and x.max() <= 1
    grey = image_to_tensor(np.full((10, 20), 0.5), size=8, crop=False)
    assert grey.shape == (1, 3, 8, 8) and torch.allclose(grey, torch.full_like(grey, 1 / 255), atol=1e-6)
    with pytest.raises(TypeError, match='img'): image_to_tensor('cat.png')

def make_folder(root, classes=('ants', 'bees'), n=3):
    for c, cls in enumerate(classes):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            arr = np.full((30 + 5 * i, 40, 3), 40 * (c + 1) + i, dtype=np.uint8)
            PIL.Image.fromarray(arr).save(root / cls / f'{i}.png')

def test_image_folder(tmp_path):
    make_folder(tmp_path)
    data = image_folder(tmp_path, size=24)
    assert data.classes == ['ants', 'bees'] and data.y.tolist() == [0, 0, 0, 1, 1, 1]
    assert data.x.shape == (6, 3, 24, 24) and [f.name for f in data.files] == ['0.png', '1.png', '2.png'] * 2
    expected = (40 + 0) / 255 * 2 - 1  # a plain image of value 40 after normalising
    torch.testing.assert_close(data.x[0], torch.full((3, 24, 24), expected), atol=1e-6, rtol=0)

def test_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere'): image_folder(tmp_path / 'nowhere')
    with pytest.raises(ValueError, match='no class sub-folders'): image_folder(tmp_path)
    make_folder(tmp_path)
    (tmp_path / 'wasps').mkdir()
    with pytest.raises(ValueError, match='wasps.*no images'): image_folder(tmp_path)
    (tmp_path / 'wasps' / 'readme.txt').write_text('not a picture')
    with pytest.raises(ValueError, match='readme.txt'): image_folder(tmp_path)

# --- data ---------------------------------------------------------------------------------------------------------

def test_mnist_few_shot():
    (x, y), (xv, yv) = mnist_few_shot(5)
    assert x.shape == (50, 3, 64, 64) and torch.bincount(y).tolist() == [5] * 10
    assert xv.shape == (500, 3, 64, 64) and torch.bincount(yv).tolist() == [50] * 10
    assert torch.equal(mnist_few_shot(20, seed=3)[1][0], xv)  # the held-out set depends on neither budget nor seed
    assert torch.equal(mnist_few_shot(5)[0][0], x) and not torch.equal(mnist_few_shot(5, seed=1)[0][0], x)
    x1, _ = mnist_few_shot(5, seed=1)[0]
    assert not any(torch.equal(a, b) for a in x1 for b in xv[::7])  # training draws never touch the held-out set
    assert x.min() >= -1 and x.max() <= 1
    with pytest.raises(ValueError, match='per_class'): mnist_few_shot(0)

def test_random_affine_identity_and_background():
    x = torch.full((2, 3, 16, 16), -1.)
    x[:, :, 6:10, 6:10] = 1.
    torch.testing.assert_close(random_affine(x, 0., 0., 0.), x, atol=1e-5, rtol=0)
    out = random_affine(x, 30., 0.2, 0.2, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.min() >= -1 - 1e-5 and out[..., 0, 0].allclose(torch.tensor(-1.))

# --- the comparison machinery ---------------------------------------------------------------------------------------

def test_compare_methods_over_seeds_is_reproducible():
    "A seed fixes a whole run: the same seed gives the same accuracy, and the table has mean and std over seeds."
    tiny = Recipe(epochs=1, freeze_epochs=1, bs=32)
    with torch_threads(1):
        table, runs = compare_methods(5, {'cnn': {'method': 'small CNN'}}, seeds=(0, 1), recipe=tiny)
        again = train_transfer('small CNN', *mnist_few_shot(5, seed=1), tiny, seed=1)
    assert list(table.columns) == ['seed 0', 'seed 1', 'mean', 'std']
    assert table.loc['cnn', 'seed 1'] == again.accuracy
    assert runs['cnn', 0].learn is not None and runs['cnn', 1].learn is None  # one learner kept per variant
    assert list(seconds_table(runs).index) == ['cnn']

def test_lr_sweep_restores_the_learner():
    learn = tiny_learner()
    before = [p.detach().clone() for p in learn.model.parameters()]
    sweep, steep = lr_sweep(learn, num_it=30, end_lr=1.)
    assert list(sweep.columns) == ['lr', 'loss', 'smoothed'] and 13 <= len(sweep) <= 30
    assert sweep.lr.iloc[0] < steep < sweep.lr.iloc[-1]
    assert all(torch.equal(a, b) for a, b in zip(before, learn.model.parameters()))
    assert not any(type(cb).__name__ == 'LossLog' for cb in learn.cbs)

def test_compare_methods_in_processes_gives_the_same_runs():
    "Two worker processes (spawned, one thread each) give the same table; the first seed's learner comes back rebuilt."
    tiny = Recipe(epochs=1, freeze_epochs=1, bs=32)
    variants = {'cnn': {'method': 'small CNN'}}
    with torch_threads(1): serial, _ = compare_methods(5, variants, seeds=(0, 1), recipe=tiny)
    table, runs = compare_methods(5, variants, seeds=(0, 1), recipe=tiny, workers=2)
    pd.testing.assert_frame_equal(table, serial)
    learn = runs['cnn', 0].learn
    assert learn is not None and runs['cnn', 1].learn is None
    x, y = learn.dls.valid.tensors[:2] if hasattr(learn.dls.valid, 'tensors') else mnist_few_shot(5)[1]
    learn.model.eval()
    with torch.no_grad(): acc = (learn.model(x).argmax(1) == y).float().mean().item()
    assert abs(acc - runs['cnn', 0].accuracy) < 1e-6  # the rebuilt model is the trained one

# --- the benchmark's tables and the two halves of a seed ------------------------------------------------------------

def test_bench_table_reads_the_committed_runs():
    from lessonlib.fine_tuning import bench_runs, bench_table
    runs = bench_runs()
    table = bench_table(10, ['fine_tune', 'small CNN, 4x the epochs'], runs)
    assert list(table.index) == ['fine_tune', 'small CNN, 4x the epochs']
    assert {'seed 0', 'seed 1', 'seed 2', 'mean', 'std', 'CPU s'} <= set(table.columns)
    row = runs[(runs.per_class == 10) & (runs.variant == 'fine_tune')].sort_values('seed')
    np.testing.assert_allclose(table.loc['fine_tune', ['seed 0', 'seed 1', 'seed 2']].astype(float), row.accuracy)
    assert table.loc['fine_tune', 'mean'] == pytest.approx(row.accuracy.mean())

def test_bench_sweeps_cover_three_seeds_and_their_full_range():
    from lessonlib.fine_tuning import bench_runs
    sweeps = bench_runs('fine_tuning_sweeps.csv')
    counts = sweeps.groupby(['seed', 'sweep']).size()
    assert len(counts) == 6 and (counts == 60).all()  # lr_find never stopped early: every sweep ran its 60 batches

def test_variant_args_fix_one_half_of_the_seed():
    from lessonlib.fine_tuning import variant_args
    _, train0, *_ = variant_args({'method': 'small CNN'}, 5, seed=0)
    _, train_d, _, _, opts_d = variant_args({'method': 'small CNN', 'draw_seed': 0}, 5, seed=2)
    _, train_t, _, _, opts_t = variant_args({'method': 'small CNN', 'train_seed': 0}, 5, seed=2)
    assert torch.equal(train_d[0], train0[0]) and opts_d['seed'] == 2  # images of seed 0, training of seed 2
    assert not torch.equal(train_t[0], train0[0]) and opts_t['seed'] == 0  # images of seed 2, training of seed 0
