"""Fine-tuning lesson: what a pretrained body is worth, over three seeds.

At 10 and 50 labelled MNIST images per class (64x64): fine_tune, frozen body + new head, the same network from random
init, and a small CNN from scratch (also with 4x the epochs); at 10 per class, the recipe's choices varied one at a
time (one-layer head, lr_mult 10, BatchNorm in training mode with and without train_bn, train_bn alone, mixed
precision), longer runs, the small CNN with BatchNorm momentum 0.01, and fine_tune and the small CNN with one half of
the seed fixed (the labelled images, or the training's randomness). Every run goes to benchmarks/fine_tuning_runs.csv
(which the notebook prints). `sweeps` runs the lesson's two learning-rate sweeps (`lr_sweeps`) for each seed into
benchmarks/fine_tuning_sweeps.csv. The summary goes to the fine_tuning section of RESULTS.md.

    python benchmarks/bench_fine_tuning.py              # every run and the sweeps (tens of minutes on 2 busy cores)
    python benchmarks/bench_fine_tuning.py 'lr_mult 10' # rerun some variants (all budgets), keep the other rows
    python benchmarks/bench_fine_tuning.py sweeps       # only the learning-rate sweeps
"""
import csv, os, sys, time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import matplotlib
matplotlib.use('Agg')
import pandas as pd
import torch
from results import write_section

CSV = Path(__file__).with_name('fine_tuning_runs.csv')
SWEEPS_CSV = Path(__file__).with_name('fine_tuning_sweeps.csv')
SEEDS = (0, 1, 2)
COMPARISON = {'fine_tune': {'method': 'fine_tune'}, 'frozen body + new head': {'method': 'frozen body + new head'},
              'random init': {'method': 'random init'}, 'small CNN': {'method': 'small CNN'},
              'small CNN, 4x the epochs': {'method': 'small CNN', 'epochs': 4 * 9 - 1}}
CHOICES = {'one-layer head': {'method': 'fine_tune', 'hidden': None},
           'lr_mult 10': {'method': 'fine_tune', 'lr_mult': 10.},
           'BatchNorm in training mode (momentum 0.1)': {'method': 'fine_tune', 'bn_eval': False, 'bn_momentum': 0.1},
           "fastai's BatchNorm: training mode, train_bn": {'method': 'fine_tune', 'bn_eval': False, 'bn_momentum': 0.1,
                                                           'train_bn': True},
           'train_bn (BatchNorm in eval mode)': {'method': 'fine_tune', 'train_bn': True},
           'mixed precision': {'method': 'fine_tune', 'mixed_precision': True},
           'fine_tune, 2x the epochs': {'method': 'fine_tune', 'epochs': 2 * 9 - 1},
           'small CNN, 8x the epochs': {'method': 'small CNN', 'epochs': 8 * 9 - 1}}
MOMENTUM = {'small CNN, BatchNorm momentum 0.01': {'method': 'small CNN', 'bn_momentum': 0.01}}
HALF_SEEDS = {'fine_tune, images of seed 0': {'method': 'fine_tune', 'draw_seed': 0},
              'fine_tune, training of seed 0': {'method': 'fine_tune', 'train_seed': 0},
              'small CNN 4x, images of seed 0': {'method': 'small CNN', 'epochs': 4 * 9 - 1, 'draw_seed': 0},
              'small CNN 4x, training of seed 0': {'method': 'small CNN', 'epochs': 4 * 9 - 1, 'train_seed': 0}}
LONGER = ('fine_tune, 2x the epochs', 'small CNN, 8x the epochs')
VARIANTS = {10: {**COMPARISON, **CHOICES, **MOMENTUM, **HALF_SEEDS}, 50: COMPARISON}
COST = {'random init': 9, 'fine_tune': 8, 'mixed precision': 12, 'frozen body + new head': 3, 'small CNN': 1}

def cost(job):
    "A rough CPU cost, to start the longest jobs first."
    per, name, opts, _ = job
    return per * COST.get(name, COST.get(opts['method'], 8)) * (opts.get('epochs', 8) + 1)

def run(job):
    "Train one variant for one seed on one thread; return its figures (no tensors cross processes)."
    torch.set_num_threads(1)
    from lessonlib.fine_tuning import run_variant
    per, name, opts, seed = job
    r = run_variant(opts, per, seed)
    return dict(per_class=per, variant=name, seed=seed, accuracy=round(r.accuracy, 4), seconds=round(r.seconds, 2),
                cpu_seconds=round(r.cpu_seconds, 2))

def sweep(seed):
    "The lesson's two learning-rate sweeps for one seed, on one thread: a row per batch."
    torch.set_num_threads(1)
    from lessonlib.fine_tuning import lr_sweeps
    return [dict(seed=seed, sweep=name, batch=i, lr=lr, loss=loss, smoothed=smoothed)
            for name, (s, _) in lr_sweeps(seed).items() for i, (lr, loss, smoothed) in enumerate(zip(s.lr, s.loss, s.smoothed))]

