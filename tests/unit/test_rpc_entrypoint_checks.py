"""common.nameko_support: the RPC entrypoint's argument check by count (against Python's
own binding) and nameko's worker timing logged only while DEBUG is on."""
import inspect
import logging
from contextlib import nullcontext

import pytest
from nameko import containers
from nameko.exceptions import IncorrectSignature

from common.nameko_support import ResilientRpc, _positional_counts


def m0(self): ...
def m1(self, a): ...
def m2(self, a, b=1): ...
def m3(self, a, *rest): ...
def m4(self, a, *, k): ...
def m5(self, a, *, k=1): ...
def m6(self, a, **kw): ...
def m7(self, a, /, b, c=2, *rest, d=3, **kw): ...


def entrypoint(method):
    entry = object.__new__(ResilientRpc)
    entry._signature = inspect.signature(method)
    entry._positional_counts = _positional_counts(entry._signature)
    return entry


@pytest.mark.parametrize("method", [m0, m1, m2, m3, m4, m5, m6, m7])
@pytest.mark.parametrize("n", range(6))
@pytest.mark.parametrize("kwargs", [{}, {"k": 1}, {"b": 2}])
def test_the_check_accepts_exactly_what_python_binds(method, n, kwargs):
    args = list(range(n))
    try:
        inspect.signature(method).bind(None, *args, **kwargs)
        binds = True
    except TypeError:
        binds = False
    if binds:
        entrypoint(method).check_signature(args, kwargs)
    else:
        with pytest.raises(IncorrectSignature):
            entrypoint(method).check_signature(args, kwargs)


def test_arguments_of_the_wrong_type_are_left_to_python():
    for args, kwargs in (([1], None), ([1], []), (1, {})):
        with pytest.raises(IncorrectSignature):
            entrypoint(m1).check_signature(args, kwargs)


def static(*, k=1): ...  # no positional self


def test_a_method_without_a_positional_self_is_left_to_binding():
    assert _positional_counts(inspect.signature(static)) is None
    with pytest.raises(IncorrectSignature):
        entrypoint(static).check_signature([], {})


def test_positional_counts():
    assert _positional_counts(inspect.signature(m2)) == (1, 2)
    assert _positional_counts(inspect.signature(m3)) == (1, float("inf"))
    assert _positional_counts(inspect.signature(m4)) is None  # a required keyword: bind decides


def test_worker_timing_is_logged_only_while_debug_is_on(caplog):
    caplog.set_level(logging.INFO, logger="nameko.containers")
    assert isinstance(containers._log_time("ran worker %s", "w"), nullcontext)
    caplog.set_level(logging.DEBUG, logger="nameko.containers")
    with containers._log_time("ran worker %s", "w"):
        pass
    assert any(r.getMessage().startswith("ran worker w in ") for r in caplog.records)
