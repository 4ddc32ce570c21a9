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
import sys
import traceback
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


def _user_frames(exc: BaseException, filename: str) -> BaseException:
    """``exc`` with its traceback starting at the first frame of ``filename`` (drops the runner's frames).

    A webinfer error's message already names the op, node, input and shapes, so its traceback also stops
    at the user's last frame: the frames inside webinfer (builder, registry, shape rule) are only noise.
    """
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    if tb is None:
        return exc
    import webinfer

    if isinstance(exc, webinfer.WebinferError):
        package = os.path.dirname(webinfer.__file__) + os.sep
        last = tb
        while last.tb_next is not None and not last.tb_next.tb_frame.f_code.co_filename.startswith(package):
            last = last.tb_next
        last.tb_next = None
    return exc.with_traceback(tb)


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


def new_namespace(preload: dict[str, Any]) -> dict[str, Any]:
    """The user's ``__main__``-like namespace, with ``preload`` (webinfer, MODEL_URL, BACKEND) in it."""
    import webinfer as wi
    from webinfer.models import SentenceEncoder

    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    namespace.update(wi=wi, webinfer=wi, SentenceEncoder=SentenceEncoder)
    namespace.update(preload)
    return namespace


def banner(namespace: dict[str, Any]) -> str:
    """The first lines the REPL shows."""
    import webinfer as wi

    version = sys.version.split()[0]
    return (f"Python {version} (Pyodide) · webinfer {wi.__version__} · imported: wi (webinfer), SentenceEncoder\n"
            f"BACKEND = {namespace.get('BACKEND')!r}   MODEL_URL = {namespace.get('MODEL_URL')!r}\n"
            "Top-level await works. Enter runs complete input, Shift+Enter adds a line, ↑/↓ walk the history.\n")