def run_sweeps(workers:int):
    "Every seed's sweeps, batch by batch, into SWEEPS_CSV."
    with ProcessPoolExecutor(workers) as pool: rows = [r for rs in pool.map(sweep, SEEDS) for r in rs]
    pd.DataFrame(rows).to_csv(SWEEPS_CSV, index=False, float_format='%.7g')

def sweeps_table(curves:pd.DataFrame) -> str:
    "A Markdown table: per seed, where each sweep's smoothed loss is lowest and falls fastest, and the ratio of the lowest."
    from lessonlib.fine_tuning import steepest_lr
    lines = ['| seed | frozen: lowest at | unfrozen: lowest at | ratio | frozen: steepest | unfrozen: steepest | batches |',
             '|---|---|---|---|---|---|---|']
    for seed, g in curves.groupby('seed'):
        (_, f), (_, u) = sorted(g.groupby('sweep'))  # 'frozen, fresh head' < 'unfrozen, trained head'
        low = [c.lr.iloc[int(c.smoothed.to_numpy().argmin())] for c in (f, u)]
        steep = [steepest_lr(c.lr.to_numpy(), c.loss.to_numpy()) for c in (f, u)]
        lines.append(f"| {seed} | {low[0]:.1e} | {low[1]:.1e} | {low[0] / low[1]:.1f} | {steep[0]:.1e} | {steep[1]:.1e} | {len(f)}, {len(u)} |")
    return '\n'.join(lines)

def table(rows:pd.DataFrame, per:int, names) -> str:
    "A Markdown table: accuracy per seed, mean, std, mean CPU seconds."
    lines = ['| variant | ' + ' | '.join(f'seed {s}' for s in SEEDS) + ' | mean | std | CPU s per run |',
             '|---|' + '---|' * (len(SEEDS) + 3)]
    for name in names:
        r = rows[(rows.per_class == per) & (rows.variant == name)].sort_values('seed')
        if r.empty: continue
        accs = ' | '.join(f'{a:.3f}' for a in r.accuracy)
        lines.append(f'| {name} | {accs} | **{r.accuracy.mean():.3f}** | {r.accuracy.std():.3f} | {r.cpu_seconds.mean():.0f} |')
    return '\n'.join(lines)

def verdict(rows, per, a, b) -> str:
    "The data lesson's rule: a winner only when the gap of the means exceeds the two stds added."
    from lessonlib.data import verdict as v, with_spread
    t = rows[(rows.per_class == per) & rows.variant.isin([a, b])].pivot(index='variant', columns='seed', values='accuracy')
    t.columns = [f'seed {s}' for s in t.columns]
    return v(with_spread(t), a, b, fmt='.3f')

def main(only=()):
    "Run the variants named in `only` (all when empty; 'sweeps' for the learning-rate sweeps), merge, write RESULTS.md."
    workers = int(os.environ.get('BENCH_WORKERS', '2'))
    if not only or 'sweeps' in only:
        start = time.perf_counter(); run_sweeps(workers); print(f'sweeps: {time.perf_counter() - start:.0f} s', flush=True)
    names = tuple(o for o in only if o != 'sweeps')
    jobs = [(per, name, opts, seed) for per, vs in VARIANTS.items() for name, opts in vs.items() for seed in SEEDS
            if not only or name in names]
    jobs.sort(key=cost, reverse=True)
    start, out = time.perf_counter(), []
    if jobs:
        with ProcessPoolExecutor(workers) as pool:
            for done in as_completed([pool.submit(run, job) for job in jobs]):
                out.append(done.result()); o = out[-1]
                print(f"{len(out)}/{len(jobs)} {o['per_class']}/class {o['variant']}, seed {o['seed']}: {o['accuracy']:.3f} "
                      f"({o['cpu_seconds']:.0f} CPU s, {o['seconds']:.0f} s wall)", flush=True)
    total = time.perf_counter() - start
    new = pd.DataFrame(out, columns=['per_class', 'variant', 'seed', 'accuracy', 'seconds', 'cpu_seconds'])
    if only and CSV.exists():
        old = pd.read_csv(CSV)
        new = pd.concat([old[~old.variant.isin(names)], new], ignore_index=True)
    order = {(p, n): i for i, (p, n) in enumerate((p, n) for p, vs in VARIANTS.items() for n in vs)}
    new = new.assign(_o=[order.get((p, n), 999) for p, n in zip(new.per_class, new.variant)]).sort_values(['_o', 'seed']).drop(columns='_o')
    new.to_csv(CSV, index=False, quoting=csv.QUOTE_MINIMAL)
    write_results(new, len(jobs), total, workers)

