"""Write a static, readable HTML copy of the course, with an index page, into _html/, from the committed notebooks and
their outputs (made by `make outputs`): what a reader sees is what the repository holds. `--execute` reruns them first."""
import html, re, sys, time
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import ExecutePreprocessor

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'benchmarks'))
from update_readme import lesson_info

def is_plumbing(cell) -> bool:
    "Cells a reader need not see: nbdev's `default_exp` line and `#| hide` cells."
    src = cell.source.strip()
    return cell.cell_type == 'code' and (src.startswith('#| hide') or src.startswith('#| default_exp') and '\n' not in src)

def render(path:Path, out_dir:Path, execute:bool=False) -> float:
    "Write one notebook in nbs/ as HTML (executing it first if asked); return the seconds it took."
    start = time.perf_counter()
    nb = nbformat.read(path, as_version=4)
    if execute:
        ExecutePreprocessor(timeout=900, kernel_name='python3').preprocess(nb, {'metadata': {'path': str(path.parent)}})
    elif not any(c.get('outputs') for c in nb.cells):
        print(f"warning: {path.name} carries no outputs; run `make outputs` first", flush=True)
    nb.cells = [c for c in nb.cells if not is_plumbing(c)]
    body, _ = HTMLExporter(template_name='lab').from_notebook_node(nb)
    (out_dir / f'{path.stem}.html').write_text(body, encoding='utf-8')
    return time.perf_counter() - start

def inline_code(text:str) -> str:
    "Escape `text` for HTML and show its `backticked` names as code."
    return re.sub(r'`([^`]+)`', r'<code>\1</code>', html.escape(text))

def index(lessons:list) -> str:
    "The index page: the lessons in course order, each with its one-line summary."
    items = '\n'.join(f'<li><a href="{stem}.html">{html.escape(info["title"])}</a><p>{inline_code(info["summary"])}</p></li>'
                      for stem, info in lessons)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>lessonlib: the course</title>
<style>body{{font-family:system-ui,sans-serif;max-width:46rem;margin:3rem auto;line-height:1.5;color:#222}}
li{{margin-bottom:1rem}} a{{font-size:1.2rem}} p{{margin:.2rem 0;color:#555}}</style></head><body>
<h1>lessonlib: deep-learning foundations, built from scratch</h1>
<p>A static copy of the course as committed, with the outputs of its last full run (written {time.strftime('%Y-%m-%d')}). Each explorer shows a picture of its figure here; to move its sliders, open the course in JupyterLab (<code>make lab</code>).</p>
<ol start="0">{items}</ol></body></html>"""

def main(out_dir:Path=ROOT / '_html', execute:bool='--execute' in sys.argv):
    out_dir.mkdir(exist_ok=True)
    lessons = []
    for path in sorted((ROOT / 'nbs').glob('[0-9][0-9]_*.ipynb')):
        print(f'{path.name}: {render(path, out_dir, execute):.0f} s', flush=True)
        lessons.append((path.stem, lesson_info(path)))
    (out_dir / 'index.html').write_text(index(lessons), encoding='utf-8')
    print(f'Wrote {out_dir}/index.html and {len(lessons)} lessons.')

if __name__ == '__main__':
    main()
