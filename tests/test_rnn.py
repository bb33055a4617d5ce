"""Tests of lessonlib.rnn: LSTM against PyTorch, language-model batches, dropout, AR/TAR, state reset and detach, sampling."""
import subprocess, sys
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from lessonlib.data import DataLoaders, TensorLoader
from lessonlib.sgd import Callback, Learner, accuracy
from lessonlib.rnn import (ARTARCallback, Dropout, GradientClip, KeepStateCallback, LMDataLoader, LSTM, LSTMCell, LSTMLM,
                           LockedDropout, LoopLM, REGULARISED, RegularisedLM, ResetStateCallback, SequenceLM, StatefulLM,
                           ThreeWordLM, WeightDropout, ar_tar_penalty, clip_grad_norm, decay_groups, decode, fit_regularised,
                           generate, generate_text, human_numbers_lm, input_grad_norms, lm_loss, make_lstm, make_vocab,
                           most_common_baseline, numericalize, regularised_learner, word_windows, wrong_predictions)


def leaf(t): return t.detach().clone().requires_grad_()

# ---------- tokens

def test_vocab_numericalize_decode():
    tokens = 'one . two . one hundred . one'.split()
    vocab = make_vocab(tokens)
    assert vocab == ['.', 'one', 'hundred', 'two']  # by frequency, ties alphabetical
    ids = numericalize(tokens, vocab)
    assert ids.dtype == torch.long and decode(ids, vocab) == ' '.join(tokens)
    with pytest.raises(ValueError, match='tokens: 1 are not in the vocabulary'): numericalize(['zillion'], vocab)

def test_baseline_and_windows():
    token, acc = most_common_baseline(torch.tensor([0, 1, 1, 2]), torch.tensor([1, 1, 0, 2]))
    assert token == 1 and acc == pytest.approx(0.5)
    ids = torch.arange(11)
    x, y = word_windows(ids, 3)
    assert x.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]] and y.tolist() == [3, 6, 9]
    with pytest.raises(ValueError, match='n: got 0'): word_windows(ids, 0)
    with pytest.raises(ValueError, match='ids: need more than 3 tokens'): word_windows(torch.arange(3), 3)

# ---------- language-model batches

