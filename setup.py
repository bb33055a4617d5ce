"""Package metadata for lessonlib, read from settings.ini (the nbdev 2 convention)."""
from configparser import ConfigParser
import setuptools

cfg = ConfigParser(delimiters=['='])
cfg.read('settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']

# Each `<extra>_requirements` key of settings.ini is an extra; `all` joins them and `dev` adds the toolchain.
EXTRAS = ['widgets', 'data', 'vision', 'movielens']
extras = {name: cfg.get(f'{name}_requirements', '').split() for name in EXTRAS}
extras['all'] = [req for name in EXTRAS for req in extras[name]]
extras['dev'] = extras['all'] + cfg['dev_requirements'].split()

statuses = {'1': 'Planning', '2': 'Pre-Alpha', '3': 'Alpha', '4': 'Beta', '5': 'Production/Stable', '6': 'Mature'}
spdx = {'apache2': 'Apache-2.0'}  # settings.ini's licence names, as SPDX expressions (LICENSE holds the text)
py_versions = ['3.10', '3.11', '3.12', '3.13']

setuptools.setup(
    name=cfg['lib_name'],
    version=cfg['version'],
    description=cfg['description'],
    # No url or author_email: settings.ini holds only reserved .invalid placeholders until the project has a host.
    author=cfg['author'],
    license_expression=spdx[cfg['license']],
    license_files=['LICENSE'],
    keywords=cfg['keywords'].split(),
    classifiers=[f"Development Status :: {cfg['status']} - {statuses[cfg['status']]}",
                 f"Intended Audience :: {cfg['audience']}",
                 f"Natural Language :: {cfg['language']}",
                 'Programming Language :: Python :: 3',
                 *[f'Programming Language :: Python :: {v}' for v in py_versions
                   if tuple(map(int, v.split('.'))) >= tuple(map(int, cfg['min_python'].split('.')))]],
    # assets/ holds data files only (no __init__.py), so it is named as a package of its own to carry them.
    packages=setuptools.find_packages(include=[cfg['lib_path'], cfg['lib_path'] + '.*']) + [cfg['lib_path'] + '.assets'],
    include_package_data=True,
    package_data={cfg['lib_path'] + '.assets': ['*']},
    install_requires=cfg['requirements'].split(),
    extras_require=extras,
    python_requires='>=' + cfg['min_python'],
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    zip_safe=False,
    # nbdev's symbol index: lets show_doc and other nbdev projects' docs find lessonlib's names.
    entry_points={'nbdev': [f"{cfg['lib_path']} = {cfg['lib_path']}._modidx:d"]},
)
