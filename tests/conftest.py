"""Shared fixtures; importing helpers loads the hypothesis profile (small example counts)."""

import pytest

import microtorch
from tests import helpers  # noqa: F401


@pytest.fixture
def restore_printoptions():
    """Reset microtorch's print options after a test that changes them."""
    yield
    microtorch.set_printoptions(profile="default", sci_mode=None)
