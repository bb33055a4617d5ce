"""RNN lesson: valid accuracy and training time of each language model, and tokens per second of our LSTM vs nn.LSTM."""
import argparse, sys, time
from functools import partial
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import matplotlib
matplotlib.use('Agg')
import torch
import torch.nn.functional as F
from results import write_section, median_time
from lessonlib.data import DataLoaders, TensorLoader, human_numbers, set_seed
from lessonlib.sgd import Learner, accuracy
from lessonlib.optimizers import fit_one_cycle
from lessonlib.rnn import (ARTARCallback, LMDataLoader, LSTM, LSTMLM, RegularisedLM, ResetStateCallback, SequenceLM,
                           StatefulLM, ThreeWordLM, human_numbers_lm, lm_loss, make_vocab, numericalize, word_windows,
                           wrong_predictions)

def train(dls, model, loss, n_epoch, lr, cbs=(), opt_func=torch.optim.Adam):
    "One-cycle training; the final valid accuracy and the seconds it took."
    learn = Learner(dls, model, loss, opt_func=opt_func, metrics=[accuracy], cbs=list(cbs), progress=False)
    start = time.perf_counter(); fit_one_cycle(learn, n_epoch, lr); secs = time.perf_counter() - start
    return learn.recorder.history.accuracy.iloc[-1], secs

def three_word():
    "The three-word model on windows read in order."
    tr, va = human_numbers(); vocab = make_vocab(tr)
    dls3 = DataLoaders(TensorLoader(*word_windows(numericalize(tr, vocab)), bs=64, device='cpu'),
                       TensorLoader(*word_windows(numericalize(va, vocab)), bs=128, device='cpu'))
    set_seed(42); return train(dls3, ThreeWordLM(len(vocab), 64), F.cross_entropy, 4, 3e-3)

def stateful_last():
    "The stateful model on language-model batches of three words, predicting the word after them."
    dls, vocab = human_numbers_lm(bs=64, seq_len=3, last_only=True, device='cpu')
    set_seed(42); return train(dls, StatefulLM(len(vocab), 64), F.cross_entropy, 8, 3e-3, [ResetStateCallback()])

def every_word(n_layers=1, epochs=15, lr=3e-3):
    "The stateful RNN predicting every word, with `n_layers` stacked loops."
    dls, vocab = human_numbers_lm(bs=64, seq_len=16, device='cpu')
    set_seed(42); return train(dls, SequenceLM(len(vocab), 64, n_layers), lm_loss, epochs, lr, [ResetStateCallback()])

def lstm2(lstm='torch'):
    "The plain two-layer LSTM language model."
    dls, vocab = human_numbers_lm(bs=64, seq_len=16, device='cpu')
    set_seed(42); return train(dls, LSTMLM(len(vocab), 128, 2, lstm=lstm), lm_loss, 15, 3e-3, [ResetStateCallback()],
                               partial(torch.optim.AdamW, weight_decay=0.1))

REG = dict(n_hidden=128, seq_len=32, bs=16, epochs=40, lr=1e-2, wd=0.1, p_in=0.1, p_hidden=0.2, p_out=0.3, alpha=2., beta=1.)

def regularised(lstm='torch', seed=42, **kw):
    "The regularised LSTM with the recipe `REG`, optionally overridden: valid accuracy, seconds, and the model."
    c = {**REG, **kw}
    dls, vocab = human_numbers_lm(bs=c['bs'], seq_len=c['seq_len'], device='cpu')
    set_seed(seed)
    model = RegularisedLM(len(vocab), c['n_hidden'], 2, c['p_in'], c['p_hidden'], c['p_out'], tie_weights=True, lstm=lstm)
    acc, secs = train(dls, model, lm_loss, c['epochs'], c['lr'], [ResetStateCallback(), ARTARCallback(c['alpha'], c['beta'])],
                      partial(torch.optim.AdamW, weight_decay=c['wd']))
    return acc, secs, model

def nine_thousand_share(model):
    "Mistakes on the validation stream, and the share of them that miss the 'nine' starting a number in the nine-thousands."
    train_tokens, valid_tokens = human_numbers(); vocab = make_vocab(train_tokens)
    wrong = wrong_predictions(model, numericalize(valid_tokens, vocab), vocab)
    nines = wrong[(wrong.after == '.') & (wrong.actual == 'nine')]['count'].sum()
    return int(wrong['count'].sum()), nines / wrong['count'].sum()

def tokens_per_second(bs=64, seq_len=32, nh=128, n_layers=2):
    "Training tokens per second (forward + backward) of our LSTM and nn.LSTM of the same size, timed side by side."
    set_seed(0)
    theirs = torch.nn.LSTM(nh, nh, n_layers, batch_first=True); ours = LSTM.from_torch(theirs)
    x = torch.randn(bs, seq_len, nh)
    def step(m): m.zero_grad(); m(x)[0].pow(2).mean().backward()
    t_ours, t_theirs = median_time(lambda: step(ours), 9, 2), median_time(lambda: step(theirs), 9, 2)
    return bs * seq_len / t_ours, bs * seq_len / t_theirs

