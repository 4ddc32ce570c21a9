"""Chat templates without jinja2 (Pyodide has none offline): recognise a ``tokenizer.chat_template`` and render it
in Python, giving the text ``transformers``' ``apply_chat_template(..., tokenize=False)`` gives.

    render_chat(messages, template_text, add_generation_prompt=True)   # -> str
    fmt = recognise(template_text); fmt.name, fmt.default_system; fmt.render(messages, True)

A template is recognised by its structure, not its exact text: it is cut into Jinja tags and text the way Jinja
does (with HF's ``trim_blocks``/``lstrip_blocks`` and ``{%-``/``-%}`` whitespace control), each tag's code is
canonicalised (spacing, quote style, string escapes) and the result is compared with the known templates' forms.
Known: the ChatML family (``<|im_start|>role\\n...<|im_end|>\\n``), with or without a default system prompt
(SmolLM2's). Any other template raises ``UnknownChatTemplate``, which says how to pass ``template="chatml"`` or
a callable ``(messages, add_generation_prompt) -> str`` instead.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["FORMATS", "ChatFormat", "UnknownChatTemplate", "recognise", "render_chat"]

Messages = Sequence[Mapping[str, Any]]


class UnknownChatTemplate(ValueError):
    """A chat template that is not one of the known forms (the message names it and the ways around it)."""


@dataclass(frozen=True)
class ChatFormat:
    """A recognised template: its family name and the system prompt it adds when the chat has none."""

    name: str
    default_system: str | None = None

    def render(self, messages: Messages, add_generation_prompt: bool = True) -> str:
        """The prompt text for ``messages`` (what the Jinja template renders)."""
        checked = _check_messages(messages)
        return _RENDERERS[self.name](checked, add_generation_prompt, self.default_system)


def _render_chatml(messages: list[tuple[str, str]], add_generation_prompt: bool, default_system: str | None) -> str:
    out = []
    if default_system is not None and messages and messages[0][0] != "system":
        out.append(f"<|im_start|>system\n{default_system}<|im_end|>\n")
    out.extend(f"<|im_start|>{role}\n{content}<|im_end|>\n" for role, content in messages)
    if add_generation_prompt:
        out.append("<|im_start|>assistant\n")
    return "".join(out)


_RENDERERS: dict[str, Callable[[list[tuple[str, str]], bool, str | None], str]] = {"chatml": _render_chatml}
FORMATS: dict[str, ChatFormat] = {"chatml": ChatFormat("chatml")}


def _check_messages(messages: Messages) -> list[tuple[str, str]]:
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise TypeError("messages must be a list of {'role': ..., 'content': ...} dicts, not "
                        f"{type(messages).__name__}")
    if not messages:
        raise ValueError("cannot apply a chat template to an empty conversation: give at least one message")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping):
            raise TypeError(f"messages[{i}] must be a dict with 'role' and 'content', not {type(m).__name__}")
        for key in ("role", "content"):
            if not isinstance(m.get(key), str):
                got = "missing" if key not in m else f"a {type(m[key]).__name__}"
                raise ValueError(f"messages[{i}][{key!r}] must be a str ({got}); content given as a list of parts "
                                 "is not supported by this template")
        out.append((m["role"], m["content"]))
    return out


# ---------------------------------------------------------------------------------------------------------
# Recognising a template

_STRING_RE = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*\"""", re.DOTALL)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "\n": ""}


def _unquote(literal: str) -> str:
    """The value of a Jinja string literal (its escapes are Python's; the common ones are enough here)."""
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), literal[1:-1], flags=re.DOTALL)


def _canonical_code(code: str) -> str:
    """A tag's code with strings as repr() of their values and spacing only where words meet."""
    parts = []
    last = 0
    for m in _STRING_RE.finditer(code):
        parts.append(_squeeze(code[last:m.start()]))
        parts.append(repr(_unquote(m.group())))
        last = m.end()
    parts.append(_squeeze(code[last:]))
    return "".join(parts)


def _squeeze(code: str) -> str:
    words = code.split()
    out = ""
    for w in words:
        if out and (out[-1].isalnum() or out[-1] == "_") and (w[0].isalnum() or w[0] == "_"):
            out += " "
        out += w
    return out


