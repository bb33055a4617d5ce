"""Copy the slider latencies that the browser tests measured (benchmarks/browser_latency.json, git-ignored) into
RESULTS.md; `make results` runs the browser tests and then this, so `make test` never rewrites a tracked file."""
import json, statistics, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
from results import write_section

LATENCY = Path(__file__).with_name('browser_latency.json')

def main():
    if not LATENCY.exists(): raise SystemExit(f"{LATENCY} is missing: run `pytest -m browser` first.")
    for stem, measured in sorted(json.loads(LATENCY.read_text()).items()):
        lines = [f"- '{label}' slider: **median {statistics.median(ms):.0f} ms** (min {min(ms):.0f}, max {max(ms):.0f}, "
                 f"{len(ms)} presses)" for label, ms in measured.items()]
        write_section(f'browser-{stem}', f"""## Browser latency: {stem} (issue 8)

In headless Chromium on a real JupyterLab with the kernel on this machine (`pytest -m browser`), from an
arrow-key press on a slider to the new plot being shown (target: under 300 ms):

""" + '\n'.join(lines))
        print(stem, {label: round(statistics.median(ms)) for label, ms in measured.items()})

if __name__ == '__main__':
    main()
