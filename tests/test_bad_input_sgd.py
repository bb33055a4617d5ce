"""Bad input to lessonlib.sgd (issue 16): each mistake gets an error naming the argument or the real problem, never a silent result."""
import subprocess, sys
from functools import partial
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lessonlib.data import DataLoaders
from lessonlib.sgd import (Callback, CosineWarmup, Learner, LogisticRegression, NonFiniteLossError, accuracy, lr_explorer,
                           lrs_for_groups, mnist_dls, mse, sgd_path, two_layer_net)

def dls(n=64, width=3, device='cpu'):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, width, generator=gen); y = x.sum(1)
    return DataLoaders.from_tensors((x[:48], y[:48]), (x[48:], y[48:]), bs=16, seed=0, device=device)

def learner(**kwargs):
    return Learner(dls(), nn.Linear(3, 1), mse, silent=True, **kwargs)

class Noop(Callback): pass

# ---------- wrong argument kinds

@pytest.mark.wrong_kind
def test_metrics_not_in_a_list():
    with pytest.raises(TypeError, match=r'metrics: .*Wrap it in a list: metrics=\[accuracy\]'):
        Learner(dls(), nn.Linear(3, 2), F.cross_entropy, metrics=accuracy)

@pytest.mark.wrong_kind
def test_callback_not_in_a_list():
    with pytest.raises(TypeError, match=r'cbs: .*Wrap it in a list: cbs=\[CosineWarmup'):
        Learner(dls(), nn.Linear(3, 1), mse, cbs=CosineWarmup(0.1))

@pytest.mark.wrong_kind
def test_callback_class_instead_of_instance():
    with pytest.raises(TypeError, match=r'cbs\[0\]: .*Create it: Noop'): Learner(dls(), nn.Linear(3, 1), mse, cbs=[Noop])

@pytest.mark.wrong_kind
def test_something_that_is_not_a_callback():
    with pytest.raises(TypeError, match=r'cbs\[0\]: .*a Callback'): Learner(dls(), nn.Linear(3, 1), mse, cbs=[print])

@pytest.mark.wrong_kind
def test_fit_callbacks_not_in_a_list():
    with pytest.raises(TypeError, match=r'cbs: .*Wrap it in a list'): learner().fit(1, cbs=Noop())

@pytest.mark.wrong_kind
def test_optimizer_instance_as_opt_func():
    model = nn.Linear(3, 1)
    with pytest.raises(TypeError, match=r'opt_func: .*Pass the class, not an optimizer: opt_func=SGD'):
        Learner(dls(), model, mse, opt_func=torch.optim.SGD(model.parameters(), lr=0.1))

@pytest.mark.wrong_kind
def test_a_tuple_instead_of_dataloaders():
    d = dls()
    with pytest.raises(TypeError, match=r'dls: got a tuple.*DataLoaders\(train_dl, valid_dl\)'): Learner((d.train, d.valid), nn.Linear(3, 1), mse)

@pytest.mark.wrong_kind
def test_a_torch_dataloader_instead_of_dataloaders():
    from torch.utils.data import DataLoader, TensorDataset
    dl = DataLoader(TensorDataset(torch.randn(8, 3), torch.randn(8)), batch_size=4)
    with pytest.raises(TypeError, match=r'dls: .*A torch DataLoader is a single loader'): Learner(dl, nn.Linear(3, 1), mse)

@pytest.mark.wrong_kind
def test_model_class_instead_of_instance():
    with pytest.raises(TypeError, match=r'model: .*Create it: model=LogisticRegression\(\)'): Learner(dls(), LogisticRegression, F.cross_entropy)

@pytest.mark.wrong_kind
def test_model_that_is_a_function():
    with pytest.raises(TypeError, match=r'model: got the function .*nn.Module'): Learner(dls(), lambda x: x, mse)

@pytest.mark.wrong_kind
def test_loss_class_instead_of_instance():
    with pytest.raises(TypeError, match=r'loss_func: .*Create it: loss_func=CrossEntropyLoss\(\)'):
        Learner(dls(), nn.Linear(3, 2), nn.CrossEntropyLoss)

@pytest.mark.wrong_kind
def test_splitter_that_is_not_a_function():
    with pytest.raises(TypeError, match='splitter'): Learner(dls(), nn.Linear(3, 1), mse, splitter=[1, 2])

@pytest.mark.wrong_kind
def test_predict_on_a_list():
    with pytest.raises(TypeError, match=r'x: .*torch.as_tensor'): learner().predict([0.1, 0.2, 0.3])

# ---------- calls in the wrong order

