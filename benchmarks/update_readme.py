"""Rewrite the README's lesson table from the notebooks (title, summary) and benchmarks/headlines.json (results)."""
import json, re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = '<!-- lessons:begin -->', '<!-- lessons:end -->'

def lesson_info(path:Path) -> dict:
    "Module name, title and one-line summary of a course notebook."
    nb = nbformat.read(path, as_version=4)
    text = '\n'.join(c.source for c in nb.cells)
    module = re.search(r'#\|\s*default_exp\s+(\S+)', text)
    title = re.search(r'^# (.+)$', text, re.M)
    summary = re.search(r'^> (.+)$', text, re.M)
    return {'module': module.group(1) if module else path.stem, 'title': title.group(1) if title else path.stem,
            'summary': summary.group(1) if summary else ''}

def table() -> str:
    "The lesson table in Markdown, one row per notebook in course order."
    headlines = json.loads((ROOT / 'benchmarks' / 'headlines.json').read_text()) if (ROOT / 'benchmarks' / 'headlines.json').exists() else {}
    rows = ['| # | lesson | notebook | what it builds | headline result (from `make results`) |', '|---|---|---|---|---|']
    for path in sorted((ROOT / 'nbs').glob('[0-9][0-9]_*.ipynb')):
        info = lesson_info(path)
        result = '; '.join(headlines.get(info['module'], {}).values()) or '—'
        rows.append(f"| {path.stem[:2]} | {info['title']} | [`nbs/{path.name}`](nbs/{path.name}) | {info['summary']} | {result} |")
    return '\n'.join(rows)

def main():
    readme = ROOT / 'README.md'
    text = readme.read_text(encoding='utf-8')
    if BEGIN not in text or END not in text: raise SystemExit(f"README.md lacks the {BEGIN} ... {END} markers")
    head, rest = text.split(BEGIN, 1)
    readme.write_text(head + BEGIN + '\n' + table() + '\n' + END + rest.split(END, 1)[1], encoding='utf-8')
    print('README.md lesson table rewritten.')

if __name__ == '__main__':
    main()
