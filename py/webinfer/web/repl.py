"""The REPL page's Python (runs inside Pyodide): is the input complete, and run it as the Python REPL would.

Input runs with top-level ``await`` (``eval_code_async``, entered from ``runPythonAsync``, so JSPI's
``run_sync`` works too); the value of a last expression is printed with its ``repr`` and kept in ``_``;
an exception prints a traceback that starts at the user's code.
"""

from __future__ import annotations

import ast
import codeop
import linecache
import os
import rlcompleter
import sys
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

_compiler = codeop.CommandCompiler()
_compiler.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


def status(source: str) -> str:
    """``"complete"`` (run it), ``"incomplete"`` (Enter adds a line) or ``"invalid"`` (run it: show the error).

    Like the Python REPL, a block (an indented last line) is complete only once an empty line ends it.
    """
    try:
        code = _compiler(source, "<input>", "exec")
    except (SyntaxError, ValueError, OverflowError):
        return "invalid"
    if code is None:
        return "incomplete"
    last = source.split("\n")[-1]
    if "\n" in source and last.strip() and last[0] in " \t":
        return "incomplete"
    return "complete"


def completions(text: str, namespace: dict[str, Any], limit: int = 500) -> list[str]:
    """What Tab offers for ``text`` (the name or dotted name before the caret), as the Python REPL does.

    rlcompleter's rules: keywords, names in ``namespace`` and builtins, attributes after a dot (the
    expression before it is evaluated, as in the REPL); callables end with ``(``. At most ``limit``.
    """
    completer = rlcompleter.Completer(namespace)
    found: list[str] = []
    while len(found) < limit:
        try:
            match = completer.complete(text, len(found))
        except Exception:  # noqa: BLE001 - a failing attribute lookup just offers nothing
            break
        if match is None:
            break
        found.append(match)
    return sorted(set(found))


def _user_frames(exc: BaseException, filename: str) -> BaseException:
    """``exc`` with its traceback starting at the first frame of ``filename`` (drops the runner's frames).

    A webinfer error's message already names the op, node, input and shapes, so its traceback also stops
    at the user's last frame: the frames inside webinfer (builder, registry, shape rule) are only noise.
    So does one raised by this file (input() interrupted by Stop).
    """
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    if tb is None:
        return exc
    import webinfer

    if isinstance(exc, webinfer.WebinferError):
        package = os.path.dirname(webinfer.__file__) + os.sep
        _cut_at(tb, lambda name: name.startswith(package))
    _cut_at(tb, lambda name: name == read_line.__code__.co_filename)
    return exc.with_traceback(tb)


def _cut_at(tb: TracebackType, inside: Callable[[str], bool]) -> None:
    """End the chain ``tb`` before its first frame whose file name ``inside`` accepts."""
    last = tb
    while last.tb_next is not None and not inside(last.tb_next.tb_frame.f_code.co_filename):
        last = last.tb_next
    last.tb_next = None


async def run(source: str, namespace: dict[str, Any], number: int) -> bool:
    """Run one input in ``namespace``; print the last expression's repr or the traceback. True if no error."""
    from pyodide.code import eval_code_async  # only in the page (status() is testable on the host)

    filename = f"<input-{number}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    try:
        value = await eval_code_async(source, globals=namespace, filename=filename)
    except SystemExit as exc:
        print(f"SystemExit: {exc.code} (the page keeps running; reload it to start over)", file=sys.stderr)
        return False
    except BaseException as exc:  # noqa: BLE001 - every error is the user's to see
        if isinstance(exc, SyntaxError):
            text = "".join(traceback.format_exception_only(exc))
        else:
            text = "".join(traceback.format_exception(_user_frames(exc, filename)))
        sys.stdout.flush()
        print(text, end="", file=sys.stderr)
        return False
    if value is not None:
        namespace["_"] = value
        print(repr(value))
    return True


def read_line(prompt: object = "") -> str:
    """``input()`` in the REPL's worker: shows ``prompt`` and blocks until the page sends a line.

    Stop while it waits raises KeyboardInterrupt. Without cross-origin isolation there is no
    SharedArrayBuffer to block on, so it raises EOFError saying so.
    """
    import js

    sys.stdout.write(str(prompt))
    sys.stdout.flush()
    reply = js.replReadLine()
    if reply.status == "line":
        return str(reply.text)
    if reply.status == "interrupted":
        print()  # end the prompt's line
        raise KeyboardInterrupt
    raise EOFError("input() cannot wait for your typing here: this page is not cross-origin isolated "
                   "(no SharedArrayBuffer); serve it with `webinfer serve`, or assign the value instead")


def install_input() -> None:
    """Make ``input()`` read from the page (the worker's default stdin has nothing to read)."""
    import builtins

    builtins.input = read_line


def new_namespace(preload: dict[str, Any]) -> dict[str, Any]:
    """The user's ``__main__``-like namespace, with ``preload`` (MODEL_URL, ...) in it, webinfer imported and
    ``BACKEND`` set to webinfer's ``auto`` choice for this browser (unless ``preload`` gives one)."""
    import webinfer as wi
    from webinfer.backends import choose
    from webinfer.models import CausalLM, SentenceEncoder

    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    namespace.update(wi=wi, webinfer=wi, SentenceEncoder=SentenceEncoder, CausalLM=CausalLM)
    namespace.update(preload)
    if "BACKEND" not in namespace:
        try:
            namespace["BACKEND"] = choose("auto")[0]
        except wi.BackendError:  # neither WebGPU nor WebNN: the snippets say so when they compile
            namespace["BACKEND"] = "webgpu"
    return namespace


def banner(namespace: dict[str, Any]) -> str:
    """The first lines the REPL shows."""
    import webinfer as wi

    version = sys.version.split()[0]
    return (f"Python {version} (Pyodide) · webinfer {wi.__version__} · imported: wi (webinfer), SentenceEncoder, "
            f"CausalLM\nBACKEND = {namespace.get('BACKEND')!r}   MODEL_URL = {namespace.get('MODEL_URL')!r}   "
            f"LLM_URL = {namespace.get('LLM_URL')!r}\n"
            "Top-level await works. Enter runs complete input, Shift+Enter adds a line, ↑/↓ walk the history.\n")
