"""Shared helpers of the benchmarks: timing, the machine's description, and RESULTS.md sections."""
from __future__ import annotations
import datetime, fcntl, os, platform, statistics, time
from pathlib import Path

import torch

RESULTS = Path(__file__).with_name('RESULTS.md')
HEADER = ("# Benchmark results\n\nWritten by the scripts in `benchmarks/` (`make bench` runs them all); "
          "each script rewrites only its own section. Do not edit by hand.\n")

def machine() -> str:
    "CPU model, threads, torch version and date, for the record."
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'): cpu = line.split(':', 1)[1].strip(); break
    except OSError: pass
    return (f"{cpu}; {os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} threads; "
            f"{datetime.date.today().isoformat()}")

def median_time(f, repeats:int=5, warmup:int=1) -> float:
    "Median seconds of `repeats` calls of `f` after `warmup` untimed calls."
    for _ in range(warmup): f()
    times = []
    for _ in range(repeats):
        start = time.perf_counter(); f(); times.append(time.perf_counter() - start)
    return statistics.median(times)

def write_section(name:str, markdown:str):
    "Replace (or add) the section `name` of RESULTS.md, leaving the others untouched."
    begin, end = f'<!-- {name}:begin -->', f'<!-- {name}:end -->'
    block = f'{begin}\n{markdown.strip()}\n\n_Machine: {machine()}._\n{end}'
    with open(RESULTS.with_suffix('.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = RESULTS.read_text(encoding='utf-8') if RESULTS.exists() else HEADER
        if begin in text and end in text:
            head, rest = text.split(begin, 1)
            text = head + block + rest.split(end, 1)[1]
        else: text = text.rstrip('\n') + '\n\n' + block + '\n'
        tmp = RESULTS.with_suffix('.tmp')
        tmp.write_text(text, encoding='utf-8'); os.replace(tmp, RESULTS)
