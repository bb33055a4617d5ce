"""RNN lesson: every step of the lesson's story over three seeds, the regularised LSTM's recipe with its seeds' table,
the ablation of each regulariser, the dropout variants, keeping the hidden state against resetting it, and tokens per
second of our LSTM against nn.LSTM.

    python benchmarks/bench_rnn.py                      # everything (about 30 training runs of the LSTM recipe)
    python benchmarks/bench_rnn.py --parts recipe       # only some parts: story, recipe, ablation, dropout, state, speed
    python benchmarks/bench_rnn.py --parts story --missing   # only the steps or variants that rnn_runs.json lacks
    python benchmarks/bench_rnn.py --workers 2          # runs in parallel processes (times then include the sharing)

Each part stores its runs in benchmarks/rnn_runs.json (what the lesson's notebook prints and plots); the RESULTS.md
section is rebuilt from that file after every part. Every run is seeded and uses one thread, so a rerun gives the same
accuracies (the notebook's live run of seed 0 reproduces the stored one).
"""
import argparse, json, sys, time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import torch
import torch.nn.functional as F
from torch import nn

from results import write_section, median_time
from lessonlib.data import DataLoaders, TensorLoader, human_numbers, set_seed, SEEDS
from lessonlib.sgd import Learner, accuracy
from lessonlib.optimizers import fit_one_cycle
from lessonlib.rnn import (LMDataLoader, LSTM, LSTMLM, REGULARISED, ResetStateCallback, SequenceLM, StatefulLM, ThreeWordLM,
                           decay_groups, fit_regularised, lm_loss, make_vocab, numericalize, regularised_learner, word_windows,
                           wrong_predictions)

RUNS = Path(__file__).with_name('rnn_runs.json')


# every ablation changes entries of lessonlib.rnn.REGULARISED, the recipe
ABLATION = {'full recipe': {}, 'no dropout': dict(p_out=0.), 'no AR': dict(alpha=0.), 'no TAR': dict(beta=0.),
            'no weight decay': dict(weight_decay=0.), 'no weight tying': dict(tie_weights=False),
            'none of them': dict(p_out=0., alpha=0., beta=0., weight_decay=0., tie_weights=False)}

DROPOUT = {'per-step dropout 0.4 (recipe)': {}, 'locked dropout 0.4': dict(locked=True),
           'weight dropout 0.2 + per-step 0.4': dict(p_weight=0.2)}

# the recipe resets the hidden state at the start of every epoch and before every validation (ResetStateCallback), as the
# lesson's earlier models do; the alternative keeps it from the start of training to the end (KeepStateCallback)
STATE = {'state reset each epoch and before validation (recipe)': {}, 'state kept from start to end': dict(keep_state=True)}

def _data():
    "Training and validation token streams, and the vocabulary."
    tr, va = human_numbers(); vocab = make_vocab(tr)
    return numericalize(tr, vocab), numericalize(va, vocab), vocab

def regularised(seed:int, **changes) -> dict:
    "Train the recipe with `changes` at `seed`: final accuracy, seconds, accuracy after each epoch, and the mistakes."
    torch.set_num_threads(1)
    learn = regularised_learner(seed, **changes)
    start = time.perf_counter(); fit_regularised(learn); secs = time.perf_counter() - start
    accs = [round(float(a), 4) for a in learn.recorder.history.accuracy]
    _, valid_ids, vocab = _data()
    wrong = wrong_predictions(learn.model, valid_ids, vocab)
    nines = int(wrong[(wrong.after == '.') & (wrong.actual == 'nine')]['count'].sum())
    return dict(seed=seed, accuracy=accs[-1], seconds=round(secs, 1), epochs=accs, mistakes=int(wrong['count'].sum()), nine_mistakes=nines)

# ---------- the story: each step of the lesson, three seeds

def _fit(dls, model, loss, epochs, lr, cbs=(), keep=False):
    learn = Learner(dls, model, loss, opt_func=torch.optim.Adam, metrics=[accuracy], cbs=list(cbs), silent=True)
    start = time.perf_counter(); fit_one_cycle(learn, epochs, lr)
    out = float(learn.recorder.history.accuracy.iloc[-1]), time.perf_counter() - start
    return (*out, learn) if keep else out

@torch.no_grad()
def every_third_word_accuracy(model, valid_ids) -> float:
    """Accuracy of a model that predicts after every word, graded only on the words that the three-word steps are graded
    on: the validation stream in 64 rows read 3 tokens at a time from a fresh state, the word after each group of three."""
    model.eval(); model.reset(); right = total = 0
    for x, y in LMDataLoader(valid_ids, 64, 3, last_only=True, device='cpu'):
        right += (model(x)[:, -1].argmax(-1) == y).sum().item(); total += len(y)
    model.reset()
    return right / total

