"""Where compiled kernels are cached: never in a folder another user can write (Numba reads its
index files with pickle), and always in the user's own ``NUMBA_CACHE_DIR`` when set."""

import os
import subprocess
import pathlib
import sys
import tempfile
import textwrap

import pytest

from microtorch.backends import _numba
from microtorch.backends._numba import cache_folder, unsafe_reason

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OTHER_UID = 65534  # "nobody"
as_root = pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0,
                             reason="needs root to create folders owned by another user")


def private(path):
    os.mkdir(path, 0o700)
    return str(path)


def test_a_private_folder_of_this_user_is_safe(tmp_path):
    assert unsafe_reason(private(tmp_path / "mine")) is None


def test_a_world_writable_folder_is_refused(tmp_path):
    folder = private(tmp_path / "open")
    os.chmod(folder, 0o777)
    assert unsafe_reason(folder) == "is writable by other users (mode 777)"
    os.chmod(folder, 0o770)
    assert unsafe_reason(folder) == "is writable by other users (mode 770)"


def test_a_symbolic_link_is_refused(tmp_path):
    target = private(tmp_path / "target")
    os.symlink(target, tmp_path / "link")
    assert unsafe_reason(str(tmp_path / "link")) == "is a symbolic link"


def test_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("")
    assert unsafe_reason(str(tmp_path / "file")) == "is not a directory"


def test_a_folder_in_a_shared_folder_without_sticky_bit_is_refused(tmp_path):
    shared = private(tmp_path / "shared")
    os.chmod(shared, 0o777)
    mine = private(tmp_path / "shared" / "mine")
    assert "any user can write" in unsafe_reason(mine)
    os.chmod(shared, 0o1777)  # as /tmp: others cannot rename or remove what is not theirs
    assert unsafe_reason(mine) is None


@as_root
def test_a_folder_owned_by_another_user_is_refused(tmp_path):
    folder = private(tmp_path / "theirs")
    os.chown(folder, OTHER_UID, OTHER_UID)
    assert unsafe_reason(folder) == f"is owned by uid {OTHER_UID}, not by this user (uid 0)"


def source_in(folder):
    """A kernel source file in ``folder`` (its __pycache__ is the in-tree cache)."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "kernels.py")
    with open(path, "w") as f:
        f.write("def k(x):\n    return x + 1\n")
    return path


def test_the_in_tree_pycache_comes_first(tmp_path):
    source = source_in(tmp_path / "pkg")
    folder, refused = cache_folder(source, user_folders=[private(tmp_path / "user")])
    assert folder == str(tmp_path / "pkg" / "__pycache__") and refused == []


def test_a_world_writable_pycache_falls_back_to_the_users_private_folder(tmp_path):
    source = source_in(tmp_path / "pkg")
    os.mkdir(tmp_path / "pkg" / "__pycache__", 0o777)
    os.chmod(tmp_path / "pkg" / "__pycache__", 0o777)
    fallback = str(tmp_path / "cache" / "microtorch-numba-cache-0")  # created here, 0700
    folder, refused = cache_folder(source, user_folders=[fallback])
    assert refused == [(str(tmp_path / "pkg" / "__pycache__"),
                        "is writable by other users (mode 777)")]
    assert os.path.dirname(folder) == fallback  # a subfolder per source folder, as Numba's
    assert (os.stat(fallback).st_mode & 0o777) == 0o700


@as_root
def test_a_fallback_planted_by_another_user_is_refused(tmp_path):
    source = source_in(tmp_path / "pkg")
    os.mkdir(tmp_path / "pkg" / "__pycache__", 0o700)
    os.chown(tmp_path / "pkg" / "__pycache__", OTHER_UID, OTHER_UID)
    planted = private(tmp_path / "planted")
    os.chown(planted, OTHER_UID, OTHER_UID)
    good = str(tmp_path / "good")
    folder, refused = cache_folder(source, user_folders=[planted, good])
    assert [reason for _, reason in refused] == [
        f"is owned by uid {OTHER_UID}, not by this user (uid 0)"] * 2
    assert os.path.dirname(folder) == good
    # nothing qualifies: no cache, and every refusal is named
    folder, refused = cache_folder(source, user_folders=[planted])
    assert folder is None and [f for f, _ in refused] == [
        str(tmp_path / "pkg" / "__pycache__"), planted]


def run_child(source, env=None, preexec_fn=None):
    """Run ``source`` in a fresh Python (the repository on its path); return its stdout."""
    environ = dict(os.environ, PYTHONPATH=ROOT)
    environ.pop("NUMBA_CACHE_DIR", None)
    environ.update(env or {})
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(source)], env=environ,
                          capture_output=True, text=True, timeout=300, preexec_fn=preexec_fn,
                          cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@as_root
def test_the_check_as_another_user_refuses_a_folder_planted_by_root():
    # The attack the other way round: root plants the folder another user's process would use.
    # The child drops to uid 65534 after importing (root's Python is not readable by it).
    with tempfile.TemporaryDirectory() as shared:  # in the system temp dir: others reach it
        os.chmod(shared, 0o1777)
        check_as_other_user(pathlib.Path(shared))


def check_as_other_user(shared):
    planted = private(shared / f"microtorch-numba-cache-{OTHER_UID}")
    out = run_child(f"""
        import os
        from microtorch.backends._numba import unsafe_reason, _private_folder
        os.setgid({OTHER_UID}); os.setuid({OTHER_UID})
        print(os.getuid())
        print(_private_folder({planted!r}))
        print(_private_folder({str(shared / "own")!r}))
    """)
    uid, planted_reason, own_reason = out.splitlines()
    assert uid == str(OTHER_UID)
    assert planted_reason == f"is owned by uid 0, not by this user (uid {OTHER_UID})"
    assert own_reason == "None"
    assert os.stat(shared / "own").st_uid == OTHER_UID


KERNEL_FILE = """
from microtorch.backends._numba import jit


