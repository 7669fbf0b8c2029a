"""Sphinx configuration of microtorch's documentation.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html``. The tutorials run the
example scripts at build time (docs/_ext/mtdocs.py), the API pages are written from the modules'
public names, and nothing is fetched from the network.
"""

import datetime
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(HERE, "_ext"))
sys.path.insert(0, os.path.join(HERE, "examples"))
os.environ.setdefault("MPLBACKEND", "Agg")

import microtorch  # noqa: E402

project = "microtorch"
author = "the microtorch authors"
copyright = f"{datetime.date.today().year}, {author}"
version = release = microtorch.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "mtdocs",
]

# ---- the docs' own extension (docs/_ext/mtdocs.py) -------------------------------------------
mtdocs_repo_root = ROOT
mtdocs_api_modules = [
    ("microtorch", "Tensors, creation, math, reductions, grad modes, random numbers, "
                   "serialization: the ``torch`` namespace."),
    ("microtorch.autograd", "Reverse-mode automatic differentiation."),
    ("microtorch.nn", "Modules, layers and losses."),
    ("microtorch.nn.functional", "The functional form of layers, activations and losses."),
    ("microtorch.nn.init", "Parameter initialisation."),
    ("microtorch.nn.utils", "Gradient clipping and parameters as one vector."),
    ("microtorch.optim", "Optimizers."),
    ("microtorch.optim.lr_scheduler", "Learning-rate schedulers."),
    ("microtorch.utils.data", "Datasets, samplers and the DataLoader."),
    ("microtorch.utils.datasets", "Small datasets bundled with scikit-learn (nothing is "
                                  "downloaded)."),
    ("microtorch.utils.viz", "Drawing the autograd graph."),
    ("microtorch.models", "ResNets (torchvision's layout) and small networks."),
    ("microtorch.cuda", "Is a CUDA GPU usable, and which."),
]

# ---- autodoc / autosummary / napoleon ---------------------------------------------------------
autosummary_generate = True
autosummary_generate_overwrite = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_preserve_defaults = True
autodoc_typehints = "none"
autoclass_content = "class"
add_module_names = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
nitpicky = False

# ---- doctest -----------------------------------------------------------------------------------
doctest_global_setup = """
import numpy as np
import microtorch
import microtorch as torch
torch.manual_seed(0)
"""
doctest_test_doctest_blocks = "default"

# ---- sources and HTML --------------------------------------------------------------------------
templates_path = ["_templates"]
exclude_patterns = ["_build", "_generated", "Thumbs.db", ".DS_Store", "examples/*.py"]
pygments_style = "sphinx"
pygments_dark_style = "monokai"
html_theme = "furo"
html_title = f"microtorch {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {"navigation_with_keys": True}
html_show_sourcelink = False
html_copy_source = False
viewcode_line_numbers = True
suppress_warnings = []
