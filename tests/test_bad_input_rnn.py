"""Bad input to lessonlib.rnn (issue 16): every case asserts the exception type and that the message names the
argument or the problem. Cases are grouped by kind with the markers of conftest.py."""
import math
import pytest
import torch
from torch import nn
import torch.nn.functional as F

from lessonlib.data import DataLoaders
from lessonlib.sgd import Learner
from lessonlib.rnn import (ARTARCallback, Dropout, GradientClip, LMDataLoader, LSTM, LSTMCell, LSTMLM, LockedDropout,
                           RegularisedLM, ResetStateCallback, SequenceLM, StatefulLM, ThreeWordLM, WeightDropout, generate,
                           generate_text, input_grad_norms, lm_loss, make_lstm, make_vocab, numericalize, regularised_learner,
                           word_windows, wrong_predictions)

VOCAB = ['.', 'one', 'two', 'three']
IDS = torch.randint(0, 4, (400,))

def lm_dls(ids=IDS): return DataLoaders(LMDataLoader(ids, 4, 5, device='cpu'), LMDataLoader(ids[:200], 4, 5, device='cpu'))

class NoActivations(nn.Module):
    "A language model that keeps no (raw, dropped) activations."
    def __init__(self): super().__init__(); self.emb, self.out = nn.Embedding(4, 3), nn.Linear(3, 4)
    def reset(self): pass
    def forward(self, x): return self.out(self.emb(x))

class ForgetsActivations(NoActivations):
    "Declares `activations` but never sets them."
    def __init__(self): super().__init__(); self.activations = None

@pytest.mark.wrong_kind
@pytest.mark.parametrize('call, exc, words', [
    (lambda: numericalize('one two', VOCAB), TypeError, r'tokens: got .one two., expected a list of words\. Split the text first'),
    (lambda: LMDataLoader(list(range(100))), TypeError, 'ids: got a list object|ids: got .*expected a torch.Tensor'),
    (lambda: LMDataLoader(IDS.float()), TypeError, 'ids: got a tensor of shape .*float32, expected a tensor of torch.int64 dtype'),
    (lambda: word_windows(IDS.tolist()), TypeError, 'ids: got'),
    (lambda: generate(StatefulLM(4, 3), torch.tensor([1., 2.])), TypeError, 'prompt: got a tensor'),
    (lambda: generate_text(SequenceLM(4, 3), ['one', 'two'], VOCAB), TypeError, 'prompt: got .* expected the prompt as a string'),
    (lambda: GradientClip('1'), TypeError, "max_norm: got '1'"),
    (lambda: input_grad_norms(SequenceLM(4, 3), torch.randn(2, 5), torch.zeros(2, 5, dtype=torch.long)), TypeError, 'x: got a tensor of shape'),
    (lambda: input_grad_norms(SequenceLM(4, 3), torch.zeros(2, 5, dtype=torch.long), torch.randn(2, 5)), TypeError, 'y: got a tensor of shape'),
    (lambda: SequenceLM(4, 3, 1.5), TypeError, 'n_layers: got 1.5'),
    (lambda: LSTMCell(3.0, 4), TypeError, 'ni: got 3.0'),
])
def test_wrong_kinds(call, exc, words):
    with pytest.raises(exc, match=words): call()

