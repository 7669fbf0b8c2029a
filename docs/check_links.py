"""Check that every local link, image and anchor in the built HTML docs resolves.

    python docs/check_links.py docs/_build/html

Reads every ``*.html`` file under the folder, collects the ``id``/``name`` anchors of each, then
checks each ``href`` and ``src`` (``a``, ``link``, ``img``, ``script``, ``source``, ``iframe``,
``object``) that is not an external URL: the file it points to must exist, and a ``#fragment``
must name an anchor in that file (for HTML targets). External links (``http:``, ``mailto:``...)
are not fetched: the docs build needs no network. Prints each broken reference and exits 1 if
there is any, 0 otherwise.
"""

import argparse
import os
import sys
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

LINK_ATTRS = {"a": ("href",), "link": ("href",), "area": ("href",), "img": ("src", "srcset"),
              "script": ("src",), "source": ("src", "srcset"), "iframe": ("src",),
              "object": ("data",), "embed": ("src",), "video": ("src", "poster"),
              "audio": ("src",)}


class _Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.anchors = set()
        self.refs = []  # (tag, attribute, value, line)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name") if tag in ("a", "map") else ("id",):
            if attrs.get(key):
                self.anchors.add(attrs[key])
        for attr in LINK_ATTRS.get(tag, ()):
            value = attrs.get(attr)
            if value is None:
                continue
            if tag == "link" and attrs.get("rel") in ("preconnect", "dns-prefetch"):
                continue
            values = [v.strip().split()[0] for v in value.split(",") if v.strip()] \
                if attr == "srcset" else [value]
            for v in values:
                self.refs.append((tag, attr, v, self.getpos()[0]))

    handle_startendtag = handle_starttag


def _is_external(url):
    parts = urlsplit(url)
    return bool(parts.scheme or parts.netloc) or url.startswith("//")


def check(root):
    """Return a list of error strings for the built site under ``root``."""
    root = os.path.abspath(root)
    pages = {}
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(".html"):
                path = os.path.join(folder, name)
                parser = _Page()
                with open(path, encoding="utf-8", errors="replace") as f:
                    parser.feed(f.read())
                pages[path] = parser
    if not pages:
        return [f"no HTML files under {root}"]
    errors = []
    for path, page in sorted(pages.items()):
        rel_page = os.path.relpath(path, root)
        for tag, attr, url, line in page.refs:
            if not url or _is_external(url) or url.startswith(("javascript:", "data:")):
                continue
            parts = urlsplit(url)
            target = path
            if parts.path:
                target = os.path.normpath(os.path.join(os.path.dirname(path),
                                                       unquote(parts.path)))
                if os.path.isdir(target):
                    target = os.path.join(target, "index.html")
            where = f"{rel_page}:{line}: <{tag} {attr}={url!r}>"
            if not target.startswith(root + os.sep) and target != root:
                errors.append(f"{where} points outside the site")
                continue
            if not os.path.isfile(target):
                errors.append(f"{where}: {os.path.relpath(target, root)} does not exist")
                continue
            fragment = unquote(parts.fragment)
            if fragment and target.endswith(".html"):
                if target not in pages:  # pragma: no cover (every .html was parsed)
                    continue
                if fragment not in pages[target].anchors:
                    errors.append(f"{where}: no anchor #{fragment} in "
                                  f"{os.path.relpath(target, root)}")
    return errors


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", nargs="?", default=os.path.join(os.path.dirname(__file__), "_build",
                                                            "html"),
                    help="the folder of the built HTML (default: docs/_build/html)")
    args = ap.parse_args(argv)
    if not os.path.isdir(args.root):
        print(f"check_links: {args.root} is not a folder; build the docs first", file=sys.stderr)
        return 1
    errors = check(args.root)
    for err in errors:
        print(err)
    n_pages = sum(len([f for f in files if f.endswith(".html")])
                  for _, _, files in os.walk(args.root))
    if errors:
        print(f"check_links: {len(errors)} broken local link(s) in {n_pages} pages",
              file=sys.stderr)
        return 1
    print(f"check_links: every local link, image and anchor resolves ({n_pages} pages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
