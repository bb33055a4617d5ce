"""Optimizers lesson: time of one step() of our Adam/AdamW against torch.optim's, the momentum explorer's update time,
and the search for each optimizer's best peak learning rate on the lesson's two MNIST nets (`--grid`).

    python benchmarks/bench_optimizers.py            # both parts
    python benchmarks/bench_optimizers.py --grid     # only the learning-rate search (writes optimizers_lr_grid.csv)
    python benchmarks/bench_optimizers.py --speed    # only the step() and explorer timings
"""
import csv, statistics, sys, time
from functools import partial
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import matplotlib
matplotlib.use('Agg')
import torch
from torch import nn
from results import write_section
import torch.nn.functional as F
from lessonlib.data import set_seed
from lessonlib import optimizers
from lessonlib.optimizers import SGD, RMSProp, Adam, AdamW, deep_net, momentum_explorer
from lessonlib.sgd import Learner, accuracy, mnist_dls, two_layer_net

GRID_CSV = Path(__file__).with_name('optimizers_lr_grid.csv')
TUNING_SEEDS = (100, 101)  # the lesson's comparison uses seeds 0, 1, 2: the rates are not tuned on them
OPT_FUNCS = {'SGD': SGD, 'SGD + momentum': partial(SGD, momentum=0.9), 'RMSProp': RMSProp, 'Adam': Adam}
NETS = {'two-layer': two_layer_net, 'five-layer': deep_net}
LR_GRID = {'SGD': [0.1, 0.2, 0.5, 1.0, 2.0], 'SGD + momentum': [0.02, 0.05, 0.1, 0.2, 0.5],
           'RMSProp': [1e-3, 2e-3, 5e-3, 1e-2, 2e-2], 'Adam': [2e-3, 5e-3, 1e-2, 2e-2, 5e-2]}

def collab_model():
    "The collaborative-filtering model's tensors: user and item factors (50 each) and biases, MovieLens 100k sizes."
    return nn.ModuleList([nn.Embedding(944, 50), nn.Embedding(1683, 50), nn.Embedding(944, 1), nn.Embedding(1683, 1)])

def mlp_model():
    "About a million parameters: ten Linear(320, 320) layers."
    return nn.Sequential(*[nn.Linear(320, 320) for _ in range(10)])

def with_grads(make):
    "A fresh seeded model whose parameters all hold a fixed random gradient."
    set_seed(0); model = make()
    for p in model.parameters(): p.grad = torch.randn_like(p)
    return model

class Unchunked:
    "Our foreach path with one call per operation for the whole group (no cache-sized chunks), for comparison."
    def __init__(self, opt): self.opt = opt
    def step(self):
        saved, optimizers.FOREACH_CHUNK = optimizers.FOREACH_CHUNK, None
        try: self.opt.step()
        finally: optimizers.FOREACH_CHUNK = saved

def variants(kind):
    "name -> function building an optimizer over a model's parameters."
    ours, theirs = (Adam, torch.optim.Adam) if kind == 'Adam' else (AdamW, torch.optim.AdamW)
    return {'torch foreach=False': lambda ps: theirs(ps, lr=1e-3, weight_decay=1e-2, foreach=False),
            'ours per-parameter': lambda ps: ours(ps, lr=1e-3, weight_decay=1e-2),
            'torch foreach=True': lambda ps: theirs(ps, lr=1e-3, weight_decay=1e-2, foreach=True),
            'ours foreach': lambda ps: ours(ps, lr=1e-3, weight_decay=1e-2, foreach=True),
            'ours foreach unchunked': lambda ps: Unchunked(ours(ps, lr=1e-3, weight_decay=1e-2, foreach=True)),
            'torch fused=True': lambda ps: theirs(ps, lr=1e-3, weight_decay=1e-2, fused=True),
            'ours fused (torch.compile)': lambda ps: ours(ps, lr=1e-3, weight_decay=1e-2, fused=True)}

def step_times(make_model, kind, rounds=5, steps=50, warmup=10):
    "Median seconds per step() of each variant, timed in interleaved rounds so that machine load hits all alike; and each first step's seconds."
    opts = {name: build(list(with_grads(make_model).parameters())) for name, build in variants(kind).items()}
    first = {}
    for name, opt in opts.items():
        start = time.perf_counter(); opt.step(); first[name] = time.perf_counter() - start  # compiles, for the compiled path
        for _ in range(warmup): opt.step()
    per_round = {name: [] for name in opts}
    for _ in range(rounds):
        for name, opt in opts.items():
            start = time.perf_counter()
            for _ in range(steps): opt.step()
            per_round[name].append((time.perf_counter() - start) / steps)
    return {name: statistics.median(ts) for name, ts in per_round.items()}, first