def _items(template: str) -> list[tuple[str, str]]:
    """The template as Jinja lexes it: ("text", value) | ("stmt", code) | ("expr", code), with HF's whitespace
    handling applied to the text and an expression that is one string literal turned into text."""
    raw: list[list[str]] = []  # [kind, content, left marker, right marker]
    i = 0
    n = len(template)
    text_start = 0
    while i < n:
        j = template.find("{", i)
        if j < 0 or j + 1 >= n:
            break
        opener = template[j:j + 2]
        if opener not in ("{{", "{%", "{#"):
            i = j + 1
            continue
        closer = {"{{": "}}", "{%": "%}", "{#": "#}"}[opener]
        k = j + 2
        left = template[k] if k < n and template[k] in "-+" else ""
        k += len(left)
        # find the closer outside string literals
        while k < n:
            if opener != "{#" and template[k] in "'\"":
                m = _STRING_RE.match(template, k)
                if m is None:
                    raise UnknownChatTemplate("the chat template has an unterminated string literal")
                k = m.end()
                continue
            if template.startswith(closer, k):
                break
            k += 1
        else:
            raise UnknownChatTemplate(f"the chat template has an unclosed {opener!r} at offset {j}")
        body = template[j + 2 + len(left):k]
        right = ""
        if body.endswith(("-", "+")):
            right, body = body[-1], body[:-1]
        raw.append(["text", template[text_start:j], "", ""])
        raw.append([{"{{": "expr", "{%": "stmt", "{#": "comment"}[opener], body, left, right])
        i = text_start = k + 2
    raw.append(["text", template[text_start:], "", ""])

    # whitespace control, decided on the source text as Jinja's lexer does: lstrip_blocks drops spaces/tabs between
    # a line start and a block or comment tag; trim_blocks drops the first newline after one; "-" strips all
    # whitespace on its side ("+" turns lstrip_blocks / trim_blocks off for that tag)
    at_line_start = [idx == 0 or "\n" in text for idx, (_, text, _, _) in enumerate(raw)]
    for idx in range(1, len(raw), 2):
        kind, _, left, right = raw[idx]
        before, after = raw[idx - 1], raw[idx + 1]
        if left == "-":
            before[1] = before[1].rstrip()
        elif kind != "expr" and left != "+" and at_line_start[idx - 1]:
            tail = before[1].rsplit("\n", 1)[-1]
            if not tail.strip(" \t"):
                before[1] = before[1][:len(before[1]) - len(tail)]
        if right == "-":
            after[1] = after[1].lstrip()
        elif kind != "expr" and right != "+" and after[1].startswith("\n"):
            after[1] = after[1][1:]

    items: list[tuple[str, str]] = []
    for kind, content, _, _ in raw:
        if kind == "comment":
            continue
        if kind == "expr":
            code = content.strip()
            m = _STRING_RE.fullmatch(code)
            if m is not None:
                kind, content = "text", _unquote(code)
            else:
                content = _canonical_code(code)
        elif kind == "stmt":
            content = _canonical_code(content)
        if kind == "text":
            if not content:
                continue
            if items and items[-1][0] == "text":
                items[-1] = ("text", items[-1][1] + content)
                continue
        items.append((kind, content))
    return items


def _key(template: str) -> str:
    """One string for a template's items (the separators cannot occur in a canonical tag)."""
    return "".join(f"\x1e{kind[0]}{content}" for kind, content in _items(template))


_SLOT = "\x00default system prompt\x00"
_CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
           "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
_CHATML_DEFAULT_SYSTEM = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\n" + _SLOT + "<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
# a no-op here (add_generation_prompt is always passed) that some ChatML templates start with
_DEFINE_GENERATION_PROMPT = ("{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}"
                             "{% endif %}")


def _known() -> list[tuple[re.Pattern[str], str, bool]]:
    """(pattern over a template's key, family, whether the pattern captures a default system prompt)."""
    known = []
    for prefix in ("", _DEFINE_GENERATION_PROMPT):
        for source, has_slot in ((_CHATML, False), (_CHATML_DEFAULT_SYSTEM, True)):
            pattern = re.escape(_key(prefix + source)).replace(re.escape(_SLOT), "(.*)")
            known.append((re.compile(pattern, re.DOTALL), "chatml", has_slot))
    return known


_KNOWN: list[tuple[re.Pattern[str], str, bool]] = []


def recognise(template: str) -> ChatFormat:
    """The known format a chat template renders; ``UnknownChatTemplate`` if it is none of them."""
    if not _KNOWN:
        _KNOWN.extend(_known())
    key = _key(template)
    for pattern, name, has_slot in _KNOWN:
        m = pattern.fullmatch(key)
        if m is not None:
            return ChatFormat(name, m.group(1) if has_slot else None)
    digest = hashlib.sha256(template.encode("utf-8")).hexdigest()[:16]
    shown = template if len(template) <= 160 else template[:160] + "..."
    raise UnknownChatTemplate(
        f"webinfer cannot render this chat template without jinja2 (sha256 {digest}…, {len(template)} chars: "
        f"{shown!r}); it knows {sorted(FORMATS)} (ChatML, with or without a default system prompt). Pass "
        "template='chatml' if the model uses ChatML, or template=a callable (messages, add_generation_prompt) -> str.")


def render_chat(messages: Messages, template: str | ChatFormat | Callable[..., str] | None,
                add_generation_prompt: bool = True) -> str:
    """The prompt text for ``messages``: ``template`` is a template text (recognised), a family name in ``FORMATS``,
    a ``ChatFormat``, or a callable ``(messages, add_generation_prompt) -> str``."""
    if template is None:
        raise ValueError("the model has no chat template (no tokenizer.chat_template): pass template='chatml' or a "
                         "callable (messages, add_generation_prompt) -> str")
    if isinstance(template, ChatFormat):
        return template.render(messages, add_generation_prompt)
    if isinstance(template, str):
        fmt = FORMATS.get(template) or recognise(template)
        return fmt.render(messages, add_generation_prompt)
    if callable(template):
        out = template(messages, add_generation_prompt)
        if not isinstance(out, str):
            raise TypeError(f"the chat template callable returned {type(out).__name__}, not str")
        return out
    raise TypeError(f"template must be a str, a ChatFormat or a callable, not {type(template).__name__}")