def test_lm_batches_rows_targets_and_continuity():
    ids = torch.arange(1000)
    dl = LMDataLoader(ids, bs=4, seq_len=7, device='cpu')
    batches = list(dl)
    assert len(batches) == len(dl) == (999 // 4) // 7
    xs = torch.cat([x for x, _ in batches], dim=1); ys = torch.cat([y for _, y in batches], dim=1)
    per_row = 999 // 4
    for r in range(4):  # each row is one contiguous piece of the stream, read in order, each token once
        assert xs[r].tolist() == list(range(r * per_row, r * per_row + xs.shape[1]))
    assert torch.equal(ys, xs + 1)  # the target is the input moved by one
    assert xs.unique().numel() == xs.numel()  # no token appears twice in an epoch
    for (x0, _), (x1, _) in zip(batches, batches[1:]):
        assert torch.equal(x1[:, 0], x0[:, -1] + 1)  # row r of the next batch continues row r
    assert all(x.shape == (4, 7) and y.shape == (4, 7) for x, y in batches)
    assert [x.tolist() for x, _ in LMDataLoader(ids, 4, 7, device='cpu')] == [x.tolist() for x, _ in batches]  # same every epoch

def test_lm_batches_last_only_and_errors():
    ids = torch.arange(200)
    for (x, y), (_, y_all) in zip(LMDataLoader(ids, 4, 5, last_only=True, device='cpu'), LMDataLoader(ids, 4, 5, device='cpu')):
        assert torch.equal(y, y_all[:, -1]) and torch.equal(y, x[:, -1] + 1)
    with pytest.raises(ValueError, match='bs: got 0'): LMDataLoader(ids, bs=0)
    with pytest.raises(TypeError, match='seq_len: got 2.5'): LMDataLoader(ids, seq_len=2.5)
    with pytest.raises(TypeError, match='ids: got a tensor'): LMDataLoader(ids.float())
    with pytest.raises(ValueError, match='too few for one batch'): LMDataLoader(ids, bs=64, seq_len=16)

def test_human_numbers_lm():
    dls, vocab = human_numbers_lm(bs=32, seq_len=8, device='cpu')
    assert len(vocab) == 30 and vocab[0] == '.'
    x, y = next(iter(dls.train))
    assert x.shape == y.shape == (32, 8)
    assert decode(x[0], vocab).startswith('one . two . three')

# ---------- models: the loop and the state

def test_loop_equals_three_words_and_sequence_equals_stateful():
    x = torch.randint(0, 30, (8, 3))
    three, looped = ThreeWordLM(30, 16), LoopLM(30, 16)
    looped.load_state_dict(three.state_dict())
    assert_close(looped(x), three(x))
    seq, stateful = SequenceLM(30, 16), StatefulLM(30, 16)
    stateful.load_state_dict({k.replace('hidden.0', 'hidden'): v for k, v in seq.state_dict().items()})
    assert_close(seq(x)[:, -1], stateful(x))
    assert_close(seq(x)[:, -1], stateful(x))  # and again with the kept states
    with pytest.raises(ValueError, match='n_layers: got 0'): SequenceLM(30, 16, 0)

@pytest.mark.parametrize('make', [lambda: StatefulLM(30, 8), lambda: SequenceLM(30, 8, 2), lambda: LSTMLM(30, 8, 2),
                                  lambda: LSTMLM(30, 8, 2, lstm='torch'), lambda: RegularisedLM(30, 8, 2),
                                  lambda: RegularisedLM(30, 8, 2, lstm='ours', locked=True, p_weight=0.3)])
def test_state_is_kept_detached_and_no_gradient_reaches_the_previous_batch(make):
    model = make().eval()  # eval: no dropout, so two runs can be compared exactly
    x1, x2 = torch.randint(0, 30, (4, 5)), torch.randint(0, 30, (4, 5))
    model(x1)
    kept = model.h if hasattr(model, 'h') else model.state if hasattr(model, 'state') else model.states
    flat = [kept] if torch.is_tensor(kept) else [t for s in (kept if isinstance(kept, list) else [kept]) for t in s]
    assert all(t.grad_fn is None and not t.requires_grad for t in flat)
    # without the detach, the second backward would have to go through the first batch's freed graph and fail
    model.zero_grad(); model(x2).pow(2).mean().backward()
    model.zero_grad(); model(x1).pow(2).mean().backward()
    assert all(p.grad is not None and p.grad.isfinite().all() for p in model.parameters() if p.requires_grad)

def test_stateful_gradient_stops_at_the_batch_boundary():
    model = SequenceLM(30, 8)
    x1, x2 = torch.randint(0, 30, (4, 5)), torch.randint(0, 30, (4, 5))
    model(x1); h = model.h.clone()
    model.zero_grad(); model(x2).pow(2).mean().backward()
    ours = [p.grad.clone() for p in model.parameters()]
    fresh = SequenceLM(30, 8); fresh.load_state_dict(model.state_dict()); fresh.h = h  # same state as a constant
    fresh.zero_grad(); fresh(x2).pow(2).mean().backward()
    for a, p in zip(ours, fresh.parameters()): assert_close(a, p.grad)

def test_wrong_batch_size_with_kept_state_is_a_clear_error():
    for model in (StatefulLM(30, 8), SequenceLM(30, 8), LSTMLM(30, 8), RegularisedLM(30, 8)):
        model(torch.randint(0, 30, (4, 3)))
        with pytest.raises(ValueError, match='call model.reset'): model(torch.randint(0, 30, (2, 3)))
        model.reset(); model(torch.randint(0, 30, (2, 3)))

# ---------- LSTM against PyTorch

def test_lstm_cell_matches_torch_over_several_steps_values_and_gradients():
    theirs = nn.LSTMCell(5, 7); ours = LSTMCell.from_torch(theirs)
    xs = torch.randn(6, 3, 5)
    h0, c0 = torch.randn(3, 7), torch.randn(3, 7)
    xa, xb, ha, hb, ca, cb = leaf(xs), leaf(xs), leaf(h0), leaf(h0), leaf(c0), leaf(c0)
    sa, sb = (ha, ca), (hb, cb)
    outs_a, outs_b = [], []
    for t in range(6):
        sa, sb = ours(xa[t], sa), theirs(xb[t], sb)
        outs_a.append(sa[0]); outs_b.append(sb[0])
    assert_close(sa[0], sb[0]); assert_close(sa[1], sb[1])
    (torch.stack(outs_a).sin().sum() + sa[1].sum()).backward()
    (torch.stack(outs_b).sin().sum() + sb[1].sum()).backward()
    for a, b in ((xa, xb), (ha, hb), (ca, cb)): assert_close(a.grad, b.grad)
    assert_close(ours.ih.weight.grad, theirs.weight_ih.grad); assert_close(ours.hh.weight.grad, theirs.weight_hh.grad)
    assert_close(ours.ih.bias.grad, theirs.bias_ih.grad); assert_close(ours.hh.bias.grad, theirs.bias_hh.grad)

def test_lstm_cell_defaults_and_errors():
    theirs = nn.LSTMCell(4, 3); ours = LSTMCell.from_torch(theirs)
    x = torch.randn(2, 4)
    for a, b in zip(ours(x), theirs(x)): assert_close(a, b)  # no state given: zeros
    with pytest.raises(ValueError, match=r'input must be \(bs, 4\)'): ours(torch.randn(2, 5))
    bound = 1 / 3 ** 0.5
    assert all(p.abs().max() <= bound for p in LSTMCell(4, 3).parameters())  # PyTorch's initialisation range

@pytest.mark.parametrize('n_layers', [1, 2])
def test_lstm_layer_matches_torch_values_and_gradients(n_layers):
    theirs = nn.LSTM(5, 6, n_layers, batch_first=True); ours = LSTM.from_torch(theirs)
    x = torch.randn(3, 8, 5)
    h0, c0 = torch.randn(n_layers, 3, 6), torch.randn(n_layers, 3, 6)
    xa, xb, ha, hb = leaf(x), leaf(x), leaf(h0), leaf(h0)
    out_a, (h_a, c_a) = ours(xa, (ha, c0)); out_b, (h_b, c_b) = theirs(xb, (hb, c0))
    assert_close(out_a, out_b); assert_close(h_a, h_b); assert_close(c_a, c_b)
    (out_a.pow(2).sum() + c_a.sum()).backward(); (out_b.pow(2).sum() + c_b.sum()).backward()
    assert_close(xa.grad, xb.grad); assert_close(ha.grad, hb.grad)
    for l, cell in enumerate(ours.cells):
        assert_close(cell.ih.weight.grad, getattr(theirs, f'weight_ih_l{l}').grad)
        assert_close(cell.hh.weight.grad, getattr(theirs, f'weight_hh_l{l}').grad)
        assert_close(cell.ih.bias.grad, getattr(theirs, f'bias_ih_l{l}').grad)
        assert_close(cell.hh.bias.grad, getattr(theirs, f'bias_hh_l{l}').grad)

def test_lstm_layer_errors_and_make_lstm():
    with pytest.raises(ValueError, match='batch_first=True'): LSTM.from_torch(nn.LSTM(3, 4))
    with pytest.raises(ValueError, match=r'x must be \(bs, seq_len, 3\)'): LSTM(3, 4)(torch.randn(2, 3))
    with pytest.raises(ValueError, match='n_layers: got 0'): LSTM(3, 4, 0)
    assert isinstance(make_lstm(3, 4, 2, 'ours'), LSTM) and isinstance(make_lstm(3, 4, 2, 'torch'), nn.LSTM)
    with pytest.raises(ValueError, match="lstm must be 'ours' or 'torch'"): make_lstm(3, 4, 1, 'keras')

def test_lstm_models_ours_and_torch_agree_with_copied_weights():
    torch_lm, ours_lm = LSTMLM(30, 8, 2, lstm='torch'), LSTMLM(30, 8, 2, lstm='ours')
    ours_lm.emb.load_state_dict(torch_lm.emb.state_dict()); ours_lm.out.load_state_dict(torch_lm.out.state_dict())
    ours_lm.rnn = LSTM.from_torch(torch_lm.rnn)
    x = torch.randint(0, 30, (4, 6))
    for _ in range(2): assert_close(ours_lm(x), torch_lm(x))  # twice: the kept states agree too

# ---------- regularisation

def test_dropout_train_and_eval_behaviour_like_torch():
    x = torch.randn(400, 300)
    drop = Dropout(0.25)
    out = drop(x)
    kept = out != 0
    assert (1 - kept.float().mean()).item() == pytest.approx(0.25, abs=0.01)
    assert_close(out[kept], x[kept] / 0.75)  # survivors scaled by 1/(1-p)
    ones = torch.ones(400, 300)
    assert drop(ones).mean().item() == pytest.approx(1.0, abs=0.01)  # expectation preserved
    assert torch.equal(drop.eval()(x), x) and torch.equal(Dropout(0.)(x), x)
    drop.train()
    torch.manual_seed(3); a = drop(x)
    torch.manual_seed(3); b = nn.Dropout(0.25)(x)
    assert torch.equal(a, b)  # the very same draw as PyTorch's
    xa, xb = leaf(x), leaf(x)
    torch.manual_seed(4); Dropout(0.25)(xa).sum().backward()
    torch.manual_seed(4); nn.Dropout(0.25)(xb).sum().backward()
    assert_close(xa.grad, xb.grad)
    for bad in (-0.1, 1, 1.5, True, 'half'):
        with pytest.raises((ValueError, TypeError), match='p: got'): Dropout(bad)

def test_ar_tar_penalty_value():
    raw = torch.randn(2, 5, 3); dropped = raw * 2
    expected = 2. * (dropped ** 2).mean() + 1. * ((raw[:, 1:] - raw[:, :-1]) ** 2).mean()
    assert_close(ar_tar_penalty(raw, dropped, 2., 1.), expected)
    assert_close(ar_tar_penalty(raw, dropped, 0., 0.), torch.tensor(0.))
    assert_close(ar_tar_penalty(raw[:, :1], dropped[:, :1], 0., 5.), torch.tensor(0.))  # one step: nothing to compare

class _Probe(nn.Module):
    "A tiny stateful model that logs resets and keeps AR/TAR outputs."
    def __init__(self):
        super().__init__(); self.emb, self.out = nn.Embedding(30, 4), nn.Linear(4, 30); self.log, self.activations = [], None
    def reset(self): self.log.append('reset train' if self.training else 'reset valid')
    def forward(self, x):
        self.log.append('batch train' if self.training else 'batch valid')
        raw = self.emb(x); self.activations = (raw, raw * 0.5)
        return self.out(self.activations[1])

def probe_dls():
    ids = torch.randint(0, 30, (300,))
    return DataLoaders(LMDataLoader(ids, 4, 5, device='cpu'), LMDataLoader(ids[:150], 4, 5, device='cpu'))

def test_reset_happens_at_the_start_of_each_epoch_and_of_validation():
    model = _Probe()
    learn = Learner(probe_dls(), model, lm_loss, cbs=[ResetStateCallback()], progress=False)
    learn.fit(2)
    log = model.log
    n_train, n_valid = len(learn.dls.train), len(learn.dls.valid)
    epoch = ['reset train'] + ['batch train'] * n_train + ['reset valid'] + ['batch valid'] * n_valid
    assert log == epoch * 2
    with pytest.raises(TypeError, match='needs a model with a reset'):
        Learner(probe_dls(), nn.Linear(3, 3), lm_loss, cbs=[ResetStateCallback()], progress=False).fit(1)

def test_artar_callback_adds_the_penalty_in_training_only():
    seen = []
    class Spy(Callback):
        order = 1  # after ARTARCallback (order 0)
        def after_loss(self):
            m = self.learn.model
            seen.append((self.learn.training, self.learn.loss.item(), lm_loss(self.learn.pred, self.learn.yb).item(),
                         ar_tar_penalty(*m.activations, 3., 0.5).item()))
    learn = Learner(probe_dls(), _Probe(), lm_loss, cbs=[ARTARCallback(3., 0.5), Spy()], progress=False)
    learn.fit(1)
    assert any(t for t, *_ in seen) and any(not t for t, *_ in seen)
    for training, loss, plain, penalty in seen:
        assert penalty > 0
        assert loss == pytest.approx(plain + penalty if training else plain, rel=1e-5)
    with pytest.raises(TypeError, match='activations'):
        Learner(probe_dls(), SequenceLM(30, 4), lm_loss, cbs=[ARTARCallback()], progress=False).fit(1)

def test_regularised_model_ties_weights_and_swaps_lstm():
    m = RegularisedLM(30, 8, 2, tie_weights=True)
    assert m.out.weight is m.emb.weight
    untied = RegularisedLM(30, 8, 2, tie_weights=False)
    assert sum(p.numel() for p in untied.parameters()) - sum(p.numel() for p in m.parameters()) == 30 * 8
    assert all(isinstance(r, LSTM) for r in RegularisedLM(30, 8, 2, lstm='ours').rnns)
    assert all(isinstance(r, nn.LSTM) for r in m.rnns)  # nn.LSTM by default, for speed
    x = torch.randint(0, 30, (4, 6))
    out = m(x)
    assert out.shape == (4, 6, 30) and m.activations[0].shape == m.activations[1].shape == (4, 6, 8)
    m.eval(); m.reset(); a = m(x); m.reset(); assert torch.equal(a, m(x))  # eval: no dropout, deterministic

def test_a_short_training_learns(one_thread):
    dls, vocab = human_numbers_lm(bs=32, seq_len=16, device='cpu')
    dls = DataLoaders(LMDataLoader(dls.train.x.flatten()[:12000], 32, 16, device='cpu'),
                      LMDataLoader(dls.valid.x.flatten()[:3000], 32, 16, device='cpu'))
    learn = Learner(dls, LSTMLM(len(vocab), 32, 1, lstm='torch'), lm_loss, opt_func=torch.optim.Adam, lr=1e-2,
                    metrics=[accuracy], cbs=[ResetStateCallback()], progress=False)
    learn.fit(2)
    assert learn.recorder.history.accuracy.iloc[-1] > 0.3

def test_input_grad_norms_shape_and_decay():
    x, y = torch.randint(0, 30, (8, 12)), torch.randint(0, 30, (8, 12))
    model = SequenceLM(30, 16, 2).train()
    g = input_grad_norms(model, x, y)
    assert g.shape == (12,) and (g >= 0).all() and g[-1] > g[0]
    assert model.training and model.h is None and all(p.grad is None for p in model.parameters())  # leaves the model as it was
    with pytest.raises(TypeError, match='model.emb'): input_grad_norms(nn.Linear(3, 3), x, y)

@pytest.mark.parametrize('make', [lambda: SequenceLM(30, 16, 1), lambda: LSTMLM(30, 16, 2), lambda: RegularisedLM(30, 16, 2)])
def test_input_grad_norms_is_the_gradient_of_the_last_words_loss(make):
    "One embedding call (LSTMs) or one per step (SequenceLM): the same numbers as autograd on a copy of the embeddings."
    torch.manual_seed(0); model = make().eval()
    x, y = torch.randint(0, 30, (4, 6)), torch.randint(0, 30, (4, 6))
    g = input_grad_norms(model, x, y)
    emb = model.emb(x).detach().requires_grad_()
    steps = iter(range(x.shape[1]))
    model.emb.forward = lambda ids: emb if ids.ndim == 2 else emb[:, next(steps)]  # the same embeddings, as leaves
    model.reset()
    F.cross_entropy(model(x)[:, -1], y[:, -1]).backward()
    assert_close(g, emb.grad.norm(dim=-1).mean(0))

# ---------- sampling

def test_generate_greedy_and_temperature():
    vocab = [str(i) for i in range(30)]
    model = SequenceLM(30, 16)
    prompt = torch.tensor([1, 2, 3])
    greedy = generate(model, prompt, 10)
    assert greedy.shape == (10,) and torch.equal(greedy, generate(model, prompt, 10))
    # greedy = argmax of the scores after feeding the prompt then each chosen word
    model.eval(); model.reset()
    scores = model(prompt.view(1, -1))[0, -1]
    first = int(scores.argmax())
    assert first == int(greedy[0])
    assert torch.equal(generate(model, prompt, 10, 1., seed=1), generate(model, prompt, 10, 1., seed=1))
    assert not torch.equal(generate(model, prompt, 30, 5., seed=1), generate(model, prompt, 30, 5., seed=2))
    assert torch.equal(generate(model, prompt, 10, 1e-4, seed=1), greedy)  # a tiny temperature is greedy
    text = generate_text(model, '1 2 3', vocab, 5, 1., seed=0)
    assert len(text.split()) == 5 and all(w in vocab for w in text.split())
    with pytest.raises(ValueError, match='temperature: got -1.0'): generate(model, prompt, 3, -1.)
    with pytest.raises((ValueError, TypeError), match='prompt: got'): generate(model, torch.tensor([], dtype=torch.long), 3)

def test_import_is_headless():
    code = "import matplotlib; matplotlib.use('Agg'); import lessonlib.rnn; print('ok')"
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == 'ok', out.stderr

# ---------- reading mistakes

class Echo(nn.Module):
    "A stateless 'language model' that always guesses the word it just read."
    def __init__(self, vocab_sz): super().__init__(); self.vocab_sz, self.w = vocab_sz, nn.Parameter(torch.zeros(1))
    def reset(self): pass
    def forward(self, x): return F.one_hot(x, self.vocab_sz).float() + self.w

def test_wrong_predictions_counts_each_mistake_by_context():
    vocab = ['.', 'one', 'two']
    ids = numericalize('one . two . two . one'.split(), vocab)
    model = Echo(len(vocab)).train()
    wrong = wrong_predictions(model, ids, vocab, seq_len=3)
    # echoing: one->. wrong, .->two wrong, two->. wrong, .->two wrong, two->. wrong, .->one wrong: six of six
    assert list(wrong.columns) == ['after', 'actual', 'predicted', 'count']
    assert dict(zip(zip(wrong.after, wrong.actual, wrong.predicted), wrong['count'])) == {
        ('two', '.', 'two'): 2, ('.', 'two', '.'): 2, ('one', '.', 'one'): 1, ('.', 'one', '.'): 1}
    assert wrong['count'].is_monotonic_decreasing and model.training  # most frequent first; mode restored

def test_wrong_predictions_empty_when_perfect():
    vocab = ['a']
    wrong = wrong_predictions(Echo(1), torch.zeros(9, dtype=torch.long), vocab, seq_len=4)
    assert len(wrong) == 0 and list(wrong.columns) == ['after', 'actual', 'predicted', 'count']

# ---------- clipping, locked and weight dropout, decay groups, the recipe

def test_clip_grad_norm_matches_torch_above_below_and_zero():
    for scale, max_norm in ((10., 1.), (0.1, 1.), (0., 1.)):
        a, b = nn.Linear(4, 3), nn.Linear(4, 3); b.load_state_dict(a.state_dict())
        for m in (a, b):
            m.weight.grad, m.bias.grad = torch.ones(3, 4) * scale, torch.arange(3.) * scale
        ours, theirs = clip_grad_norm(a.parameters(), max_norm), nn.utils.clip_grad_norm_(b.parameters(), max_norm)
        assert_close(ours, theirs)
        for p, q in zip(a.parameters(), b.parameters()): assert_close(p.grad, q.grad)
    assert clip_grad_norm([torch.zeros(2, requires_grad=True)], 1.).item() == 0  # no gradients at all: nothing to clip

def test_gradient_clip_callback_caps_every_step_and_records_norms():
    seen = []
    class Spy(Callback):
        order = 5  # after GradientClip (order 0), before the step
        def after_backward(self):
            seen.append(torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in self.learn.model.parameters()])).item())
    clip = GradientClip(0.05)
    learn = Learner(probe_dls(), SequenceLM(30, 8), lm_loss, opt_func=torch.optim.SGD, lr=0.1, cbs=[ResetStateCallback(), clip, Spy()], silent=True)
    learn.fit(1)
    assert len(clip.norms) == len(seen) == len(learn.dls.train)
    assert all(n <= 0.05 + 1e-5 for n in seen) and max(clip.norms) > 0.05  # it had something to clip
    with pytest.raises(ValueError, match='max_norm'): GradientClip(0.)