def story_step(name:str, seed:int) -> dict:
    "One step of the lesson at one seed, with the notebook's settings: valid accuracy and seconds."
    torch.set_num_threads(1)
    train_ids, valid_ids, vocab = _data()
    lm = lambda seq_len, last_only=False: DataLoaders(LMDataLoader(train_ids, 64, seq_len, last_only, 'cpu'),
                                                      LMDataLoader(valid_ids, 64, seq_len, last_only, 'cpu'))
    set_seed(seed)
    if name.startswith('three words (') and 'windows' in name:
        dls = DataLoaders(TensorLoader(*word_windows(train_ids), bs=64, shuffle='shuffled' in name, device='cpu'),
                          TensorLoader(*word_windows(valid_ids), bs=128, device='cpu'))
        acc, secs = _fit(dls, ThreeWordLM(len(vocab), 64), F.cross_entropy, 4, 3e-3)
    elif name == 'three words, no state (LM batches)':
        acc, secs = _fit(lm(3, True), ThreeWordLM(len(vocab), 64), F.cross_entropy, 8, 3e-3)
    elif name == 'stateful, last word':
        acc, secs = _fit(lm(3, True), StatefulLM(len(vocab), 64), F.cross_entropy, 8, 3e-3, [ResetStateCallback()])
    elif name == 'RNN, every word, 1 layer, graded on every third word':  # the same run as 'RNN, every word, 1 layer'
        every, secs, learn = _fit(lm(16), SequenceLM(len(vocab), 64, 1), lm_loss, 15, 3e-3, [ResetStateCallback()], keep=True)
        acc = every_third_word_accuracy(learn.model, valid_ids)
        return dict(seed=seed, accuracy=round(acc, 4), seconds=round(secs, 1), every_word=round(every, 4))
    elif name == "RNN, every word, 2 layers, LSTM's settings":
        acc, secs = _fit(lm(16), SequenceLM(len(vocab), 64, 2), lm_loss, LSTM_EPOCHS, LSTM_LR, [ResetStateCallback()])
    elif name.startswith('RNN, every word'):
        n_layers = 2 if '2 layers' in name else 1
        acc, secs = _fit(lm(16), SequenceLM(len(vocab), 64, n_layers), lm_loss, 15, 3e-3, [ResetStateCallback()])
    elif name == "LSTM, 2 layers, RNN's settings":
        acc, secs = _fit(lm(16), LSTMLM(len(vocab), LSTM_NH, 2, lstm='torch'), lm_loss, 15, 3e-3, [ResetStateCallback()])
    elif name == 'LSTM, 2 layers':
        acc, secs = _fit(lm(16), LSTMLM(len(vocab), LSTM_NH, 2, lstm='torch'), lm_loss, LSTM_EPOCHS, LSTM_LR, [ResetStateCallback()])
    elif name == 'regularised LSTM': r = regularised(seed); acc, secs = r['accuracy'], r['seconds']
    else: raise ValueError(f"no step named {name!r}")
    return dict(seed=seed, accuracy=round(acc, 4), seconds=round(secs, 1))

LSTM_NH, LSTM_EPOCHS, LSTM_LR = 64, 20, 1e-2  # the notebook's two-layer LSTM
STORY = ['three words (windows in order)', 'three words (shuffled windows)', 'three words, no state (LM batches)', 'stateful, last word', 'RNN, every word, 1 layer',
         'RNN, every word, 2 layers', 'LSTM, 2 layers',
         # the same words graded, the same settings: what separates the effect of each step from the rest of what changed
         'RNN, every word, 1 layer, graded on every third word', "LSTM, 2 layers, RNN's settings", "RNN, every word, 2 layers, LSTM's settings"]

# ---------- speed

def tokens_per_second(bs=64, seq_len=32, nh=128, n_layers=2):
    "Training tokens per second (forward + backward) of our LSTM and nn.LSTM of the same size, timed side by side."
    torch.set_num_threads(1); set_seed(0)
    theirs = nn.LSTM(nh, nh, n_layers, batch_first=True); ours = LSTM.from_torch(theirs)
    x = torch.randn(bs, seq_len, nh)
    def step(m): m.zero_grad(); m(x)[0].pow(2).mean().backward()
    t_ours, t_theirs = median_time(lambda: step(ours), 9, 2), median_time(lambda: step(theirs), 9, 2)
    return dict(ours=round(bs * seq_len / t_ours), torch=round(bs * seq_len / t_theirs))

