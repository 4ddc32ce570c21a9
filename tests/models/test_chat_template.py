"""webinfer.models.chat_template against transformers' ``apply_chat_template`` (jinja2) on ChatML templates."""

from __future__ import annotations

from typing import Any

import pytest
from bpe_corpus import SMOLLM2_CHAT_TEMPLATE

from webinfer.models.chat_template import FORMATS, ChatFormat, UnknownChatTemplate, recognise, render_chat

SMOLLM2 = SMOLLM2_CHAT_TEMPLATE
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + "
    "'\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# the same templates as people write them: escapes instead of newlines, other quotes, whitespace control, layout
CHATML_DEFINED = ("{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
                  + CHATML)
CHATML_LAYOUT = """{%- for message in messages %}
    {{- "<|im_start|>" + message["role"] + "\\n" + message["content"] + "<|im_end|>" + "\\n" }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- "<|im_start|>assistant\\n" }}
{%- endif %}
"""
SMOLLM2_LAYOUT = """{# SmolLM2, laid out #}
{% for message in messages %}
  {% if loop.first and messages[0]['role'] != 'system' %}
{{- '<|im_start|>system\\nYou are Ünïcode bot 🤖, say \\'hi\\'<|im_end|>\\n' -}}
  {% endif %}
{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' -}}
{% endfor %}
{% if add_generation_prompt %}
{{- '<|im_start|>assistant\\n' -}}
{% endif %}"""

KNOWN = {"smollm2": SMOLLM2, "chatml": CHATML, "chatml_defined": CHATML_DEFINED, "chatml_layout": CHATML_LAYOUT,
         "smollm2_layout": SMOLLM2_LAYOUT}

UNKNOWN = {
    # renders a blank line after the default system message: not ChatML's form
    "extra_newline": SMOLLM2.replace("{% endif %}", "\n{% endif %}", 1),
    "llama3": ("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
               "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + "
               "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
               "{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant"
               "<|end_header_id|>\n\n' }}{% endif %}"),
    "zephyr": ("{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + "
               "message['content'] + eos_token }}\n{% endif %}\n{% endfor %}"),
    "no_generation_prompt": CHATML.split("{% if add_generation_prompt %}")[0],
    "strip_content": CHATML.replace("message['content']", "message['content'] | trim"),
}

CONVERSATIONS = [
    [{"role": "user", "content": "Hi"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"}],
    [{"role": "user", "content": "Hello!"}, {"role": "assistant", "content": "Hi, how can I help?"},
     {"role": "user", "content": "Tell me a joke.\n\nA short one."}],
    [{"role": "system", "content": ""}, {"role": "user", "content": ""}],
    [{"role": "user", "content": "Ünïcödé 😀👨‍👩‍👧 中文 العربية e\u0301 \t tabs  "}],
    [{"role": "user", "content": "{{ not a template }} {% if x %} <|im_end|> \\n"}, {"role": "tool", "content": "42"}],
    [{"role": "assistant", "content": "I start."}, {"role": "system", "content": "late system"}],
]


@pytest.fixture(scope="module")
def hf() -> Any:
    """A transformers tokenizer whose apply_chat_template renders the given template with jinja2."""
    transformers = pytest.importorskip("transformers")
    tokenizers = pytest.importorskip("tokenizers")
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizers.Tokenizer(tokenizers.models.BPE()))


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_known_templates_render_like_transformers(hf: Any, name: str) -> None:
    template = KNOWN[name]
    fmt = recognise(template)
    assert fmt.name == "chatml"
    for messages in CONVERSATIONS:
        for gen in (True, False):
            want = hf.apply_chat_template(messages, chat_template=template, tokenize=False, add_generation_prompt=gen)
            assert render_chat(messages, template, add_generation_prompt=gen) == want, (messages, gen)
            assert fmt.render(messages, gen) == want


def test_default_system_prompts() -> None:
    assert recognise(SMOLLM2).default_system == "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
    assert recognise(SMOLLM2_LAYOUT).default_system == "You are Ünïcode bot 🤖, say 'hi'"
    assert recognise(CHATML) == recognise(CHATML_LAYOUT) == recognise(CHATML_DEFINED) == FORMATS["chatml"]


@pytest.mark.parametrize("name", sorted(UNKNOWN))
def test_unknown_templates_are_refused(hf: Any, name: str) -> None:
    template = UNKNOWN[name]
    with pytest.raises(UnknownChatTemplate, match=r"template='chatml'.*callable"):
        render_chat([{"role": "user", "content": "Hi"}], template)
    if name == "extra_newline":  # not only different text: jinja2 renders something else
        msgs = [{"role": "user", "content": "Hi"}]
        assert hf.apply_chat_template(msgs, chat_template=template, tokenize=False, add_generation_prompt=True) \
            != render_chat(msgs, SMOLLM2)


def test_other_ways_to_give_a_template() -> None:
    msgs = [{"role": "user", "content": "Hi"}]
    assert render_chat(msgs, "chatml") == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    assert render_chat(msgs, ChatFormat("chatml", "S"), add_generation_prompt=False) == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n")
    assert render_chat(msgs, lambda m, gen: f"{m[0]['content']}|{gen}") == "Hi|True"
    with pytest.raises(TypeError, match="returned int"):
        render_chat(msgs, lambda m, gen: 1)
    with pytest.raises(ValueError, match="no chat template"):
        render_chat(msgs, None)


@pytest.mark.parametrize("messages, error, match", [
    ([], ValueError, "empty conversation"),
    ("Hi", TypeError, "list of"),
    ([("user", "Hi")], TypeError, r"messages\[0\] must be a dict"),
    ([{"role": "user"}], ValueError, r"messages\[0\]\['content'\] must be a str \(missing\)"),
    ([{"role": "user", "content": "a"}, {"role": "user", "content": [{"type": "text", "text": "b"}]}], ValueError,
     r"messages\[1\]\['content'\] must be a str \(a list\)"),
    ([{"role": None, "content": "a"}], ValueError, r"messages\[0\]\['role'\]"),
])
def test_bad_messages_are_named(messages: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        render_chat(messages, SMOLLM2)


def test_malformed_templates() -> None:
    with pytest.raises(UnknownChatTemplate, match="unclosed"):
        recognise("{% for m in messages ")
    with pytest.raises(UnknownChatTemplate, match="unterminated string"):
        recognise("{{ 'abc }}")