@jit
def add_one(x):
    return x + 1.0
"""


def kernel_module(folder):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "userkernels.py"), "w") as f:
        f.write(KERNEL_FILE)
    return str(folder)


def test_the_users_numba_cache_dir_is_respected(tmp_path):
    module = kernel_module(tmp_path / "mod")
    user_dir = str(tmp_path / "user-cache")
    out = run_child(f"""
        import sys, warnings
        sys.path.insert(0, {module!r})
        import numba, numpy as np
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            from userkernels import add_one
        assert not [w for w in seen if "microtorch" in str(w.message)]
        print(add_one(np.ones(2)).sum())
        print(numba.config.CACHE_DIR)
        print(add_one.stats.cache_path)
    """, env={"NUMBA_CACHE_DIR": user_dir})
    total, config_dir, path = out.splitlines()
    assert float(total) == 4.0
    assert config_dir == user_dir
    assert path.startswith(user_dir + os.sep)
    assert any(name.endswith(".nbi") for name in os.listdir(path))
    pycache = os.path.join(module, "__pycache__")
    assert not os.path.isdir(pycache) or not any(n.endswith(".nbi") for n in os.listdir(pycache))


def test_an_unusable_numba_cache_dir_turns_caching_off_rather_than_moving(tmp_path):
    module = kernel_module(tmp_path / "mod")
    (tmp_path / "a-file").write_text("")
    user_dir = str(tmp_path / "a-file" / "cache")  # cannot be created
    out = run_child(f"""
        import sys, warnings
        sys.path.insert(0, {module!r})
        import numba, numpy as np
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            from userkernels import add_one
            from microtorch.backends._numba import jit

            @jit
            def another(x):
                return x * 2.0
        print(add_one(np.ones(2)).sum(), another(np.ones(2)).sum())
        print(numba.config.CACHE_DIR)
        print(type(add_one._cache).__name__)
        ours = [w for w in seen if "microtorch" in str(w.message)]
        print(len(ours))
        print(ours[0].message)
    """, env={"NUMBA_CACHE_DIR": user_dir})
    lines = out.splitlines()
    assert lines[0].split() == ["4.0", "4.0"]
    assert lines[1] == user_dir  # never replaced
    assert lines[2] == "NullCache"
    assert lines[3] == "1"  # one warning
    assert user_dir in lines[4] and "NUMBA_CACHE_DIR" in lines[4]
    pycache = os.path.join(module, "__pycache__")
    assert not os.path.isdir(pycache) or not any(n.endswith(".nbi") for n in os.listdir(pycache))


@as_root
def test_no_safe_folder_means_no_cache_and_one_warning(tmp_path):
    # Another user owns the module's __pycache__, the user cache folder and the temp fallback
    # (as if they had created them first): nothing is cached and nothing is read from them.
    module = kernel_module(tmp_path / "mod")
    xdg, tmp = tmp_path / "xdg", tmp_path / "tmp"
    theirs = [tmp_path / "mod" / "__pycache__", xdg / "microtorch" / "numba",
              tmp / "microtorch-numba-cache-0"]
    for folder in theirs:
        os.makedirs(folder)
        os.chown(folder, OTHER_UID, OTHER_UID)
    out = run_child(f"""
        import sys, warnings
        sys.path.insert(0, {module!r})
        import numpy as np
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            from userkernels import add_one
            import microtorch
        print(add_one(np.ones(3)).sum())
        print(type(add_one._cache).__name__)
        ours = [w for w in seen if "microtorch" in str(w.message)]
        print(len(ours))
        print(ours[0].message)
    """, env={"XDG_CACHE_HOME": str(xdg), "TMPDIR": str(tmp)})
    total, cache, count, message = out.splitlines()
    assert (total, cache, count) == ("6.0", "NullCache", "1")
    for folder in theirs:
        assert str(folder) in message
        assert os.listdir(folder) == []


def test_the_kernels_of_the_package_are_cached_in_a_checked_folder():
    from microtorch.backends.cpu import elementwise

    path = elementwise._arith.stats.cache_path
    assert path is not None
    assert _numba.unsafe_reason(path, {os.getuid(), os.stat(elementwise.__file__).st_uid},
                                parent_check=False) is None
