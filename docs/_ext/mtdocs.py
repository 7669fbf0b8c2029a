"""Sphinx extension of microtorch's docs: executed examples, live code cells and the API pages.

``.. example-script:: examples/autograd_tutorial.py``
    Runs the script at build time and shows it cell by cell: each ``# ---- Title ----`` comment
    (or ``# %%``) starts a section; every cell's code is followed by what it printed and by the
    matplotlib figures it drew. The module docstring becomes the introduction.

``.. exec-code::``
    Runs its content (a namespace shared by the cells of one page) and shows the code, the
    printed output, the figures, and a Graphviz graph when the last line is an expression whose
    value has a ``source`` and ``pipe`` (:class:`microtorch.utils.viz.Digraph`): an SVG when the
    ``dot`` program is installed, the DOT text otherwise. Options: ``:hide-code:``,
    ``:hide-output:``, ``:caption:`` (of the code block).

The API pages (``api/*.rst``) are written from the modules' public names when the config is
read, before autosummary writes its stubs.
"""

import ast
import contextlib
import hashlib
import importlib
import importlib.util
import inspect
import io
import os
import re
import shutil
import sys
import time
import traceback
import types

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

logger = logging.getLogger(__name__)

GENERATED = "_generated"  # under the source dir: figures and graphs made at build time
_SECTION = re.compile(r"^# -{2,} (?P<title>.+?) -*$")
_PERCENT = re.compile(r"^# %%\s*(?P<title>.*)$")


# ---- running code ----------------------------------------------------------------------------

def _split_cells(source):
    """(docstring, [(title or None, first line number, code)]) of an example script."""
    tree = ast.parse(source)
    doc = ast.get_docstring(tree, clean=True)
    lines = source.splitlines()
    start = 0
    if doc is not None and tree.body and isinstance(tree.body[0], ast.Expr):
        start = tree.body[0].end_lineno
    cells, title, first, buf = [], None, start + 1, []
    for lineno, line in enumerate(lines[start:], start + 1):
        m = _SECTION.match(line) or _PERCENT.match(line)
        if m:
            cells.append((title, first, buf))
            title, first, buf = m.group("title").strip() or None, lineno + 1, []
        else:
            buf.append(line)
    cells.append((title, first, buf))
    result = []
    for title, first, buf in cells:
        while buf and not buf[0].strip():
            buf, first = buf[1:], first + 1
        while buf and not buf[-1].strip():
            buf = buf[:-1]
        if buf or title:
            result.append((title, first, "\n".join(buf)))
    return doc, result


class _Runner:
    """Executes cells in one namespace, capturing stdout and new matplotlib figures."""

    def __init__(self, filename, figure_dir, figure_prefix):
        self.namespace = {"__name__": "__main__", "__file__": filename,
                          "__builtins__": __builtins__}
        self.filename = filename
        self.figure_dir = figure_dir
        self.figure_prefix = figure_prefix
        self.n_figures = 0

    def run(self, code, first_line=1, want_value=False):
        """Run ``code``; return (stdout text, [figure paths], value of a final expression)."""
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt

        plt.close("all")
        tree = ast.parse(code, self.filename)
        ast.increment_lineno(tree, first_line - 1)
        last = None
        if want_value and tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        out = io.StringIO()
        value = None
        with contextlib.redirect_stdout(out):
            exec(compile(tree, self.filename, "exec"), self.namespace)
            if last is not None:
                value = eval(compile(last, self.filename, "eval"), self.namespace)
        figures = []
        for num in plt.get_fignums():
            self.n_figures += 1
            os.makedirs(self.figure_dir, exist_ok=True)
            path = os.path.join(self.figure_dir, f"{self.figure_prefix}_{self.n_figures}.png")
            plt.figure(num).savefig(path, dpi=100, bbox_inches="tight")
            figures.append(path)
        plt.close("all")
        return out.getvalue(), figures, value


