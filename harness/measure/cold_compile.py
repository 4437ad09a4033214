"""Cold compile time that a cache hit and a cache miss report alike.

Numba's ``Dispatcher.recompile`` recompiles only the kernel itself: the functions it calls come
back from Numba's disk cache or from what the process compiled before, so a run that found the
cache reported 2 s where a cold one took 17 s. Here a fresh copy of the kernel and of every
Numba function it reaches, with caching off, is compiled instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from types import CellType, CodeType, FunctionType, ModuleType
from typing import Any

_COLD_S: dict[tuple[int, str], float] = {}  # this process's cold compiles: (kernel, types)


def _names(code: CodeType) -> set[str]:
    """The global and attribute names a function's code (and code nested in it) reads."""
    names = set(code.co_names)
    for const in code.co_consts:
        names |= _names(const) if isinstance(const, CodeType) else set()
    return names


def _jitted(value: Any) -> bool:
    """A Numba dispatcher, or a module holding some (``cd.mask_step``)."""
    from numba.core.dispatcher import Dispatcher

    if isinstance(value, ModuleType):
        return any(isinstance(v, Dispatcher) for v in vars(value).values())
    return isinstance(value, Dispatcher)


def _swap(value: Any, memo: dict[int, Any]) -> Any:
    return _fresh(value, memo) if _jitted(value) else value


def _fresh(value: Any, memo: dict[int, Any]) -> Any:
    """A copy of a dispatcher (or module) sharing no compiled code and no cache with it."""
    if id(value) not in memo:
        (_fresh_module if isinstance(value, ModuleType) else _fresh_dispatcher)(value, memo)
    return memo[id(value)]


def _fresh_module(module: ModuleType, memo: dict[int, Any]) -> None:
    memo[id(module)] = copy = ModuleType(module.__name__)
    copy.__dict__.update({k: _swap(v, memo) for k, v in vars(module).items()})


def _fresh_dispatcher(dispatcher: Any, memo: dict[int, Any]) -> None:
    """Its Python function again, over copies of its globals and closure in which every Numba
    function it reads is itself a fresh copy (recursion and shared callees through ``memo``)."""
    import numba

    py = dispatcher.py_func
    cells = [CellType(c.cell_contents) for c in py.__closure__ or ()]
    scope = dict(py.__globals__)
    func = FunctionType(py.__code__, scope, py.__name__, py.__defaults__, tuple(cells) or None)
    func.__qualname__ = py.__qualname__
    memo[id(dispatcher)] = numba.jit(locals=dispatcher.locals, **dispatcher.targetoptions)(func)
    scope.update({name: _swap(scope[name], memo) for name in _names(py.__code__) & scope.keys()})
    for cell in cells:
        cell.cell_contents = _swap(cell.cell_contents, memo)


def _types(dispatcher: Any, args: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(dispatcher.typeof_pyval(a) for a in args)


def remember(kernel: Callable[..., Any], args: Sequence[Any], seconds: float) -> None:
    """A first call that compiled from nothing (a cache miss) is this kernel's cold compile for
    these argument types: a later size with the same types reports it, not a second compile."""
    if _jitted(kernel) and not isinstance(kernel, ModuleType):
        _COLD_S.setdefault((id(kernel), str(_types(kernel, args))), seconds)


def cold_compile_time(kernel: Callable[..., Any], args: Sequence[Any]) -> float | None:
    """Seconds to compile ``kernel`` for ``args`` from nothing, once per process: a fresh copy
    of it and of every Numba function it calls, so neither Numba's disk cache nor what this
    process compiled before shortens it, and a cache hit and a miss report the same."""
    if not _jitted(kernel) or isinstance(kernel, ModuleType):
        return None
    types = _types(kernel, args)
    key = (id(kernel), str(types))
    if key not in _COLD_S:
        fresh = _fresh(kernel, {})
        start = time.perf_counter()
        fresh.compile(types)
        _COLD_S[key] = time.perf_counter() - start
    return _COLD_S[key]