def plain_reference(seed:int) -> dict:
    "The recipe written in plain PyTorch (nn.LSTM, torch.optim.AdamW, OneCycleLR, a hand loop): accuracy and seconds."
    torch.set_num_threads(1)
    train_ids, valid_ids, vocab = _data()
    c = REGULARISED
    train, valid = LMDataLoader(train_ids, c['bs'], c['seq_len'], device='cpu'), LMDataLoader(valid_ids, c['bs'], c['seq_len'], device='cpu')
    set_seed(seed)
    emb, rnn, out = nn.Embedding(len(vocab), c['n_hidden']), nn.LSTM(c['n_hidden'], c['n_hidden'], 2, batch_first=True), nn.Linear(c['n_hidden'], len(vocab))
    out.weight = emb.weight
    params = list(emb.parameters()) + list(rnn.parameters()) + [out.bias]
    opt = torch.optim.AdamW(decay_groups(params, c['weight_decay']), lr=c['lr'], betas=c['betas'], eps=c['eps'])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, c['lr'], total_steps=c['epochs'] * len(train), pct_start=c['pct_start'])
    drop, state = nn.Dropout(c['p_out']), None
    start = time.perf_counter()
    for epoch in range(c['epochs']):
        for m in (emb, rnn, out, drop): m.train()
        if not c['keep_state']: state = None  # a fresh state at the start of each epoch, as ResetStateCallback
        for x, y in train:
            raw, state = rnn(emb(x), state); state = tuple(s.detach() for s in state)
            dropped = drop(raw)
            loss = F.cross_entropy(out(dropped).flatten(0, 1), y.flatten())
            loss = loss + c['alpha'] * dropped.pow(2).mean() + c['beta'] * (raw[:, 1:] - raw[:, :-1]).pow(2).mean()
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        for m in (emb, rnn, out, drop): m.eval()
        right = total = 0
        if not c['keep_state']: state = None  # and before validation
        with torch.no_grad():
            for x, y in valid:
                raw, state = rnn(emb(x), state)
                right += (out(raw).argmax(-1) == y).sum().item(); total += y.numel()
    return dict(seed=seed, accuracy=round(right / total, 4), seconds=round(time.perf_counter() - start, 1))

# ---------- running and recording

def _run_jobs(jobs:list, workers:int) -> list:
    "Run (function, args, kwargs) jobs, in `workers` processes if more than one."
    if workers <= 1: return [f(*a, **k) for f, a, k in jobs]
    with ProcessPoolExecutor(workers) as ex: return list(ex.map(_call, jobs))

def _call(job): f, a, k = job; return f(*a, **k)

def load_runs() -> dict:
    "What the benchmark stored so far."
    return json.loads(RUNS.read_text()) if RUNS.exists() else {}

def save_part(key:str, value):
    runs = load_runs(); runs[key] = value
    RUNS.write_text(json.dumps(runs, indent=1) + '\n')

def run_part(part:str, workers:int, missing:bool=False):
    "Run one part and store it; `missing`: run only the steps or variants that rnn_runs.json lacks, keep the others."
    seeds = list(SEEDS)
    if part == 'story':
        names = STORY + ['regularised LSTM']
        story = dict(load_runs().get('story', {})) if missing else {}
        todo = [n for n in STORY if n not in story]
        jobs = [(story_step, (n, s), {}) for n in todo for s in seeds]
        results = _run_jobs(jobs, workers)
        story.update({n: [r for (_, (m, _), _), r in zip(jobs, results) if m == n] for n in todo})
        recipe = load_runs().get('recipe', {}).get('runs')
        if recipe: story['regularised LSTM'] = [dict(seed=r['seed'], accuracy=r['accuracy'], seconds=r['seconds']) for r in recipe]
        save_part('story', {n: story[n] for n in names if n in story})
    elif part == 'recipe':
        runs = _run_jobs([(regularised, (s,), {}) for s in seeds], workers)
        ref = _run_jobs([(plain_reference, (s,), {}) for s in seeds[:1]], 1)
        save_part('recipe', dict(settings=REGULARISED, runs=runs, plain_pytorch=ref, workers=workers))
    elif part in ('ablation', 'dropout', 'state'):
        variants = {'ablation': ABLATION, 'dropout': DROPOUT, 'state': STATE}[part]
        have = {v['name']: v for v in load_runs().get(part, []) if missing and v['changes'] == variants.get(v['name'])}
        recipe = load_runs().get('recipe', {}).get('runs')
        reuse = lambda name, ch: (ch == {} and recipe) or name in have
        jobs = [(regularised, (s,), ch) for name, ch in variants.items() for s in seeds if not reuse(name, ch)]
        results = iter(_run_jobs(jobs, workers))
        out = []
        for name, ch in variants.items():
            if name in have and not (ch == {} and recipe): out.append(have[name]); continue
            rs = recipe if (ch == {} and recipe) else [next(results) for _ in seeds]
            out.append(dict(name=name, changes=ch, runs=[{k: r[k] for k in ('seed', 'accuracy', 'seconds', 'mistakes', 'nine_mistakes')} for r in rs]))
        save_part(part, out)
    elif part == 'speed': save_part('speed', tokens_per_second())
    else: raise SystemExit(f"unknown part {part!r}")