@pytest.mark.bad_value
@pytest.mark.parametrize('call, exc, words', [
    (lambda: word_windows(IDS, 0), ValueError, 'n: got 0, expected an integer >= 1'),
    (lambda: word_windows(IDS[:3], 3), ValueError, 'ids: need more than 3 tokens'),
    (lambda: word_windows(IDS.view(20, 20)), ValueError, 'ids: got a tensor of shape \\(20, 20\\).* 1 dimensions'),
    (lambda: LMDataLoader(IDS, bs=0), ValueError, 'bs: got 0'),
    (lambda: LMDataLoader(IDS, bs=64, seq_len=16), ValueError, 'ids: 400 tokens are too few for one batch of 64 rows'),
    (lambda: LMDataLoader(torch.tensor([], dtype=torch.long)), ValueError, 'ids: got a tensor of shape \\(0,\\).*non-empty'),
    (lambda: LMDataLoader(torch.tensor([0, 1, -1, 2] * 50)), ValueError, 'ids: .*token numbers >= 0'),
    (lambda: Dropout(1.0), ValueError, r'p: got 1.0, expected a number in \[0, 1\)'),
    (lambda: Dropout(-0.1), ValueError, 'p: got -0.1'),
    (lambda: LockedDropout(1.5), ValueError, 'p: got 1.5'),
    (lambda: WeightDropout(nn.LSTM(3, 3, batch_first=True), p=1), ValueError, 'p: got 1'),
    (lambda: WeightDropout(nn.Linear(3, 3), p=0.5), ValueError, "names: got None, expected names of Linear's parameters"),
    (lambda: GradientClip(0.), ValueError, 'max_norm: got 0.0, expected a number > 0'),
    (lambda: GradientClip(math.nan), ValueError, 'max_norm: got nan'),
    (lambda: ARTARCallback(alpha=-1.), ValueError, 'alpha: got -1.0, expected a number >= 0'),
    (lambda: generate(StatefulLM(4, 3), torch.tensor([1, 2]), temperature=-1.), ValueError, 'temperature: got -1.0'),
    (lambda: generate(StatefulLM(4, 3), torch.tensor([1, 2]), n_words=-3), ValueError, 'n_words: got -3'),
    (lambda: generate(StatefulLM(4, 3), torch.tensor([], dtype=torch.long)), ValueError, 'prompt: got a tensor of shape \\(0,\\)'),
    (lambda: wrong_predictions(SequenceLM(4, 3), torch.tensor([0, 1, 7, 2] * 20), VOCAB), ValueError, r'ids: .*token numbers in \[0, 4\)'),
    (lambda: RegularisedLM(4, 3, n_layers=0), ValueError, 'n_layers: got 0'),
    (lambda: LSTM(3, 4, 0), ValueError, 'n_layers: got 0'),
    (lambda: make_lstm(3, 4, 1, 'keras'), ValueError, "lstm must be 'ours' or 'torch', got 'keras'"),
    (lambda: numericalize(['one', 'eleventy'], VOCAB), ValueError, 'tokens: 1 are not in the vocabulary.*eleventy'),
    (lambda: input_grad_norms(SequenceLM(4, 3), torch.zeros(2, 5, dtype=torch.long), torch.zeros(2, dtype=torch.long)), ValueError,
     r'y: got a tensor of shape \(2,\).*2 dimensions\. Pass the batch.s targets'),
    (lambda: input_grad_norms(SequenceLM(4, 3), torch.zeros(2, 5, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long)), ValueError,
     r'y: got .*expected the targets of the batch, shaped like x \(2, 5\)'),
])
def test_bad_values(call, exc, words):
    with pytest.raises(exc, match=words): call()

@pytest.mark.silent
def test_transposed_or_misshaped_targets_are_refused_not_broadcast():
    pred, target = torch.randn(4, 6, 10), torch.randint(0, 10, (4, 6))
    with pytest.raises(ValueError, match=r'target: got a tensor of shape \(6, 4\).*transposed'): lm_loss(pred, target.T)
    with pytest.raises(ValueError, match=r'target: got a tensor of shape \(24,\)'): lm_loss(pred, target.flatten())  # same count, flat

@pytest.mark.silent
def test_nan_scores_and_empty_batches_are_refused_not_nan():
    pred, target = torch.randn(4, 6, 10), torch.randint(0, 10, (4, 6))
    pred[1, 2, 3] = float('nan')
    with pytest.raises(ValueError, match='pred: .*NaN or infinite'): lm_loss(pred, target)
    with pytest.raises(ValueError, match='pred: .*non-empty'): lm_loss(torch.randn(0, 6, 10), torch.randint(0, 10, (0, 6)))
    with pytest.raises(ValueError, match=r'target: .*token numbers in \[0, 10\)'): lm_loss(torch.randn(4, 6, 10), target + 10)