def write_results(rows:pd.DataFrame, n_jobs:int, total:float, workers:int):
    "The fine_tuning section of RESULTS.md and its headline, from every run in the CSV (and the sweeps)."
    scratch = ['random init', 'small CNN', 'small CNN, 4x the epochs']
    best = {per: rows[(rows.per_class == per) & rows.variant.isin(scratch)].groupby('variant').accuracy.mean().idxmax() for per in VARIANTS}
    acc = lambda per, name: rows[(rows.per_class == per) & (rows.variant == name)].accuracy
    pm = lambda per, name: f"{acc(per, name).mean():.3f} ± {acc(per, name).std():.3f}"
    made = f"{len(rows)} runs, {rows.seconds.sum() / 60:.0f} minutes of training wall time in all" + \
           (f"; its latest call made {n_jobs} of them in {total:.0f} s" if n_jobs else "")
    choices = [n for n in CHOICES if n not in LONGER]
    lines = [f"- {name}: {verdict(rows, 10, 'fine_tune', name)}" for name in choices]
    sw = pd.read_csv(SWEEPS_CSV) if SWEEPS_CSV.exists() else None
    sweeps = ("" if sw is None else "**The learning-rate sweeps (`lr_sweeps`, 60 batches from 1e-6 to 0.1, one per seed)**\n\n"
              f"{sweeps_table(sw)}\n\nRates are those of the centred 9-batch average's lowest point and steepest fall; "
              "ratio = frozen's lowest-loss rate over unfrozen's.\n\n")
    half = [f"| {name} | " + ' | '.join(f'{a:.3f}' for a in acc(10, name)) + f" | {acc(10, name).mean():.3f} | {acc(10, name).std():.3f} |"
            for name in ['fine_tune', *[n for n in HALF_SEEDS if n.startswith('fine_tune')], 'small CNN, 4x the epochs',
                         *[n for n in HALF_SEEDS if n.startswith('small')]] if len(acc(10, name))]
    best10 = verdict(rows, 10, 'fine_tune', best[10])
    write_section('fine_tuning', f"""## Fine-tuning lesson: what the pretrained body is worth (issues 6, 12, 14)

MNIST digits upsampled to 64x64 RGB; a labelled budget of 10 or 50 images per digit (drawn by the seed), a fixed
held-out set of 500 (50 per digit); AdamW (ours, weight decay 0.01), one-cycle, random-affine augmentation;
`RECIPES` in `lessonlib.fine_tuning`: 1 frozen + 8 unfrozen epochs for fine_tune (9 epochs for the other methods),
batches of 16 (10 per class) or 32 (50 per class), two-layer head, lr_mult 100, BatchNorm in eval mode. Seeds
{', '.join(map(str, SEEDS))}; each run on one thread, {workers} at a time (`benchmarks/bench_fine_tuning.py`; {made}); time = CPU seconds of training (about the wall time of an idle core;
rows made by different calls ran under different loads, and the same run's CPU seconds differ by a tenth or more between them).
Every run is in `benchmarks/fine_tuning_runs.csv`, the sweeps in `benchmarks/fine_tuning_sweeps.csv`.

**10 labelled images per class**

{table(rows, 10, list(COMPARISON) + list(LONGER))}

Best from scratch at 10/class: {best[10]}. {best10}
Trained longer: {verdict(rows, 10, *LONGER)}

**50 labelled images per class**

{table(rows, 50, list(COMPARISON))}

Best from scratch at 50/class: {best[50]}. {verdict(rows, 50, 'fine_tune', best[50])}

**The recipe's choices, one at a time (10 per class)**

{table(rows, 10, ['fine_tune'] + choices)}

{chr(10).join(lines)}

**BatchNorm momentum of the small CNN from scratch (10 per class)**: {verdict(rows, 10, 'small CNN', *MOMENTUM)}

**Which half of the seed spreads the results (10 per class)**: a seed draws the labelled images and seeds the
training (initial weights, batch order, augmentation, dropout); these rows fix one half at seed 0's and vary the other.

| variant | seed 0 | seed 1 | seed 2 | mean | std |
|---|---|---|---|---|---|
{chr(10).join(half)}

{sweeps}""",
                  headline=f"10 labelled MNIST digits per class: fine_tune {pm(10, 'fine_tune')} "
                           f"{'ties' if 'tie' in best10 else 'against'} the small CNN given 4x the epochs {pm(10, 'small CNN, 4x the epochs')}; "
                           f"50 per class: {pm(50, 'fine_tune')} against {pm(50, 'small CNN, 4x the epochs')} "
                           f"({'a tie' if 'tie' in verdict(rows, 50, 'fine_tune', 'small CNN, 4x the epochs') else 'the small CNN ahead' if acc(50, 'small CNN, 4x the epochs').mean() > acc(50, 'fine_tune').mean() else 'fine_tune ahead'}); held-out accuracy, 3 seeds",
                  lesson='fine_tuning')

if __name__ == '__main__': main(tuple(sys.argv[1:]))