@pytest.mark.wrong_order
def test_history_before_any_fit():
    with pytest.raises(RuntimeError, match=r'recorder.history: nothing is recorded before the first fit.*learn.fit'):
        learner().recorder.history

@pytest.mark.wrong_order
def test_plot_loss_before_any_fit():
    with pytest.raises(RuntimeError, match='recorder.plot_loss: nothing to plot before the first fit'):
        learner().recorder.plot_loss()

@pytest.mark.wrong_order
@pytest.mark.parametrize('name, module', [('fit_one_cycle', 'lessonlib.optimizers'), ('lr_find', 'lessonlib.optimizers'),
                                          ('fine_tune', 'lessonlib.fine_tuning')])
def test_a_later_lessons_method_before_its_import(name, module, tmp_path):
    "In a fresh process, before the later lesson's module is imported, the AttributeError says where the method comes from."
    code = ("import torch; from torch import nn; from lessonlib.data import DataLoaders; from lessonlib.sgd import Learner, mse\n"
            "x = torch.randn(8, 3); dls = DataLoaders.from_tensors((x, x.sum(1)), (x, x.sum(1)), bs=4, device='cpu')\n"
            f"try: Learner(dls, nn.Linear(3, 1), mse).{name}\n"
            "except AttributeError as e: print(e)\n")
    out = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert f'import {module}' in out.stdout and name in out.stdout

@pytest.mark.wrong_order
def test_load_before_any_save(tmp_path):
    with pytest.raises(FileNotFoundError, match='load: there is no checkpoint'): learner().load(tmp_path / 'model.pth')

# ---------- blame: the message names the real cause

def nan_dls(where):
    x, y = torch.randn(64, 3), torch.randn(64)
    if where == 'inputs': x[5, 1] = float('nan')
    if where == 'targets': y[7] = float('inf')
    return DataLoaders.from_tensors((x, y), (x, y), bs=16, seed=0, device='cpu')

@pytest.mark.blame
@pytest.mark.parametrize('where', ['inputs', 'targets'])
def test_nan_in_the_data_blames_the_data(where):
    learn = Learner(nan_dls(where), nn.Linear(3, 1), mse, lr=0.01, silent=True)
    with pytest.raises(NonFiniteLossError, match=f"batch's {where} hold 1 NaN or infinite") as info: learn.fit(1)
    assert info.value.cause == where and 'not the learning rate' in str(info.value)

@pytest.mark.blame
def test_a_learning_rate_far_too_high_blames_the_learning_rate():
    learn = Learner(dls(), nn.Linear(3, 1), mse, lr=1e8, silent=True)
    with pytest.raises(NonFiniteLossError, match=r'learning rate \(1e\+08\) is the likely cause.*lr_find') as info: learn.fit(3)
    assert info.value.cause in ('parameters', 'predictions')

@pytest.mark.blame
def test_a_loss_that_cannot_take_its_input_blames_the_loss():
    log_loss = lambda pred, target: -torch.log(pred.view(-1) - pred.view(-1)).mean()  # log(0): a broken loss on finite numbers
    learn = Learner(dls(), nn.Linear(3, 1), log_loss, silent=True)
    with pytest.raises(NonFiniteLossError, match='the loss function returned a non-finite value') as info: learn.fit(1)
    assert info.value.cause == 'loss'

@pytest.mark.blame
def test_a_model_narrower_than_the_data_names_the_shapes():
    with pytest.raises(ValueError, match=r"model: it cannot take the data's input batches, of shape \(16, 3\).*width 5"):
        Learner(dls(), nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 1)), mse, silent=True).fit(1)

@pytest.mark.blame
def test_logistic_regression_on_unflattened_images():
    with pytest.raises(ValueError, match=r'x: got a tensor of shape \(2, 28, 28\).*Flatten it first'):
        LogisticRegression()(torch.randn(2, 28, 28))

# ---------- used to be silently wrong

@pytest.mark.silent
@pytest.mark.parametrize('lr, match', [(slice(0, 1e-2), 'lr.start: got 0'), (slice(-1e-3, 1e-2), 'lr.start: got -0.001'),
                                       (slice(1e-2, 1e-4), 'a start no larger than the stop'), (slice(-1e-2), 'lr.stop: got -0.01'),
                                       (slice(1e-4, 1e-2, 2), 'without a step')])
def test_slices_that_would_train_wrongly(lr, match):
    with pytest.raises(ValueError, match=match): lrs_for_groups(lr, 3)

@pytest.mark.silent
def test_a_negative_learning_rate_in_a_list():
    with pytest.raises(ValueError, match=r'lr\[1\]: got -0.1'): lrs_for_groups([0.1, -0.1], 2)

