"""Shared pieces of the hypothesis tests of the kit's document readers: bounded settings, JSON values, and the
property every reader has (a value, or one InputError line naming the file)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from release.errors import InputError

T = TypeVar("T")

READER = settings(
    max_examples=60,
    deadline=2000,  # ms per case, generous for a shared 2-core machine
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def value_or_one_line_error(read: Callable[[], T], *, source: str) -> T | None:
    """`read()`'s value, or None when it refused with one InputError line that starts with `source`."""
    try:
        return read()
    except InputError as e:
        assert "\n" not in str(e) and str(e).startswith(f"{source}: "), str(e)
        return None


def any_json(**optional: Any) -> st.SearchStrategy[Any]:
    """Any JSON value, or an object with the given optional keys (values drawn from the given strategies)."""
    return json_values | st.fixed_dictionaries({}, optional=optional)
