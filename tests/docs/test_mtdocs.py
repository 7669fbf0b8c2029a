"""Helpers of the docs' Sphinx extension (docs/_ext/mtdocs.py): script cells, benchmark tables."""

import importlib.util
import os

import pytest

pytest.importorskip("sphinx")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location("mtdocs",
                                               os.path.join(ROOT, "docs", "_ext", "mtdocs.py"))
mtdocs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mtdocs)


def test_split_cells_at_section_comments():
    source = ('"""Title.\n\nMore."""\n\nimport os\n\n'
              '# ---- First part ------------\nx = 1\nprint(x)\n\n'
              '# %% Second part\n\ny = 2\n')
    doc, cells = mtdocs._split_cells(source)
    assert doc == "Title.\n\nMore."
    assert cells == [(None, 5, "import os"), ("First part", 8, "x = 1\nprint(x)"),
                     ("Second part", 13, "y = 2")]


def test_runner_captures_output_figures_and_value(tmp_path):
    runner = mtdocs._Runner("<cell>", str(tmp_path), "t")
    out, figs, value = runner.run("import matplotlib.pyplot as plt\nprint('hi')\n"
                                  "plt.plot([1, 2])\n6 * 7", want_value=True)
    assert out == "hi\n" and value == 42
    assert len(figs) == 1 and os.path.exists(figs[0])
    out, figs, value = runner.run("z = 1")
    assert runner.namespace["z"] == 1 and figs == [] and value is None


def test_markdown_results_parsing():
    text = ("ResNet benchmarks, 2025-01-01, x86_64, 2 cores\n\n"
            "| case | microtorch ms | PyTorch ms | ratio |\n|---|---:|---:|---|\n"
            "| fwd | 10.0 | 5.0 | 2.00x |\n| bwd | 4.0 | 4.0 | 1.00x |\n\nA note.\n")
    blocks = mtdocs._md_blocks(text)
    assert blocks[0] == ("text", "ResNet benchmarks, 2025-01-01, x86_64, 2 cores")
    assert blocks[1] == ("table", [["case", "microtorch ms", "PyTorch ms", "ratio"],
                                   ["fwd", "10.0", "5.0", "2.00x"],
                                   ["bwd", "4.0", "4.0", "1.00x"]])
    assert blocks[2] == ("text", "A note.")
    assert mtdocs._ratio_columns(blocks[1][1]) == [("ratio", [2.0, 1.0])]
    table = mtdocs._table_node(blocks[1][1])
    assert len(list(table.findall(lambda n: n.tagname == "row"))) == 3
