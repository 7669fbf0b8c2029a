"""docs/check_links.py finds broken local links, images and anchors in built HTML."""

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location("check_links",
                                               os.path.join(ROOT, "docs", "check_links.py"))
check_links = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_links)


def _site(tmp_path, index, other='<h1 id="top">x</h1>'):
    (tmp_path / "sub").mkdir()
    (tmp_path / "img.png").write_bytes(b"\x89PNG")
    (tmp_path / "index.html").write_text(index)
    (tmp_path / "sub" / "page.html").write_text(other)
    return str(tmp_path)


def test_good_site_passes(tmp_path, capsys):
    root = _site(tmp_path, '<a href="sub/page.html#top">t</a><img src="img.png">'
                           '<a href="#here" id="here">self</a><a href="sub/">dir</a>'
                           '<a href="https://example.org/x#y">ext</a><a href="mailto:a@b">m</a>',
                 other='<h1 id="top">x</h1><a href="../index.html#here">back</a>')
    (tmp_path / "sub" / "index.html").write_text("<p>dir index</p>")
    assert check_links.check(root) == []
    assert check_links.main([root]) == 0
    assert "every local link" in capsys.readouterr().out


def test_broken_file_image_and_anchor(tmp_path, capsys):
    root = _site(tmp_path, '<a href="missing.html">a</a><img src="nope.png">'
                           '<a href="sub/page.html#gone">b</a><a href="#nothere">c</a>')
    errors = check_links.check(root)
    assert len(errors) == 4
    assert any("missing.html does not exist" in e for e in errors)
    assert any("nope.png does not exist" in e for e in errors)
    assert any("no anchor #gone in sub/page.html" in e for e in errors)
    assert any("no anchor #nothere in index.html" in e for e in errors)
    assert check_links.main([root]) == 1
    assert "4 broken" in capsys.readouterr().err


def test_missing_folder(tmp_path):
    assert check_links.main([str(tmp_path / "nothing")]) == 1