@pytest.mark.silent
def test_fit_refuses_a_bad_slice_before_training():
    learn = Learner(dls(), nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1)), mse, splitter=lambda m: [m[0].parameters(), m[1].parameters()], silent=True)
    with pytest.raises(ValueError, match='lr.start'): learn.fit(1, lr=slice(0, 0.1))
    assert learn.opt is None

@pytest.mark.silent
def test_accuracy_of_one_score_per_row():
    with pytest.raises(ValueError, match='pred: .*one row of class scores per target'): accuracy(torch.randn(8), torch.randint(0, 2, (8,)))

@pytest.mark.silent
def test_accuracy_with_one_hot_targets():
    with pytest.raises(ValueError, match='pred: '): accuracy(torch.randn(8, 3), F.one_hot(torch.randint(0, 3, (8,)), 3).float())

@pytest.mark.silent
def test_accuracy_with_float_labels():
    with pytest.raises(TypeError, match=r'target: .*class indices.*target.long\(\)'): accuracy(torch.randn(8, 3), torch.ones(8))

@pytest.mark.silent
def test_accuracy_of_an_empty_batch():
    with pytest.raises(ValueError, match='non-empty batch'): accuracy(torch.randn(0, 3), torch.zeros(0, dtype=torch.long))

@pytest.mark.silent
def test_mse_of_mismatched_sizes():
    with pytest.raises(ValueError, match=r'pred: .*one prediction per target \(targets of shape \(8,\)\)'): mse(torch.randn(8, 2), torch.randn(8))

@pytest.mark.silent
def test_mse_of_an_empty_batch():
    with pytest.raises(ValueError, match='non-empty batch: mse of nothing is NaN'): mse(torch.randn(0), torch.randn(0))

@pytest.mark.silent
def test_an_empty_validation_set_is_refused_before_training():
    from torch.utils.data import DataLoader, TensorDataset
    x = torch.randn(16, 3)
    empty = DataLoaders(dls().train, DataLoader(TensorDataset(x[:0], x[:0].sum(1)), batch_size=4))
    with pytest.raises(ValueError, match='dls.valid: .*The valid set is empty'): Learner(empty, nn.Linear(3, 1), mse, silent=True).fit(1)

@pytest.mark.silent
def test_a_diverged_fit_reports_no_nan_rows():
    learn = Learner(dls(), nn.Linear(3, 1), mse, lr=1e8, silent=True)
    with pytest.raises(NonFiniteLossError): learn.fit(3)
    assert not learn.recorder.history.isna().any().any() and np.isfinite(learn.recorder.losses).all()

# ---------- misspelled keywords

@pytest.mark.keyword
def test_learner_keyword_typo():
    with pytest.raises(TypeError, match="Learner.__init__ got an unexpected keyword argument 'metric'. Did you mean 'metrics'"):
        Learner(dls(), nn.Linear(3, 1), mse, metric=[accuracy])

@pytest.mark.keyword
def test_fit_keyword_typo():
    with pytest.raises(TypeError, match="'n_epochs'. Did you mean 'n_epoch'"): learner().fit(n_epochs=2)

@pytest.mark.keyword
def test_fit_keyword_from_another_function():
    with pytest.raises(TypeError, match="unexpected keyword argument 'lr_max'. It takes: cbs, lr, n_epoch"): learner().fit(1, lr_max=0.1)

# ---------- out-of-range values and ill-shaped data

@pytest.mark.bad_value
@pytest.mark.parametrize('n_epoch, error', [(0, ValueError), (-2, ValueError), (1.5, TypeError), (None, TypeError)])
def test_fit_n_epoch(n_epoch, error):
    with pytest.raises(error, match='n_epoch: got'): learner().fit(n_epoch)

@pytest.mark.bad_value
@pytest.mark.parametrize('lr', [float('nan'), float('inf'), -0.1])
def test_learner_lr(lr):
    with pytest.raises(ValueError, match='lr: got'): Learner(dls(), nn.Linear(3, 1), mse, lr=lr)

@pytest.mark.bad_value
def test_too_many_learning_rates_for_the_groups():
    with pytest.raises(ValueError, match='Got 2 learning rates for 1 parameter groups'): learner().fit(1, lr=[0.1, 0.2])

@pytest.mark.bad_value
def test_save_into_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'): learner().save(tmp_path / 'nope' / 'model.pth')

@pytest.mark.bad_value
def test_save_onto_a_folder(tmp_path):
    with pytest.raises(IsADirectoryError, match='is a folder'): learner().save(tmp_path)