def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--threads', type=int, default=1, help='torch threads (1 is fastest for these small models on a busy CPU)')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {}
    for name, f in [('three', three_word), ('stateful', stateful_last), ('every', every_word),
                    ('rnn2', partial(every_word, 2)), ('lstm2', lstm2), ('reg', regularised)]:
        results[name] = f(); print(name, f'{results[name][0]:.3f} in {results[name][1]:.1f}s', flush=True)
    n_wrong, nine_share = nine_thousand_share(results['reg'][2])
    other_seeds = [regularised(seed=s)[0] for s in (0, 1)]
    print(f'reg: {n_wrong} mistakes, {nine_share:.0%} of them the nine-thousands; seeds 0, 1: {other_seeds}', flush=True)
    spread = sorted(other_seeds + [results['reg'][0]])
    ours_tps, torch_tps = tokens_per_second()
    print(f'tokens/s: ours {ours_tps:,.0f}, nn.LSTM {torch_tps:,.0f}, ratio {torch_tps / ours_tps:.2f}', flush=True)
    row = lambda k: f'**{results[k][0]:.3f}** | {results[k][1]:.1f} s'
    c = REG
    write_section('rnn', f"""## RNN lesson: human-numbers language models (issue 7)

Seeded runs of `benchmarks/bench_rnn.py` (torch threads: {args.threads}); valid accuracy at the last epoch,
one-cycle (`fit_one_cycle`) with Adam/AdamW, training time of the whole run on this CPU:

| model | recipe | valid accuracy | time | target |
|---|---|---|---|---|
| baseline: always '.' | — | 0.152 | — | — |
| three words in, one out (`ThreeWordLM`, 64 hidden) | windows read in order, bs 64, 4 epochs, lr 3e-3 | {row('three')} | ≥ 0.47 |
| stateful, three words, last word (`StatefulLM`) | LM batches, seq 3, 8 epochs, lr 3e-3 | {row('stateful')} | — |
| stateful, every word (`SequenceLM`, 1 layer) | seq 16, 15 epochs, lr 3e-3 | {row('every')} | ≥ 0.62 |
| two stacked RNN layers (`SequenceLM`, 2 layers) | seq 16, 15 epochs, lr 3e-3 | {row('rnn2')} | — (hardly better than one layer: the lesson's point) |
| two-layer LSTM (`LSTMLM`, 128 hidden, nn.LSTM) | seq 16, AdamW wd 0.1, 15 epochs, lr 3e-3 | {row('lstm2')} | ≥ 0.76 |
| regularised LSTM (`RegularisedLM`, nn.LSTM) | hidden {c['n_hidden']}, seq {c['seq_len']}, bs {c['bs']}, dropout {c['p_in']}/{c['p_hidden']}/{c['p_out']}, AR {c['alpha']} TAR {c['beta']}, tied, AdamW wd {c['wd']}, {c['epochs']} epochs, lr {c['lr']} | {row('reg')} | ≥ 0.94 in ≤ 3 min |

The regularised recipe is the best of about twenty we tried (batches of 8, 16, 32 and 64; 40, 60 and 80 epochs; learning
rates 3e-3 to 2e-2; weight decay 0.01 to 0.3; lighter and heavier dropout; AR/TAR halved; 192 and 256 hidden units;
sequences of 64; dropping whole words). It is sensitive to the seed: three seeds (42, 0 and 1) give
{spread[0]:.3f}, {spread[1]:.3f} and {spread[2]:.3f}. The reason is in its mistakes (`wrong_predictions` on the validation stream):
of its {n_wrong} wrong guesses, **{nine_share:.0%}** are the word after a dot in the nine-thousands, where the model should say
'nine' and starts the number with its hundreds instead. The training stream ends at eight thousand, so 'nine' has never
been said as a thousand; whether the model generalises its copy-the-thousand rule to it varies from seed to seed.

Training speed, forward + backward of a 2-layer LSTM with 128 hidden units on batches of 64 x 32 tokens:
our `LSTM` (Python loop over `LSTMCell`s) **{ours_tps:,.0f} tokens/s**, `nn.LSTM` **{torch_tps:,.0f} tokens/s**:
nn.LSTM is **{torch_tps / ours_tps:.2f}x** faster, which is why the long runs use it (`lstm='torch'`, a drop-in).""",
                  headline=f"valid accuracy: three-word {results['three'][0]:.3f} (target ≥ 0.47), stateful every-word "
                           f"{results['every'][0]:.3f} (≥ 0.62), two-layer LSTM {results['lstm2'][0]:.3f} (≥ 0.76, fastbook 0.758), "
                           f"regularised LSTM {results['reg'][0]:.3f} (target ≥ 0.94; {spread[0]:.3f} to {spread[-1]:.3f} over three seeds)", lesson='rnn')

if __name__ == '__main__':
    main()