def test_locked_dropout_one_mask_per_sequence():
    x = torch.ones(16, 9, 40)
    out = LockedDropout(0.5)(x)
    dropped = out == 0
    assert torch.equal(dropped.all(1), dropped.any(1))  # the same units at every step
    assert 0.4 < dropped.float().mean() < 0.6 and not torch.equal(dropped[0], dropped[1])  # each row its own mask
    assert_close(out[~dropped], torch.full_like(out[~dropped], 2.))
    assert torch.equal(LockedDropout(0.5).eval()(x), x) and torch.equal(LockedDropout(0.)(x), x)
    xg = x.clone().requires_grad_(); torch.manual_seed(1); LockedDropout(0.5)(xg).sum().backward()
    torch.manual_seed(1); assert torch.equal(xg.grad, LockedDropout(0.5)(x))  # the gradient is the mask

@pytest.mark.parametrize('lstm', ['torch', 'ours'])
def test_weight_dropout_drops_hidden_weights_once_per_batch(lstm):
    layer = make_lstm(5, 6, 1, lstm)
    wrapped = WeightDropout(layer, 0.5)
    name = wrapped.names[0]
    assert name in ('weight_hh_l0', 'cells.0.hh.weight')
    x = torch.randn(2, 7, 5)
    assert_close(wrapped.eval()(x)[0], layer(x)[0])
    wrapped.train(); torch.manual_seed(3); out = wrapped(x)[0]
    torch.manual_seed(3); w = F.dropout(dict(layer.named_parameters())[name], 0.5, training=True)
    ref = torch.func.functional_call(layer, {name: w}, (x,))[0]
    assert_close(out, ref)
    out.sum().backward()
    assert dict(layer.named_parameters())[name].grad.abs().sum() > 0
    assert dict(layer.named_parameters())[name].shape == w.shape  # the real weight is untouched
    with pytest.raises(ValueError, match='names'): WeightDropout(layer, 0.5, names=['nope'])