@pytest.mark.bad_value
def test_load_a_checkpoint_of_another_shape(tmp_path):
    small = Learner(dls(), nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1)), mse, silent=True)
    path = small.save(tmp_path / 'small.pth')
    big = Learner(dls(), nn.Sequential(nn.Linear(3, 8), nn.Linear(8, 1)), mse, silent=True)
    with pytest.raises(ValueError, match=r'another shape: 0.weight is \(4, 3\) in the checkpoint but \(8, 3\) in this model'):
        big.load(path)

@pytest.mark.bad_value
def test_load_a_checkpoint_of_another_architecture(tmp_path):
    path = learner().save(tmp_path / 'linear.pth')
    with pytest.raises(ValueError, match=r"the checkpoint lacks \['0.weight'"):
        Learner(dls(), nn.Sequential(nn.Linear(3, 1)), mse, silent=True).load(path)

@pytest.mark.bad_value
def test_load_a_file_that_is_not_a_checkpoint(tmp_path):
    (tmp_path / 'notes.pth').write_text('not a checkpoint')
    with pytest.raises(ValueError, match='is not a checkpoint that loads with weights_only=True'): learner().load(tmp_path / 'notes.pth')

@pytest.mark.bad_value
def test_predict_on_a_batch():
    with pytest.raises(ValueError, match=r'x: got a tensor of shape \(5, 3\).*That is a batch'): learner().predict(torch.randn(5, 3))

@pytest.mark.wrong_kind
def test_get_preds_of_both_loaders():
    learn = learner()
    with pytest.raises(TypeError, match=r'dl: .*Pass learn.dls.train or learn.dls.valid'): learn.get_preds(learn.dls)

@pytest.mark.bad_value
def test_get_preds_of_an_empty_loader():
    with pytest.raises(ValueError, match='dl: .*at least one batch'): learner().get_preds([])

@pytest.mark.bad_value
@pytest.mark.parametrize('kwargs, match', [({'lr': 0.}, 'lr: got 0.0'), ({'lr': 0.5, 'steps': -1}, 'steps: got -1'),
                                           ({'lr': 0.5, 'w0': float('nan')}, 'w0: got nan')])
def test_sgd_path_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match): sgd_path(**kwargs)

@pytest.mark.bad_value
@pytest.mark.parametrize('kwargs, match', [({'lr_max': 0}, 'lr_max: got 0'), ({'lr_max': 0.1, 'warm': 1.0}, 'warm: got 1.0')])
def test_cosine_warmup_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match): CosineWarmup(**kwargs)

@pytest.mark.bad_value
def test_two_layer_net_width():
    with pytest.raises(ValueError, match='hidden: got 0'): two_layer_net(0)

@pytest.mark.bad_value
def test_mnist_dls_shuffle_seed():
    with pytest.raises(TypeError, match='shuffle_seed: got'): mnist_dls(shuffle_seed='one')

# ---------- explorer values

@pytest.mark.widget
@pytest.mark.parametrize('kwargs, match', [({'lr': 10.}, r'lr: got 10.0, expected a number in \[0.001, 3.0\]'),
                                           ({'lr': 0.}, 'lr: got 0.0'), ({'steps': 0}, 'steps: got 0'), ({'steps': 1000}, 'steps: got 1000')])
def test_explorer_refuses_out_of_range_starts(kwargs, match):
    with pytest.raises(ValueError, match=match): lr_explorer(**kwargs)

@pytest.mark.widget
def test_explorer_shows_a_clamped_learning_rate():
    ex = lr_explorer()
    ex.lr_slider.value = 50.
    assert ex.lr_slider.value == pytest.approx(3.)
    assert 'learning rate 50 is outside the slider' in ex.label.value and 'clamped to 3' in ex.label.value
    ex.lr_slider.value = 0.5
    assert 'clamped' not in ex.label.value  # the note goes with the next change

@pytest.mark.widget
def test_explorer_shows_a_clamp_that_changes_nothing():
    ex = lr_explorer()
    ex.steps_slider.value = 60
    ex.steps_slider.value = 500  # already at the top: no change event, but the clamp still shows
    assert ex.steps_slider.value == 60 and 'steps 500 is outside' in ex.label.value

@pytest.mark.widget
def test_explorer_extreme_values_never_raise():
    ex = lr_explorer()
    for lr in (1e-3, 3., 2.0001, 1.9999):
        for steps in (1, 60):
            ex.lr_slider.value, ex.steps_slider.value = lr, steps
            assert ex.regime in ('crawling', 'converging', 'oscillating', 'diverging')