EXPLORATION = """### How the recipe was found (exploration, one seed each unless said)

The recipe handed over with issue 14 (2 x 128 `nn.LSTM`, tied, dropout 0.4 on the output, AR 2 / TAR 1, AdamW weight decay 0.1
on the matrices, betas (0.9, 0.99), eps 1e-5, 40 epochs of one-cycle at 2e-3, 64 sub-streams of 32 tokens, state kept) did not
reproduce its quoted 0.951 at seed 0 here: **0.867** with the lesson's pieces and **0.866** written in plain PyTorch (the two agree,
and took the same time side by side). Its accuracy peaks near the top of the learning-rate schedule (about 0.90) and slides back
during the annealing: the model never learns to say "nine" after a dot in the nine-thousands. One change at a time from there,
seed 0, 40 epochs unless said: learning rate 1e-2: 0.828; dropout 0.1/0.2/0.3 in, between and out (the lesson's earlier recipe):
0.852; weight dropout 0.3 on the hidden-to-hidden weights: 0.861; whole-word dropout 0.1: 0.816; a small (Linear-like) init of the
tied embedding: 0.807; weight decay 1.0: 0.899; batches of 32 rows: 0.913 (peak 0.940 at epoch 8); batches of 16: 0.908. Then,
batches of 32 and 20 epochs: weight decay 0.1: 0.891; 1.0: 0.938, 0.928, 0.924 (seeds 0, 1, 2); **3.0: 0.965, 0.965, 0.960**;
and 3.0 with batches of 64 (30 epochs): 0.930. What mattered: strong decoupled weight decay (it holds the rule that generalises to
the unseen nine-thousands instead of letting the annealing phase memorise it away) and more, smaller steps; a shorter schedule
halves the time. The earlier recipe of the lesson (batches of 16, lr 1e-2, dropout 0.1/0.2/0.3, decay 0.1 on every parameter,
40 epochs) gave 0.906, 0.920 and 0.949 for seeds 0, 1 and 42 in the previous round's benchmark. Every run of this exploration
kept the hidden state from the start of training to the end; the state comparison below then made the recipe reset it at every
epoch and before every validation, as the lesson's earlier models do, and nothing else was tuned again.
"""

def _mean_std(xs):
    xs = [float(x) for x in xs]; m = sum(xs) / len(xs)
    return m, (sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) ** 0.5 if len(xs) > 1 else 0.