def test_decay_groups_split_matrices_and_vectors():
    m = RegularisedLM(30, 8, 2)
    groups = decay_groups(m.parameters(), 0.1)
    assert [g['weight_decay'] for g in groups] == [0.1, 0.]
    assert all(p.ndim > 1 for p in groups[0]['params']) and all(p.ndim == 1 for p in groups[1]['params'])
    assert sum(len(g['params']) for g in groups) == len(list(m.parameters()))
    assert decay_groups([{'params': list(m.parameters())}], 0.1)[0]['params'] == groups[0]['params']  # groups in, groups out

def test_keep_state_resets_only_before_fit():
    model = _Probe()
    Learner(probe_dls(), model, lm_loss, cbs=[KeepStateCallback()], silent=True).fit(2)
    assert model.log.count('reset train') + model.log.count('reset valid') == 1 and model.log[0].startswith('reset')

def test_regularised_learner_builds_the_recipe_and_trains(one_thread):
    learn = regularised_learner(seed=0, n_hidden=16, epochs=1, seq_len=16)
    assert learn.recipe['p_out'] == REGULARISED['p_out'] and learn.model.out.weight is learn.model.emb.weight
    fit_regularised(learn)
    assert [g['weight_decay'] for g in learn.opt.param_groups] == [REGULARISED['weight_decay'], 0.]
    assert learn.recorder.history.accuracy.iloc[-1] > 0.2
    a = fit_regularised(regularised_learner(seed=0, n_hidden=16, epochs=1, seq_len=16)).recorder.history.accuracy.iloc[-1]
    assert a == learn.recorder.history.accuracy.iloc[-1]  # a seed fixes the run
    with pytest.raises(TypeError, match="unexpected keyword argument 'p_drop'"): regularised_learner(p_drop=0.5)

def test_regularised_learner_resets_or_keeps_the_state():
    kinds = lambda learn: [type(cb).__name__ for cb in learn.cbs]
    assert REGULARISED['keep_state'] is False  # the recipe resets the state at each epoch and before validation
    assert 'ResetStateCallback' in kinds(regularised_learner()) and 'KeepStateCallback' not in kinds(regularised_learner())
    assert 'KeepStateCallback' in kinds(regularised_learner(keep_state=True)) and 'ResetStateCallback' not in kinds(regularised_learner(keep_state=True))

def test_lm_loss_refuses_transposed_targets():
    pred, target = torch.randn(4, 6, 30), torch.randint(0, 30, (4, 6))
    assert_close(lm_loss(pred, target), F.cross_entropy(pred.view(-1, 30), target.view(-1)))
    with pytest.raises(ValueError, match='target'): lm_loss(pred, target.T.contiguous().view(4, 6)[:, :5])
    with pytest.raises(ValueError, match='transposed'): lm_loss(torch.randn(6, 4, 30), target)