def _indent(text, prefix="   "):
    return [prefix + line if line.strip() else "" for line in text.splitlines()]


def _code_lines(code, language="python", caption=None):
    lines = [f".. code-block:: {language}"]
    if caption:
        lines.append(f"   :caption: {caption}")
    return lines + [""] + _indent(code) + [""]


def _output_lines(text):
    text = text.rstrip()
    if not text:
        return []
    return [".. rst-class:: example-output", "", ".. code-block:: none", ""] + _indent(
        text.expandtabs()) + [""]


class _Renderer:
    """Helpers shared by the directives: figure paths and reST for figures and graphs."""

    def _generated_dir(self, kind):
        return os.path.join(self.env.srcdir, GENERATED, kind)

    def _image_lines(self, path, alt):
        rel = os.path.relpath(path, self.env.srcdir).replace(os.sep, "/")
        return [f".. image:: /{rel}", f"   :alt: {alt}", "   :class: example-figure", ""]

    def _graph_lines(self, graph):
        source = graph.source
        if shutil.which("dot") is None:
            return [".. note:: Graphviz's ``dot`` program was not installed when these docs were "
                    "built, so here is the graph as DOT text; paste it into any Graphviz viewer "
                    "or install Graphviz to see the picture.", ""] + _code_lines(source, "dot")
        n = self.env.new_serialno("mtdocs-graph")
        stem = self.env.docname.replace("/", "_")
        path = os.path.join(self._generated_dir("graphs"), f"{stem}_graph_{n}.svg")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        svg = graph.pipe("svg")
        with open(path, "wb") as f:
            f.write(svg)
        return self._image_lines(path, "the autograd graph drawn by make_dot")

    def _parse(self, lines):
        node = nodes.Element()
        nested_parse_with_titles(self.state, StringList(lines, self.env.docname), node)
        return node.children


class ExampleScript(SphinxDirective, _Renderer):
    """``.. example-script:: path/to/script.py`` (path relative to the repository root)."""

    required_arguments = 1
    option_spec = {"no-docstring": directives.flag}

    def run(self):
        root = self.config.mtdocs_repo_root
        rel = self.arguments[0]
        path = os.path.join(root, rel)
        if not os.path.exists(path):
            logger.info(f"example-script: {rel} does not exist yet", location=self.get_location())
            return self._parse([f".. note:: This chapter runs ``{rel}``, which is not written "
                                "yet.", ""])
        self.env.note_dependency(path)
        with open(path, encoding="utf-8") as f:
            source = f.read()
        doc, cells = _split_cells(source)
        stem = os.path.splitext(os.path.basename(rel))[0]
        runner = _Runner(path, self._generated_dir("figures"), stem)
        lines = []
        if doc and "no-docstring" not in self.options:
            lines += doc.splitlines() + [""]
        lines += [f"The script is ``{rel}``; run it with ``python {rel}``. The output below was "
                  "printed when these docs were built.", ""]
        start = time.perf_counter()
        cwd, argv, env = os.getcwd(), sys.argv, dict(os.environ)
        os.chdir(root)
        sys.argv = [rel]  # the script's own argparse sees no sphinx-build arguments
        os.environ["TQDM_DISABLE"] = "1"  # progress bars would only clutter the build log
        try:
            for title, first, code in cells:
                if title:
                    lines += [title, "-" * len(title), ""]
                if not code.strip():
                    continue
                try:
                    out, figures, _ = runner.run(code, first)
                except (Exception, SystemExit):
                    logger.warning(f"example-script: {rel} failed:\n{traceback.format_exc()}",
                                   location=self.get_location())
                    return self._parse(lines)
                lines += _code_lines(code) + _output_lines(out)
                for fig in figures:
                    lines += self._image_lines(fig, f"figure drawn by {rel}")
        finally:
            os.chdir(cwd)
            sys.argv = argv
            os.environ.clear()
            os.environ.update(env)
        logger.info(f"example-script: ran {rel} in {time.perf_counter() - start:.1f} s")
        return self._parse(lines)


