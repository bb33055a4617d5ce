"""SGD lesson: MNIST accuracies of the logistic regression and the two-layer net, and the explorer's update time."""
import statistics, sys, time
from functools import partial
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import matplotlib
matplotlib.use('Agg')
import torch
import torch.nn.functional as F
from results import write_section
from lessonlib.data import set_seed
from lessonlib.sgd import CosineWarmup, Learner, LogisticRegression, accuracy, lr_explorer, mnist_dls, two_layer_net

def train(model, n_epoch, lr, cbs=(), **opt_kwargs):
    "Train on the seeded 4,000/1,000 MNIST split; return final valid accuracy and seconds."
    learn = Learner(mnist_dls(device='cpu'), model, F.cross_entropy, opt_func=partial(torch.optim.SGD, **opt_kwargs),
                    lr=lr, metrics=[accuracy], cbs=list(cbs), silent=True)
    start = time.perf_counter(); learn.fit(n_epoch)
    return learn.recorder.history.accuracy.iloc[-1], time.perf_counter() - start

def explorer_times(n=40):
    "Median and worst ms of a slider change: recompute the path, move the lines' data, re-render the PNG shown."
    ex = lr_explorer()
    times = []
    for i in range(n):
        value = 10 ** (-3 + 3.4 * i / (n - 1))
        start = time.perf_counter(); ex.lr_slider.value = value; times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3, max(times) * 1e3

def main():
    set_seed(42); acc_lr, t_lr = train(LogisticRegression(), 10, 0.02, momentum=0.9)
    set_seed(42); acc_net, t_net = train(two_layer_net(), 15, 0.2, cbs=[CosineWarmup(0.2)], momentum=0.9, weight_decay=5e-4)
    median_ms, worst_ms = explorer_times()
    print(f"logistic regression {acc_lr:.3f} in {t_lr:.1f}s; two-layer net {acc_net:.3f} in {t_net:.1f}s; "
          f"explorer update {median_ms:.1f} ms (worst {worst_ms:.1f} ms)")
    write_section('sgd', f"""## SGD lesson: MNIST and the learning-rate explorer (issue 2)

Seeded 4,000/1,000 split of the 5,000 bundled MNIST images (`benchmarks/bench_sgd.py`):

| model | recipe | valid accuracy | target | train time |
|---|---|---|---|---|
| logistic regression (784→10) | SGD, momentum 0.9, lr 0.02, 10 epochs | **{acc_lr:.3f}** | ≥ 0.88 | {t_lr:.1f} s |
| two-layer net (784→128→10, ReLU) | SGD, momentum 0.9, wd 5e-4, warm-up + cosine to lr 0.2, 15 epochs | **{acc_net:.3f}** | ≥ 0.94 | {t_net:.1f} s |

`lr_explorer()` slider change, kernel side (40 moves across the whole range): recompute the path, move the
lines' data and re-render the PNG the image widget shows: **median {median_ms:.1f} ms**, worst {worst_ms:.1f} ms
(target: well under 100 ms).""",
                  headline=f"MNIST-5k valid accuracy: logistic regression {acc_lr:.3f} (target ≥ 0.88), two-layer net "
                           f"{acc_net:.3f} (≥ 0.94); explorer update {median_ms:.0f} ms", lesson='sgd')

if __name__ == '__main__':
    main()
