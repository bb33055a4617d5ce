"""SGD lesson: MNIST accuracies of the logistic regression and the two-layer net, the explorer's update time and static
picture, and what `import lessonlib.sgd` costs."""
import base64, os, statistics, subprocess, sys, time
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

HEAVY = ['ipywidgets', 'IPython', 'matplotlib', 'matplotlib.pyplot', 'fastprogress', 'fasthtml', 'PIL']

def import_cost(n=5):
    "Median CPU seconds of `import lessonlib.sgd` in a fresh interpreter (and of `import torch` alone), and the heavy modules it loads."
    def cpu(stmt):
        code = f"import time, sys; s = time.process_time(); {stmt}; print(time.process_time() - s, [m for m in {HEAVY!r} if m in sys.modules])"
        outs = [subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout for _ in range(n)]
        return statistics.median(float(o.split(' ', 1)[0]) for o in outs), outs[0].split(' ', 1)[1].strip()
    (sgd, loaded), (torch_only, _) = cpu('import lessonlib.sgd'), cpu('import torch')
    return sgd, torch_only, loaded

def static_picture():
    "Milliseconds to build the explorer's display bundle, and the size of its static PNG."
    ex = lr_explorer()
    start = time.perf_counter(); bundle = ex._repr_mimebundle_(); ms = (time.perf_counter() - start) * 1e3
    return ms, len(base64.b64decode(bundle['image/png'])) / 1024

def main():
    torch.set_num_threads(1)  # as the notebook does: these models are small
    set_seed(42); acc_lr, t_lr = train(LogisticRegression(), 10, 0.02, momentum=0.9)
    set_seed(42); acc_net, t_net = train(two_layer_net(), 15, 0.2, cbs=[CosineWarmup(0.2)], momentum=0.9, weight_decay=5e-4)
    median_ms, worst_ms = explorer_times()
    bundle_ms, png_kb = static_picture()
    import_s, torch_s, loaded = import_cost()
    load = os.getloadavg()[0]
    print(f"import lessonlib.sgd {import_s:.2f} s of CPU (torch alone {torch_s:.2f} s), heavy modules {loaded}; "
          f"static picture {png_kb:.0f} KB in {bundle_ms:.0f} ms; load {load:.1f}")
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
(target: well under 100 ms). The explorer's display also carries a static PNG of its figure for readers without a
kernel: {png_kb:.0f} KB, built in {bundle_ms:.0f} ms once per display.

`import lessonlib.sgd` in a fresh interpreter: **{import_s:.2f} s of CPU** (of which `import torch` alone: {torch_s:.2f} s);
heavy modules loaded: {loaded} (the explorers, plots and progress bar import theirs when used). Load average during the
run: {load:.1f}.""",
                  headline=f"MNIST-5k valid accuracy: logistic regression {acc_lr:.3f} (target ≥ 0.88), two-layer net "
                           f"{acc_net:.3f} (≥ 0.94); explorer update {median_ms:.0f} ms", lesson='sgd')

if __name__ == '__main__':
    main()