class ExecCode(SphinxDirective, _Renderer):
    """``.. exec-code::`` with Python code as content, run at build time."""

    has_content = True
    option_spec = {"hide-code": directives.flag, "hide-output": directives.flag,
                   "caption": directives.unchanged}

    def run(self):
        namespaces = self.env.temp_data.setdefault("mtdocs_namespaces", {})
        runner = namespaces.get(self.env.docname)
        if runner is None:
            stem = self.env.docname.replace("/", "_")
            runner = namespaces[self.env.docname] = _Runner(
                self.env.doc2path(self.env.docname), self._generated_dir("figures"), stem)
        code = "\n".join(self.content)
        cwd = os.getcwd()
        os.chdir(self.config.mtdocs_repo_root)
        try:
            out, figures, value = runner.run(code, want_value=True)
        except Exception:
            logger.warning(f"exec-code failed:\n{traceback.format_exc()}",
                           location=self.get_location())
            return []
        finally:
            os.chdir(cwd)
        lines = []
        if "hide-code" not in self.options:
            lines += _code_lines(code, caption=self.options.get("caption"))
        if "hide-output" not in self.options:
            lines += _output_lines(out)
        for fig in figures:
            lines += self._image_lines(fig, self.options.get("caption") or "figure")
        if value is not None and hasattr(value, "source") and hasattr(value, "pipe"):
            lines += self._graph_lines(value)
        elif value is not None and "hide-output" not in self.options:
            lines += _output_lines(repr(value))
        return self._parse(lines)


class ModuleDocstring(SphinxDirective, _Renderer):
    """``.. module-docstring:: package.module``: the module's docstring as part of the page.

    Unlike ``automodule``, section titles inside the docstring become subsections of the page.
    """

    required_arguments = 1

    def run(self):
        modname = self.arguments[0]
        try:
            module = importlib.import_module(modname)
        except Exception as exc:
            logger.warning(f"module-docstring: cannot import {modname}: {exc!r}",
                           location=self.get_location())
            return []
        path = inspect.getsourcefile(module)
        if path:
            self.env.note_dependency(path)
        doc = inspect.getdoc(module) or ""
        return self._parse(doc.splitlines() + [""])


def _md_cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _md_blocks(text):
    """Split a small markdown file into ("table", rows) and ("text", paragraph) blocks."""
    blocks, para, table = [], [], []
    for line in text.splitlines() + [""]:
        if line.lstrip().startswith("|"):
            if para:
                blocks.append(("text", " ".join(para)))
                para = []
            table.append(line)
            continue
        if table:
            rows = [_md_cells(r) for r in table if not re.fullmatch(r"[\s|:-]+", r)]
            blocks.append(("table", rows))
            table = []
        if line.strip():
            para.append(line.strip().lstrip("#").strip())
        elif para:
            blocks.append(("text", " ".join(para)))
            para = []
    return blocks


def _table_node(rows):
    header, body = rows[0], rows[1:]
    ncols = len(header)
    table = nodes.table(classes=["benchmark-table"])
    group = nodes.tgroup(cols=ncols)
    table += group
    for _ in range(ncols):
        group += nodes.colspec(colwidth=1)

    def row_node(cells):
        row = nodes.row()
        for cell in (cells + [""] * ncols)[:ncols]:
            entry = nodes.entry()
            entry += nodes.paragraph(text=cell.replace("`", ""))
            row += entry
        return row

    thead = nodes.thead()
    thead += row_node(header)
    tbody = nodes.tbody()
    for cells in body:
        tbody += row_node(cells)
    group += thead
    group += tbody
    return table


def _ratio_columns(rows):
    """Indices of columns holding ratios (header with "/" or "ratio") and their numbers."""
    header = rows[0]
    result = []
    for j, name in enumerate(header):
        if "/" not in name and "ratio" not in name.lower():
            continue
        values = []
        for cells in rows[1:]:
            m = re.match(r"^\s*([0-9.]+)", cells[j]) if j < len(cells) else None
            values.append(float(m.group(1)) if m else float("nan"))
        if any(v == v for v in values):
            result.append((name, values))
    return result


