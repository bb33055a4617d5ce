"""Shared helpers of the benchmarks: timing, the machine's description, and RESULTS.md sections."""
from __future__ import annotations
import datetime, fcntl, json, os, platform, statistics, time
from pathlib import Path

import torch

RESULTS = Path(__file__).with_name('RESULTS.md')
HEADLINES = Path(__file__).with_name('headlines.json')  # lesson -> headline result, for the README's table
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

def _locked_rewrite(path:Path, change):
    "Rewrite `path` with `change(old_text) -> new_text` under a lock, atomically."
    with open(path.with_suffix('.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = path.read_text(encoding='utf-8') if path.exists() else None
        tmp = path.with_suffix('.tmp')
        tmp.write_text(change(old), encoding='utf-8'); os.replace(tmp, path)

def write_section(name:str, markdown:str, headline:str|None=None, lesson:str|None=None):
    "Replace (or add) the section `name` of RESULTS.md; `headline` also goes in the README row of `lesson`."
    begin, end = f'<!-- {name}:begin -->', f'<!-- {name}:end -->'
    block = f'{begin}\n{markdown.strip()}\n\n_Machine: {machine()}._\n{end}'
    def change(text):
        text = text or HEADER
        if begin in text and end in text:
            head, rest = text.split(begin, 1)
            return head + block + rest.split(end, 1)[1]
        return text.rstrip('\n') + '\n\n' + block + '\n'
    _locked_rewrite(RESULTS, change)
    if headline is not None: record_headline(lesson or name, name, headline)

def record_headline(lesson:str, key:str, text:str):
    "Store one headline result of `lesson` (several keys per lesson are joined in the README)."
    def change(old):
        data = json.loads(old) if old else {}
        data.setdefault(lesson, {})[key] = text
        return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + '\n'
    _locked_rewrite(HEADLINES, change)