@pytest.mark.silent
@pytest.mark.parametrize('make', [lambda: StatefulLM(4, 3), lambda: SequenceLM(4, 3, 2), lambda: LSTMLM(4, 3, 2), lambda: RegularisedLM(4, 3, 2)])
def test_a_kept_state_is_not_broadcast_to_a_batch_of_another_size(make):
    model = make()
    model(torch.randint(0, 4, (4, 5)))
    with pytest.raises(ValueError, match=r'x: a batch of 1 rows, but the hidden state was kept for 4 rows; call model.reset\(\)'):
        model(torch.randint(0, 4, (1, 5)))  # a (4, nh) state would broadcast silently against one row

@pytest.mark.silent
def test_models_refuse_token_ids_outside_the_vocabulary():
    "Left to PyTorch's embedding: an IndexError, never a silent result (checking every batch would slow training)."
    for model in (ThreeWordLM(4, 3), StatefulLM(4, 3), SequenceLM(4, 3), LSTMLM(4, 3), RegularisedLM(4, 3)):
        with pytest.raises(IndexError, match='index out of range'): model(torch.tensor([[0, 1, 4]]))

@pytest.mark.wrong_order
def test_feeding_another_batch_size_without_reset_says_to_reset():
    model = LSTMLM(4, 3, 1)
    model(torch.randint(0, 4, (8, 5)))
    with pytest.raises(ValueError, match=r'call model.reset\(\) before feeding batches of another size'): model(torch.randint(0, 4, (2, 5)))
    model.reset(); assert model(torch.randint(0, 4, (2, 5))).shape == (2, 5, 4)

@pytest.mark.wrong_order
def test_artar_with_a_model_that_never_sets_its_activations():
    learn = Learner(lm_dls(), ForgetsActivations(), lm_loss, cbs=[ARTARCallback()], silent=True)
    with pytest.raises(RuntimeError, match='left .activations. as None'): learn.fit(1)

@pytest.mark.blame
@pytest.mark.parametrize('model, cb, exc, words', [
    (NoActivations(), ARTARCallback(), TypeError, r'model: got a NoActivations object, expected a model that sets `activations'),
    (nn.Sequential(nn.Embedding(4, 3), nn.Linear(3, 4)), ResetStateCallback(), TypeError, 'model: ResetStateCallback needs a model with a reset'),
])
def test_callbacks_blame_the_model(model, cb, exc, words):
    with pytest.raises(exc, match=words): Learner(lm_dls(), model, lm_loss, cbs=[cb], silent=True).fit(1)

@pytest.mark.blame
def test_grad_norms_and_mistakes_name_what_the_model_lacks():
    with pytest.raises(TypeError, match='model must keep its embedding in `model.emb`'):
        input_grad_norms(nn.Linear(3, 3), torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(TypeError, match='model: got .* expected a stateful language model with a reset'):
        wrong_predictions(nn.Sequential(nn.Embedding(4, 3), nn.Linear(3, 4)), torch.tensor([0, 1, 2, 3] * 20), VOCAB)

@pytest.mark.keyword
@pytest.mark.parametrize('kwargs, words', [
    (dict(p_outt=0.5), "unexpected keyword argument 'p_outt'. Did you mean 'p_out'"),
    (dict(weight_decays=1.), "unexpected keyword argument 'weight_decays'. Did you mean 'weight_decay'"),
    (dict(keep_states=False), "unexpected keyword argument 'keep_states'. Did you mean 'keep_state'"),
])
def test_misspelled_recipe_settings(kwargs, words):
    with pytest.raises(TypeError, match=words): regularised_learner(**kwargs)