class BenchmarkResults(SphinxDirective, _Renderer):
    """``.. benchmark-results:: benchmarks/results``: every ``*.md`` there, as tables, plus a
    plot of their ratio columns; a note on how to produce them when there are none."""

    required_arguments = 1

    def run(self):
        folder = os.path.join(self.config.mtdocs_repo_root, self.arguments[0])
        files = sorted(f for f in (os.listdir(folder) if os.path.isdir(folder) else [])
                       if f.endswith(".md"))
        if not files:
            return self._parse([
                ".. note::", "",
                f"   No benchmark results in ``{self.arguments[0]}/`` when these docs were "
                "built. Run the benchmarks (below) to write them, then rebuild the docs.", ""])
        result, plots = [], []
        for name in files:
            path = os.path.join(folder, name)
            self.env.note_dependency(path)
            with open(path, encoding="utf-8") as f:
                blocks = _md_blocks(f.read())
            title = f"{self.arguments[0]}/{name}"
            section = nodes.section(ids=[nodes.make_id("results-" + name)])
            section += nodes.title(text=title)
            for kind, block in blocks:
                if kind == "text":
                    section += nodes.paragraph(text=block.replace("`", ""))
                elif block:
                    section += _table_node(block)
                    for col, values in _ratio_columns(block):
                        plots.append((name, col, [r[0] for r in block[1:]], values))
            result.append(section)
        if plots:
            result += self._parse(self._plot(plots))
        return result

    def _plot(self, plots):
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(len(plots), 1, figsize=(8, 0.45 * sum(len(p[2]) for p in plots)
                                                          + 1.2 * len(plots)), squeeze=False)
        for ax, (name, col, labels, values) in zip(axes[:, 0], plots):
            y = list(range(len(labels)))[::-1]
            ax.barh(y, values, color=["#2b8cbe" if v >= 1 else "#e6550d" for v in values])
            ax.axvline(1.0, color="k", lw=0.8)
            ax.set_yticks(y, labels, fontsize=8)
            ax.set_title(f"{name}: {col}", fontsize=9, loc="left")
            ax.tick_params(axis="x", labelsize=8)
        fig.tight_layout()
        path = os.path.join(self._generated_dir("figures"), "benchmark_ratios.png")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return self._image_lines(path, "ratios from the benchmark tables")


# ---- API pages -------------------------------------------------------------------------------

def public_names(module):
    """The public names of ``module``: ``__all__``, else what it defines (for ``microtorch``
    itself: everything it re-exports from the package), minus submodules (they get pages of
    their own) and helpers imported from elsewhere."""
    modname = module.__name__
    names = getattr(module, "__all__", None)
    explicit = names is not None
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    result = []
    for name in names:
        obj = getattr(module, name, None)
        if obj is None or isinstance(obj, types.ModuleType):
            continue
        origin = str(getattr(obj, "__module__", None) or getattr(type(obj), "__module__", ""))
        if not origin.startswith("microtorch"):
            continue  # numpy, math...: not part of the API
        if not explicit and modname != "microtorch" and not origin.startswith(modname):
            continue  # e.g. no_grad imported by nn.init for its own use
        result.append(name)
    return result


def _kind(obj):
    if inspect.isclass(obj):
        return "classes"
    if callable(obj):
        return "functions"
    return "data"


_KIND_TITLES = {"classes": "Classes", "functions": "Functions", "data": "Data types and constants"}


