"""Run every cell of course notebooks in a real Jupyter kernel and store the outputs, as `make outputs` does.

    python .ci/outputs.py                 # every notebook in nbs/
    python .ci/outputs.py 04_optimizers   # some (names with or without .ipynb)

Each notebook runs top to bottom in a fresh kernel, slow cells included, as JupyterLab's Run All does. Its
outputs are kept; metadata is cleaned as nbdev_clean cleans it; the notebook's metadata records a hash of its
code cells, so `.ci/check_outputs.py` can tell when the outputs no longer match the code. A notebook whose run
fails is left untouched (nothing half-written). The Run All timings (wall and kernel CPU seconds, load
average) go to benchmarks/runall.json and to the Run All section of benchmarks/RESULTS.md.
"""
import json, os, resource, sys, time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / '.ci'))
from nbhash import code_hash, clean_and_stamp, course_notebooks, write_notebook

RUNALL = ROOT / 'benchmarks' / 'runall.json'
BUDGET_NB, BUDGET_COURSE = 120, 8 * 60

def cpu_of_children() -> float:
    "CPU seconds (user + system) used so far by this process's finished children, such as a shut-down kernel."
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime

def execute(path:Path) -> tuple:
    "Run every cell of `path` in a fresh kernel; the executed notebook and its timing (wall s, kernel CPU s, load)."
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=900, kernel_name='python3', store_widget_state=False,
                            resources={'metadata': {'path': str(path.parent)}})
    load, cpu, start = os.getloadavg()[0], cpu_of_children(), time.perf_counter()
    client.execute()  # starts the kernel, runs every cell, shuts the kernel down (so its CPU time is counted)
    wall = time.perf_counter() - start
    return nb, dict(seconds=round(wall, 1), cpu_seconds=round(cpu_of_children() - cpu, 1), load=round(load, 2))

def timing_row(name:str, t:dict) -> str:
    "A Markdown table row: notebook, wall seconds, kernel CPU seconds, load average at the start, within budget."
    return (f"| {name} | {t['seconds']:.0f} | {t['cpu_seconds']:.0f} | {t['load']:.1f} | "
            f"{'yes' if t['seconds'] <= BUDGET_NB else '**no**'} |")

def record(times:dict):
    "Merge the new Run All timings into runall.json and rewrite the Run All section of RESULTS.md."
    data = json.loads(RUNALL.read_text()) if RUNALL.exists() else {}
    data.update(times)
    RUNALL.write_text(json.dumps(dict(sorted(data.items())), indent=1) + '\n')
    sys.path.insert(0, str(ROOT / 'benchmarks'))
    from results import write_section
    rows = '\n'.join(timing_row(k, t) for k, t in sorted(data.items()))
    total = sum(t['seconds'] for t in data.values())
    write_section('runall', f"""## Run All: every cell of every notebook (issue 12)

`make outputs` runs each notebook top to bottom in a fresh Jupyter kernel, slow cells included, as a learner's
Run All in JupyterLab does, and commits the outputs (`.ci/outputs.py`). Wall seconds are what a learner waits;
CPU seconds and the load average at the start say how busy the machine was (load 2 means both cores were
already taken):

| notebook | wall seconds | kernel CPU seconds | load average at start (2 cores) | within {BUDGET_NB} s |
|---|---|---|---|---|
{rows}

**Whole course: {total:.0f} s** (budget: {BUDGET_COURSE} s).""")

def main(names):
    os.environ.setdefault('PYDEVD_DISABLE_FILE_VALIDATION', '1')
    times, failed = {}, []
    for path in course_notebooks(ROOT, names):
        try: nb, timing = execute(path)
        except CellExecutionError as e:
            print(f"{path.name}: FAILED, left unchanged:\n{str(e)[-3000:]}", flush=True); failed.append(path.name); continue
        clean_and_stamp(nb)
        write_notebook(nb, path)
        times[path.stem] = timing
        print(f"{path.name}: {timing['seconds']:.0f} s wall, {timing['cpu_seconds']:.0f} s kernel CPU, load "
              f"{timing['load']:.1f} at start; outputs written (code hash {code_hash(nb)[:12]})", flush=True)
    if times: record(times)
    if failed: raise SystemExit(f"These notebooks failed and were not written: {', '.join(failed)}")

if __name__ == '__main__':
    main(sys.argv[1:])