def write_results():
    "Rebuild the RNN section of RESULTS.md from rnn_runs.json."
    runs = load_runs()
    parts = ["## RNN lesson: human-numbers language models (issues 12 and 14)\n",
             "Written by `benchmarks/bench_rnn.py` from `benchmarks/rnn_runs.json` (one torch thread per run; seeds "
             f"{', '.join(map(str, SEEDS))}). Accuracies are on the validation stream (the numbers from 8,085 up) at the last epoch.\n"]
    if 'recipe' in runs:
        rec = runs['recipe']; accs = sorted(r['accuracy'] for r in rec['runs'])
        median, worst, slowest = accs[len(accs) // 2], accs[0], max(r['seconds'] for r in rec['runs'])
        ok = median >= 0.955 and worst >= 0.945 and slowest <= 60
        s = rec['settings']
        rows = '\n'.join(f"| {r['seed']} | **{r['accuracy']:.4f}** | {r['seconds']:.1f} s | {r['mistakes']} | {r['nine_mistakes']} |" for r in rec['runs'])
        ref = rec.get('plain_pytorch') or []
        ref_txt = ''.join(f" The same recipe in plain PyTorch (hand loop, `torch.optim.AdamW`, `OneCycleLR`) gave {r['accuracy']:.4f} "
                          f"in {r['seconds']:.1f} s at seed {r['seed']}, run on its own after the seeds." for r in ref)
        w = rec.get('workers', 1)
        workers_txt = f" The seeds ran {w} at a time on this machine's 2 cores, so each time includes the sharing." if w > 1 else ''
        parts.append(f"""### The regularised LSTM: seeds

Recipe: `RegularisedLM` with `nn.LSTM`, {s['n_layers']} x {s['n_hidden']}, tied embedding, dropout {s['p_out']} on the LSTM output,
AR {s['alpha']} / TAR {s['beta']}, lessonlib's `AdamW` with weight decay {s['weight_decay']} on the matrices only, betas {tuple(s['betas'])}, eps {s['eps']},
{s['epochs']} epochs of `fit_one_cycle` at lr {s['lr']} ({s['pct_start']:.0%} warm-up), {s['bs']} sub-streams per batch, sequences of {s['seq_len']},
{'the hidden state kept across batches, epochs and validation' if s['keep_state'] else 'the hidden state reset at the start of every epoch and before every validation (`ResetStateCallback`)'}.

| seed | valid accuracy | training time | mistakes | of them, 'nine' starting a nine-thousand |
|---|---|---|---|---|
{rows}

Median **{median:.4f}**, worst {worst:.4f}, slowest run {slowest:.1f} s (target: median >= 0.955, every seed >= 0.945, each
run <= 60 s on a quiet machine): **{'met' if ok else 'not met'}**.{ref_txt}{workers_txt}
""")
    parts.append(EXPLORATION)
    for key, title in (('ablation', 'Ablation: each regulariser removed in turn'), ('dropout', 'Dropout variants'),
                       ('state', 'The hidden state: reset at every epoch and validation (the recipe) or kept from start to end')):
        if key not in runs: continue
        rows = []
        for v in runs[key]:
            m, sd = _mean_std([r['accuracy'] for r in v['runs']])
            rows.append(f"| {v['name']} | {' | '.join(format(r['accuracy'], '.4f') for r in v['runs'])} | **{m:.4f}** | {sd:.4f} |")
        parts.append(f"### {title}\n\n| variant | {' | '.join(f'seed {s}' for s in SEEDS)} | mean | std |\n|---|{'---|' * (len(SEEDS) + 2)}\n" + '\n'.join(rows) + '\n')
    if 'story' in runs:
        rows = []
        for name, rs in runs['story'].items():
            m, sd = _mean_std([r['accuracy'] for r in rs]); t, _ = _mean_std([r['seconds'] for r in rs])
            rows.append(f"| {name} | **{m:.4f}** | {sd:.4f} | {t:.1f} s |")
        parts.append("### Every step of the lesson (the notebook's settings)\n\n| step | mean accuracy | std | mean time |\n|---|---|---|---|\n" + '\n'.join(rows) + '\n')
    if 'speed' in runs:
        sp = runs['speed']
        parts.append(f"""### Our LSTM against nn.LSTM

Forward + backward of a 2 x 128 LSTM on batches of 64 x 32 tokens: ours (a Python loop over `LSTMCell`s) **{sp['ours']:,} tokens/s**,
`nn.LSTM` **{sp['torch']:,} tokens/s**: nn.LSTM is **{sp['torch'] / sp['ours']:.2f}x** faster, which is why the long runs use it.
""")
    headline = None
    if 'recipe' in runs:
        accs = sorted(r['accuracy'] for r in runs['recipe']['runs'])
        headline = f"regularised LSTM (state reset each epoch): median {accs[len(accs) // 2]:.3f} over seeds {', '.join(map(str, SEEDS))} (worst {accs[0]:.3f}; target median >= 0.955, each >= 0.945)"
    write_section('rnn', '\n'.join(parts), headline=headline, lesson='rnn')

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--parts', default='recipe,ablation,dropout,state,story,speed', help='comma-separated: recipe, ablation, dropout, state, story, speed')
    parser.add_argument('--missing', action='store_true', help='run only the steps or variants that rnn_runs.json lacks')
    parser.add_argument('--workers', type=int, default=1, help='parallel processes (1 for timings on a quiet machine)')
    parser.add_argument('--no-write', action='store_true', help='do not rewrite RESULTS.md')
    args = parser.parse_args()
    torch.set_num_threads(1)  # every run uses one thread (the small models are fastest so); recorded with the machine
    for part in args.parts.split(','):
        start = time.perf_counter(); run_part(part.strip(), args.workers, args.missing)
        print(f"{part}: done in {time.perf_counter() - start:.0f} s", flush=True)
        if not args.no_write: write_results()

if __name__ == '__main__':
    main()