def write_api_pages(app, config):
    """Write ``api/<module>.rst`` for each module of ``config.mtdocs_api_modules``."""
    srcdir = app.srcdir
    api_dir = os.path.join(srcdir, "api")
    written, filename_map, lower = [], {}, {}
    homes = {}  # id(obj) -> the full name under which it is documented (first module listed)
    for modname, title in config.mtdocs_api_modules:
        spec = _find_spec(modname)
        if spec is None or spec.origin is None:  # absent, or a folder without __init__.py
            logger.info(f"api: {modname} does not exist yet; no page")
            continue
        try:
            module = importlib.import_module(modname)
        except Exception as exc:
            logger.warning(f"api: cannot import {modname}: {exc!r}")
            continue
        groups = {"classes": [], "functions": [], "data": []}
        aliases = []
        def canonical_first(name):
            # the name an object calls itself (float32, not float; concat, not concatenate)
            obj = getattr(module, name)
            own = getattr(obj, "__name__", None) == name or str(obj).endswith("." + name)
            return (not own, name.lower())

        for name in sorted(public_names(module), key=canonical_first):
            obj = getattr(module, name)
            full = f"{modname}.{name}"
            home = homes.get(id(obj))
            if home is not None:
                aliases.append((name, home, _kind(obj)))
                continue
            homes[id(obj)] = full
            groups[_kind(obj)].append(name)
            if full.lower() in lower and lower[full.lower()] != full:
                # Tensor and tensor: distinct stub files on case-insensitive file systems too
                filename_map[full] = full + "-" + hashlib.sha1(full.encode()).hexdigest()[:6]
            lower.setdefault(full.lower(), full)
        doc = inspect.getdoc(module) or ""
        summary = doc.split("\n\n")[0].replace("\n", " ") if doc else ""
        heading = f"``{modname}``"
        lines = [".. This page is written by docs/_ext/mtdocs.py when the docs are built.", "",
                 heading, "=" * len(heading), "", f".. currentmodule:: {modname}", "",
                 summary, "", title, ""]
        for kind, names in groups.items():
            if not names:
                continue
            lines += [_KIND_TITLES[kind], "-" * len(_KIND_TITLES[kind]), "",
                      ".. autosummary::", "   :toctree: generated", ""]
            lines += [f"   {name}" for name in sorted(names, key=str.lower)] + [""]
        if aliases:
            lines += ["Also available here", "-------------------", "",
                      "These names are the same objects as those documented elsewhere:", ""]
            role = {"classes": "class", "functions": "func", "data": "data"}
            lines += [f"* ``{modname}.{name}``: :py:{role[kind]}:`{home}`"
                      for name, home, kind in sorted(aliases, key=lambda a: a[0].lower())] + [""]
        text = "\n".join(lines) + "\n"
        path = os.path.join(api_dir, f"{modname}.rst")
        os.makedirs(api_dir, exist_ok=True)
        old = open(path, encoding="utf-8").read() if os.path.exists(path) else None
        if old != text:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        written.append(modname)
    index = [".. This page is written by docs/_ext/mtdocs.py when the docs are built.", "",
             "API reference", "=============", "",
             "Every public name, grouped by module as in PyTorch's reference. Signatures are "
             "the functions' own: they follow PyTorch's.", "", ".. toctree::",
             "   :maxdepth: 1", ""] + [f"   {m}" for m in written] + [""]
    path = os.path.join(api_dir, "index.rst")
    text = "\n".join(index) + "\n"
    old = open(path, encoding="utf-8").read() if os.path.exists(path) else None
    if old != text:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    config.autosummary_filename_map = filename_map


def _find_spec(modname):
    try:
        return importlib.util.find_spec(modname)
    except (ImportError, ValueError):
        return None


def setup(app):
    app.add_config_value("mtdocs_repo_root", None, "env")
    app.add_config_value("mtdocs_api_modules", [], "env")
    app.add_directive("example-script", ExampleScript)
    app.add_directive("exec-code", ExecCode)
    app.add_directive("module-docstring", ModuleDocstring)
    app.add_directive("benchmark-results", BenchmarkResults)
    app.connect("config-inited", write_api_pages)
    return {"version": "1.0", "parallel_read_safe": False, "parallel_write_safe": True}