def explorer_times(n=40):
    "Median and worst ms of a slider change of momentum_explorer (path, artists' data, PNG), over both sliders."
    ex = momentum_explorer(opt='momentum', lr=0.3, momentum=0.5)
    times = []
    for i in range(n):
        start = time.perf_counter()
        if i % 2: ex.mom_slider.value = round(0.99 * i / n, 2)
        else: ex.lr_slider.value = 10 ** (-4 + 5 * i / (n - 1))
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3, max(times) * 1e3

def mnist_accuracy(dls, opt_func, lr_max, make_net, seed, n_epoch=2):
    "Final valid accuracy of `make_net()` after `n_epoch` epochs of one-cycle at `lr_max` (NaN if it diverged), as in the lesson."
    set_seed(seed); dls.train.generator.manual_seed(seed)
    learn = Learner(dls, make_net(), F.cross_entropy, opt_func=opt_func, metrics=[accuracy], silent=True)
    learn.fit_one_cycle(n_epoch, lr_max)
    h = learn.recorder.history
    return h.accuracy.iloc[-1] if len(h) == n_epoch else float('nan')

def lr_grid():
    "Every optimizer at every rate of its grid on both nets, over the tuning seeds; rows to GRID_CSV, best rates to RESULTS.md."
    torch.set_num_threads(1)  # as the lesson runs them: these nets are small, and one thread is faster
    dls, rows = mnist_dls(device='cpu'), []
    for net, make in NETS.items():
        for name, opt_func in OPT_FUNCS.items():
            for lr in LR_GRID[name]:
                for seed in TUNING_SEEDS:
                    rows.append(dict(net=net, optimizer=name, lr=lr, seed=seed, accuracy=round(mnist_accuracy(dls, opt_func, lr, make, seed), 4)))
                    print(rows[-1], flush=True)
    with open(GRID_CSV, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0])); writer.writeheader(); writer.writerows(rows)
    lines = []
    for net in NETS:
        for name in OPT_FUNCS:
            means = {lr: statistics.mean(r['accuracy'] for r in rows if (r['net'], r['optimizer'], r['lr']) == (net, name, lr))
                     for lr in LR_GRID[name]}
            best = max(means, key=lambda lr: -1 if means[lr] != means[lr] else means[lr])
            lines.append(f"| {net} | {name} | " + ' · '.join(f"{lr:g}: {a:.3f}" for lr, a in means.items()) + f" | **{best:g}** |")
    write_section('optimizers_lr_grid', f"""## Optimizers lesson: each optimizer's best peak learning rate (issue 14)

Two epochs of one-cycle on the bundled MNIST sample (4,000 train, 1,000 valid images, batches of 64), for the two-layer net
(784-128-10) and `deep_net()` (five Linear layers, width 64, PyTorch's default initialisation); mean valid accuracy over
the tuning seeds {', '.join(map(str, TUNING_SEEDS))} for each rate of each optimizer's grid. The lesson compares the optimizers at
these best rates over its own seeds 0, 1 and 2 (one torch thread, as the lesson). Rows in `benchmarks/{GRID_CSV.name}`; rerun with `--grid`.

| net | optimizer | peak learning rate: mean accuracy | best |
|---|---|---|---|
""" + '\n'.join(lines))

def main():
    rows, ratios = [], {}
    for model_name, make in (('collaborative filtering (944×50 + 1683×50 embeddings, biases; 4 tensors, 132k params)', collab_model),
                             ('MLP, 10 × Linear(320, 320) (20 tensors, 1.03M params)', mlp_model)):
        for kind in ('Adam', 'AdamW'):
            t, first = step_times(make, kind)
            base, fused = t['torch foreach=False'], t['torch fused=True']
            r = {'per_param': t['ours per-parameter'] / base, 'foreach': t['ours foreach'] / base,
                 'torch_foreach': t['torch foreach=True'] / base, 'vs_fused': t['ours foreach'] / fused,
                 'fused': fused / base, 'unchunked': t['ours foreach unchunked'] / base,
                 'compiled_vs_fused': t['ours fused (torch.compile)'] / fused, 'compile_s': first['ours fused (torch.compile)']}
            ratios[(model_name, kind)] = r
            print(model_name[:25], kind, {k: f'{v * 1e6:.0f}us' for k, v in t.items()}, {k: f'{v:.2f}' for k, v in r.items()})
            rows.append(f"| {model_name} | {kind} | {base * 1e6:.0f} | {t['ours per-parameter'] * 1e6:.0f} (**{r['per_param']:.2f}×**) | "
                        f"{t['torch foreach=True'] * 1e6:.0f} ({r['torch_foreach']:.2f}×) | {t['ours foreach unchunked'] * 1e6:.0f} ({r['unchunked']:.2f}×) | "
                        f"{t['ours foreach'] * 1e6:.0f} (**{r['foreach']:.2f}×**) | "
                        f"{fused * 1e6:.0f} ({r['fused']:.2f}×) | {r['vs_fused']:.2f}× | {t['ours fused (torch.compile)'] * 1e6:.0f} "
                        f"(**{r['compiled_vs_fused']:.2f}×** of fused) | {r['compile_s']:.1f} s |")
    median_ms, worst_ms = explorer_times()
    print(f"explorer update: median {median_ms:.1f} ms, worst {worst_ms:.1f} ms")
    worst_pp = max(r['per_param'] for r in ratios.values()); worst_fe = max(r['foreach'] for r in ratios.values())
    worst_c = max(r['compiled_vs_fused'] for r in ratios.values()); compile_s = [r['compile_s'] for r in ratios.values()]
    table = '\n'.join(rows)
    write_section('optimizers', f"""## Optimizers lesson: step() speed and the momentum explorer (issue 9)

Median time of one `step()` in microseconds, measured in isolation (every parameter holds a fixed gradient; 10 warm-up
steps, then 5 interleaved rounds of 50 timed steps per variant; weight decay 0.01), by `benchmarks/bench_optimizers.py`.
Ratios are against `torch.optim.Adam/AdamW(foreach=False)`; the last column is our foreach path against `fused=True`.

| model | optimizer | torch foreach=False | ours per-parameter (target ≤ 1.1×) | torch foreach=True | ours foreach, whole group per call | ours foreach, cache-sized chunks (target ≤ 0.9×) | torch fused=True | ours foreach / fused | ours fused=True: `torch.compile` (stretch: ≤ 1.5× of torch fused) | its compile time |
|---|---|---|---|---|---|---|---|---|---|---|
{table}

Worst ratios: per-parameter **{worst_pp:.2f}×**, foreach **{worst_fe:.2f}×** of torch's `foreach=False`. One foreach call
per operation over a whole group streams every tensor through memory before the next operation starts; on the MLP
(4 MB per list) that loses the CPU cache and runs slower than the per-parameter loop, as torch's own `foreach=True`
does. Our foreach path therefore works in chunks of `FOREACH_CHUNK` = {optimizers.FOREACH_CHUNK:,} elements per list on
the CPU (the lesson explains why). Our `fused=True` hands a tensor-by-tensor update to `torch.compile`, which fuses each
tensor's arithmetic into one generated loop: worst **{worst_c:.2f}×** of torch's hand-written `fused=True` (stretch goal
≤ 1.5×), after a first step that compiles for {min(compile_s):.0f} to {max(compile_s):.0f} s (once per model layout and
optimizer; later runs in the same process reuse it; PyTorch's on-disk compile cache, warm after the first
run on a machine, shortens it: a cold first compile measured about 23 s).

`momentum_explorer()` change of a slider, kernel side (40 moves of the learning-rate and momentum sliders across their
ranges): recompute the path, move the artists' data, blit them onto the kept background and encode the PNG the image
widget shows: **median {median_ms:.1f} ms**, worst {worst_ms:.1f} ms (target: well under 100 ms).""",
                  headline=f"ours = torch.optim to assert_close over 100 steps; Adam step {worst_pp:.2f}× torch (foreach=False), "
                           f"foreach path {worst_fe:.2f}×, compiled path {worst_c:.2f}× of torch fused; explorer update {median_ms:.0f} ms", lesson='optimizers')

if __name__ == '__main__':
    if '--grid' not in sys.argv[1:]: main()
    if '--speed' not in sys.argv[1:]: lr_grid()
