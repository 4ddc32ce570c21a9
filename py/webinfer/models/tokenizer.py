"""WordPiece (BERT) tokenizer read from a Hugging Face ``tokenizer.json``, in pure Python (no numpy).

It does what the HF ``tokenizers`` library does for the components BERT files use — ``BertNormalizer``,
``BertPreTokenizer``, the ``WordPiece`` model, ``TemplateProcessing``/``BertProcessing``, truncation, padding,
added/special tokens and the ``WordPiece`` decoder — and gives identical ids. Anything else in the file is
refused with a ``ValueError`` that names the component. Not provided: offsets and overflowing tokens.

    tok = Tokenizer.from_file("tokenizer.json")      # or from_json(text | bytes | dict), from_pretrained_dir(dir)
    tok.encode("Hello world").ids                     # [101, 7592, 2088, 102, 0, ...] (the file pads to 128)
    batch = tok.encode_batch(texts, padding="longest", max_length=256)
    batch.input_ids, batch.attention_mask, batch.token_type_ids, batch.shape   # lists of lists of int

HF classifies characters with tables that are older than (or newer than) Python's ``unicodedata``: the
categories come from a Unicode 8 crate, NFD from an older normalization crate, lowercase from Rust's std.
The tables below are those of HF (checked against it for every code point by the tests), so the ids are the
same on CPython 3.11 and in Pyodide whatever ``unicodedata`` version each ships.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .charclass import WHITESPACE, ClassRegex, parse_ranges, text_level

__all__ = ["BatchEncoding", "Encoding", "Tokenizer", "from_pretrained_dir"]

# ---------------------------------------------------------------------------------------------------------
# Character tables of HF tokenizers (code point ranges in hex, "A-B" or "A").

# Removed by clean_text: NUL, U+FFFD and "other" chars (Cc except \t\n\r, Cf of Unicode 8, Co). Unassigned
# (Cn) chars are kept, as HF does. D800-DFFF (lone surrogates, which HF cannot receive) are removed too.
_REMOVE = (
    "0-8 B-C E-1F 7F-9F AD 600-605 61C 6DD 70F 180E 200B-200F 202A-202E 2060-2064 2066-206F D800-DFFF "
    "E000-F8FF FEFF FFF9-FFFB FFFD 110BD 1BCA0-1BCA3 1D173-1D17A E0001 E0020-E007F F0000-FFFFD 100000-10FFFD"
)
# HF's is_chinese_char. Note 2B920 (not 2B820): HF leaves 2B820-2B91F unspaced, and so do we.
_CJK = "3400-4DBF 4E00-9FFF F900-FAFF 20000-2A6DF 2A700-2B81F 2B920-2CEAF 2F800-2FA1F"
# Nonspacing marks (Mn) of Unicode 8, dropped by strip_accents after NFD; later Mn chars are kept, as HF does.
_MN = (
    "300-33F 342 345-36F 483-487 591-5BD 5BF 5C1-5C2 5C4-5C5 5C7 610-61A 64B-65F 670 6D6-6DC 6DF-6E4 6E7-6E8 "
    "6EA-6ED 711 730-74A 7A6-7B0 7EB-7F3 816-819 81B-823 825-827 829-82D 859-85B 8E3-902 93A 93C 941-948 94D "
    "951-957 962-963 981 9BC 9C1-9C4 9CD 9E2-9E3 A01-A02 A3C A41-A42 A47-A48 A4B-A4D A51 A70-A71 A75 A81-A82 "
    "ABC AC1-AC5 AC7-AC8 ACD AE2-AE3 B01 B3C B3F B41-B44 B4D B56 B62-B63 B82 BC0 BCD C00 C3E-C40 C46-C47 "
    "C4A-C4D C55-C56 C62-C63 C81 CBC CBF CC6 CCC-CCD CE2-CE3 D01 D41-D44 D4D D62-D63 DCA DD2-DD4 DD6 E31 "
    "E34-E3A E47-E4E EB1 EB4-EB9 EBB-EBC EC8-ECD F18-F19 F35 F37 F39 F71-F72 F74 F77 F79-F7E F80 F82-F84 "
    "F86-F87 F8D-F92 F94-F97 F99-F9C F9E-FA1 FA3-FA6 FA8-FAB FAD-FB8 FBA-FBC FC6 102D-1030 1032-1037 1039-103A "
    "103D-103E 1058-1059 105E-1060 1071-1074 1082 1085-1086 108D 109D 135D-135F 1712-1714 1732-1734 1752-1753 "
    "1772-1773 17B4-17B5 17B7-17BD 17C6 17C9-17D3 17DD 180B-180D 18A9 1920-1922 1927-1928 1932 1939-193B "
    "1A17-1A18 1A1B 1A56 1A58-1A5E 1A60 1A62 1A65-1A6C 1A73-1A7C 1A7F 1AB0-1ABD 1B00-1B03 1B34 1B36-1B3A 1B3C "
    "1B42 1B6B-1B73 1B80-1B81 1BA2-1BA5 1BA8-1BA9 1BAB-1BAD 1BE6 1BE8-1BE9 1BED 1BEF-1BF1 1C2C-1C33 1C36-1C37 "
    "1CD0-1CD2 1CD4-1CE0 1CE2-1CE8 1CED 1CF4 1CF8-1CF9 1DC0-1DF5 1DFC-1DFF 20D0-20DC 20E1 20E5-20F0 2CEF-2CF1 "
    "2D7F 2DE0-2DFF 302A-302D 3099-309A A66F A674-A67D A69E-A69F A6F0-A6F1 A802 A806 A80B A825-A826 A8C4 "
    "A8E0-A8F1 A926-A92D A947-A951 A980-A982 A9B3 A9B6-A9B9 A9BC A9E5 AA29-AA2E AA31-AA32 AA35-AA36 AA43 AA4C "
    "AA7C AAB0 AAB2-AAB4 AAB7-AAB8 AABE-AABF AAC1 AAEC-AAED AAF6 ABE5 ABE8 ABED FB1E FE00-FE0F FE20-FE2F 101FD "
    "102E0 10376-1037A 10A01-10A03 10A05-10A06 10A0C-10A0F 10A38-10A3A 10A3F 10AE5-10AE6 11001 11038-11046 "
    "1107F-11081 110B3-110B6 110B9-110BA 11100-11102 11127-1112B 1112D 11130-11134 11173 11180-11181 "
    "111B6-111BE 111CA-111CC 1122F-11231 11234 11236-11237 112DF 112E3-112EA 11300-11301 1133C 11340 "
    "11366-1136C 11370-11374 114B3-114B8 114BA 114BF-114C0 114C2-114C3 115B2-115B5 115BC-115BD 115BF-115C0 "
    "115DC-115DD 11633-1163A 1163D 1163F-11640 116AB 116AD 116B0-116B5 116B7 1171D-1171F 11722-11725 "
    "11727-1172B 16AF0-16AF4 16B30-16B36 16F8F-16F92 1BC9D-1BC9E 1D167-1D169 1D17B-1D182 1D185-1D18B "
    "1D1AA-1D1AD 1D242-1D244 1DA00-1DA36 1DA3B-1DA6C 1DA75 1DA84 1DA9B-1DA9F 1DAA1-1DAAF 1E8D0-1E8D6 E0100-E01EF"
)
# Split off as punctuation by BertPreTokenizer: ASCII punctuation (incl. $+<=>^`|~, symbols in Unicode)
# and P* of Unicode 8 (so U+166D, now So, still splits; P* chars added since Unicode 8 do not).
_PUNCT = (
    "21-2F 3A-40 5B-60 7B-7E A1 A7 AB B6-B7 BB BF 37E 387 55A-55F 589-58A 5BE 5C0 5C3 5C6 5F3-5F4 609-60A "
    "60C-60D 61B 61E-61F 66A-66D 6D4 700-70D 7F7-7F9 830-83E 85E 964-965 970 AF0 DF4 E4F E5A-E5B F04-F12 F14 "
    "F3A-F3D F85 FD0-FD4 FD9-FDA 104A-104F 10FB 1360-1368 1400 166D-166E 169B-169C 16EB-16ED 1735-1736 "
    "17D4-17D6 17D8-17DA 1800-180A 1944-1945 1A1E-1A1F 1AA0-1AA6 1AA8-1AAD 1B5A-1B60 1BFC-1BFF 1C3B-1C3F "
    "1C7E-1C7F 1CC0-1CC7 1CD3 2010-2027 2030-2043 2045-2051 2053-205E 207D-207E 208D-208E 2308-230B 2329-232A "
    "2768-2775 27C5-27C6 27E6-27EF 2983-2998 29D8-29DB 29FC-29FD 2CF9-2CFC 2CFE-2CFF 2D70 2E00-2E2E 2E30-2E42 "
    "3001-3003 3008-3011 3014-301F 3030 303D 30A0 30FB A4FE-A4FF A60D-A60F A673 A67E A6F2-A6F7 A874-A877 "
    "A8CE-A8CF A8F8-A8FA A8FC A92E-A92F A95F A9C1-A9CD A9DE-A9DF AA5C-AA5F AADE-AADF AAF0-AAF1 ABEB FD3E-FD3F "
    "FE10-FE19 FE30-FE52 FE54-FE61 FE63 FE68 FE6A-FE6B FF01-FF03 FF05-FF0A FF0C-FF0F FF1A-FF1B FF1F-FF20 "
    "FF3B-FF3D FF3F FF5B FF5D FF5F-FF65 10100-10102 1039F 103D0 1056F 10857 1091F 1093F 10A50-10A58 10A7F "
    "10AF0-10AF6 10B39-10B3F 10B99-10B9C 11047-1104D 110BB-110BC 110BE-110C1 11140-11143 11174-11175 "
    "111C5-111C9 111CD 111DB 111DD-111DF 11238-1123D 112A9 114C6 115C1-115D7 11641-11643 1173C-1173E "
    "12470-12474 16A6E-16A6F 16AF5 16B37-16B3B 16B44 1BC9F 1DA87-1DA8B"
)
# Chars that HF's (older) NFD treats as starters without a decomposition although newer Unicode gives them a
# combining class or a decomposition: NFD runs on the text between them, so they neither move nor split.
_NFD_BARRIER = (
    "5C8-5C9 7FD 897-89F 8CA-8D3 9FE C3C D3B-D3C EBA 1715 1ABF-1AF0 1DF6-1DFA A82C 105C9 105E4 10D24-10D27 "
    "10D69-10D6D 10EAB-10EAC 10ECB-10ECF 10EF0-10EFB 10EFD-10EFF 10F46-10F50 10F82-10F85 11070 1133B 11383 "
    "11385 1138E 11391 113C5 113C7-113C8 113CE-113D0 1145E 11839-1183A 11938 1193D-1193E 11943 119E0 11A34 "
    "11A47 11A99 11D42 11D44-11D45 11D97 11F41-11F42 16121-16128 1612F 16D68-16D6A 16FF0-16FF1 1D127-1D128 "
    "1D250-1D252 1D25B-1D25C 1D25F 1D280-1D281 1E08F 1E130-1E136 1E2AE 1E2EC-1E2EF 1E4EC-1E4EF 1E5EE-1E5EF "
    "1E6E3 1E6E6 1E6EE-1E6EF 1E6F5"
)
# Lowercase mappings that Rust's std (Unicode 17) has and older Pythons lack: "first-last:target of first".
_LOWER_EXTRA = "1C89:1C8A A7CB:264 A7CC:A7CD A7CE:A7CF A7D2:A7D3 A7D4:A7D5 A7DA:A7DB A7DC:19B 10D50-10D65:10D70 " \
    "16EA0-16EB8:16EBB"


def _lower_extra() -> dict[int, int]:
    table = {}
    for item in _LOWER_EXTRA.split():
        span, _, target = item.partition(":")
        for lo, hi in parse_ranges(span):
            for cp in range(lo, hi + 1):
                table[cp] = int(target, 16) + cp - lo
    return table


_REMOVE_RE = ClassRegex("[{c}]+", c=_REMOVE)
# clean_text turns whitespace into " ": \t \n \r and the non-Cc spaces other than " " itself
_CLEAN_WS_RE = ClassRegex("[{c}]", c="9-A D A0 1680 2000-200A 2028-2029 202F 205F 3000")
_CJK_RE = ClassRegex("([{c}])", c=_CJK)
_MN_RE = ClassRegex("[{c}]+", c=_MN)
_BARRIER_RE = ClassRegex("([{c}])", c=_NFD_BARRIER)
_LOWER_EXTRA_TABLE = _lower_extra()
_LOWER_EXTRA_RE = ClassRegex("[{c}]", c=" ".join(f"{cp:X}" for cp in sorted(_LOWER_EXTRA_TABLE)))
# BertPreTokenizer: drop whitespace, isolate each punctuation char, keep the runs in between.
_PRE_RE = ClassRegex("[{p}]|[^{p}{s}]+", p=_PUNCT, s=WHITESPACE)
_IS_SPACE = frozenset(chr(cp) for lo, hi in parse_ranges(WHITESPACE) for cp in range(lo, hi + 1))
_WORD_CHAR_RE = re.compile(r"\w")


def _nfd(text: str, level: int) -> str:
    """NFD as HF computes it (see ``_NFD_BARRIER``)."""
    barrier = _BARRIER_RE[level]
    if barrier.search(text) is None:
        return unicodedata.normalize("NFD", text)
    parts = barrier.split(text)  # even items: plain text, odd items: one barrier char
    return "".join(p if i % 2 else unicodedata.normalize("NFD", p) for i, p in enumerate(parts))


# ---------------------------------------------------------------------------------------------------------
# Components


@dataclass(frozen=True)
class BertNormalizer:
    """HF ``BertNormalizer``: clean text, space out CJK ideographs, strip accents, lowercase."""

    clean_text: bool = True
    handle_chinese_chars: bool = True
    strip_accents: bool | None = None  # None: same as lowercase
    lowercase: bool = True

    def __call__(self, text: str) -> str:
        strip = self.lowercase if self.strip_accents is None else self.strip_accents
        level = text_level(text)  # the steps below never add a char beyond the text's level
        if level == 0:
            if self.clean_text:
                pattern = _REMOVE_RE[0]
                if pattern.search(text):
                    text = pattern.sub("", text)
                pattern = _CLEAN_WS_RE[0]
                if pattern.search(text):
                    text = pattern.sub(" ", text)
            return text.lower() if self.lowercase else text
        if self.clean_text:
            text = _REMOVE_RE[level].sub("", text)
            text = _CLEAN_WS_RE[level].sub(" ", text)
        if self.handle_chinese_chars:
            pattern = _CJK_RE[level]
            if pattern.search(text):
                text = " ".join(pattern.split(text))  # split keeps each ideograph as its own item
        if strip:
            text = _MN_RE[level].sub("", _nfd(text, level))
        if self.lowercase:
            # HF lowercases char by char: capital sigma always becomes σ (Python's lower() would give ς at
            # the end of a word).
            if "Σ" in text:
                text = text.replace("Σ", "σ")
            if _LOWER_EXTRA_RE[level].search(text):
                text = text.translate(_LOWER_EXTRA_TABLE)
            text = text.lower()
        return text


@dataclass(frozen=True)
class AddedToken:
    """An entry of ``added_tokens``: matched in the text before the model runs."""

    id: int
    content: str
    special: bool = False
    single_word: bool = False
    lstrip: bool = False
    rstrip: bool = False
    normalized: bool = True


@dataclass(frozen=True)
class Truncation:
    """Truncation settings (HF ``TruncationParams``)."""

    max_length: int
    strategy: str = "LongestFirst"  # | "OnlyFirst" | "OnlySecond"
    stride: int = 0
    direction: str = "Right"  # | "Left"


@dataclass(frozen=True)
class Padding:
    """Padding settings (HF ``PaddingParams``); ``length`` None means pad to the longest in the batch."""

    length: int | None = None
    direction: str = "Right"  # | "Left"
    pad_to_multiple_of: int | None = None
    pad_id: int = 0
    pad_type_id: int = 0
    pad_token: str = "[PAD]"


@dataclass
class Encoding:
    """One encoded text (or pair): ids, tokens, attention mask and token type ids, all the same length."""

    ids: list[int]
    tokens: list[str]
    attention_mask: list[int]
    type_ids: list[int]
    special_tokens_mask: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class BatchEncoding:
    """Encoded texts as lists of lists of int (rows padded to one length unless padding was off)."""

    input_ids: list[list[int]]
    attention_mask: list[list[int]]
    token_type_ids: list[list[int]]
    encodings: list[Encoding]

    @property
    def shape(self) -> tuple[int, int]:
        """(batch, sequence length); ValueError if the rows differ in length (padding was off)."""
        lengths = {len(row) for row in self.input_ids}
        if len(lengths) > 1:
            raise ValueError(f"rows have different lengths {sorted(lengths)}: encode with padding to get a shape")
        return (len(self.input_ids), lengths.pop() if lengths else 0)

    def __len__(self) -> int:
        return len(self.input_ids)

    def __getitem__(self, key: str) -> list[list[int]]:
        if key == "input_ids":
            return self.input_ids
        if key == "attention_mask":
            return self.attention_mask
        if key == "token_type_ids":
            return self.token_type_ids
        raise KeyError(key)

    def keys(self) -> tuple[str, ...]:
        return ("input_ids", "attention_mask", "token_type_ids")

    def to_dict(self) -> dict[str, list[list[int]]]:
        return {k: self[k] for k in self.keys()}


_Seq = tuple[list[int], list[str]]  # the ids of one text and their tokens


class _Template:
    """The post-processor: where [CLS]/[SEP] go and which type id each part gets."""

    def __init__(self, single: list[tuple[str, str, int]], pair: list[tuple[str, str, int]],
                 specials: dict[str, _Seq]) -> None:
        self.single, self.pair, self.specials = single, pair, specials
        for items in (single, pair):
            for kind, name, _ in items:
                if kind == "special" and name not in specials:
                    raise ValueError(f"post_processor: template names special token {name!r} it does not define")

    def n_added(self, is_pair: bool) -> int:
        return sum(len(self.specials[n][0]) for k, n, _ in (self.pair if is_pair else self.single)
                   if k == "special")

    def apply(self, a: _Seq, b: _Seq | None) -> Encoding:
        ids: list[int] = []
        tokens: list[str] = []
        types: list[int] = []
        special: list[int] = []
        for kind, name, type_id in (self.single if b is None else self.pair):
            if kind == "special":
                part_ids, part_tokens = self.specials[name]
            else:
                part_ids, part_tokens = a if name == "A" else b or ([], [])
            ids.extend(part_ids)
            tokens.extend(part_tokens)
            types.extend([type_id] * len(part_ids))
            special.extend([1 if kind == "special" else 0] * len(part_ids))
        return Encoding(ids=ids, tokens=tokens, attention_mask=[1] * len(ids), type_ids=types,
                        special_tokens_mask=special)


_NO_TEMPLATE = _Template([("sequence", "A", 0)], [("sequence", "A", 0), ("sequence", "B", 1)], {})


# ---------------------------------------------------------------------------------------------------------
# The tokenizer


def _unsupported(component: str, spec: Any, supported: str) -> ValueError:
    kind = spec.get("type") if isinstance(spec, dict) else spec
    return ValueError(f"tokenizer.json: unsupported {component} {kind!r} (webinfer supports {supported})")


class Tokenizer:
    """A WordPiece tokenizer built from a HF ``tokenizer.json``; ids identical to HF ``tokenizers``.

    ``encode``/``encode_batch`` default to the file's own truncation and padding settings; pass
    ``max_length``, ``truncation`` and ``padding`` to override them.
    """

    _CACHE_LIMIT = 200_000

    def __init__(self, config: Mapping[str, Any]) -> None:
        model = config.get("model") or {}
        if model.get("type") != "WordPiece":
            raise _unsupported("model", model.get("type"), "'WordPiece'")
        if not isinstance(model.get("vocab"), dict):
            raise ValueError("tokenizer.json: the WordPiece model has no vocab")
        self._vocab: dict[str, int] = dict(model["vocab"])
        self._prefix: str = model.get("continuing_subword_prefix", "##")
        self._max_chars: int = int(model.get("max_input_chars_per_word", 100))
        self.unk_token: str = model.get("unk_token", "[UNK]")
        if self.unk_token not in self._vocab:
            raise ValueError(f"tokenizer.json: unk_token {self.unk_token!r} is not in the WordPiece vocab")
        self._unk_id = self._vocab[self.unk_token]
        self._max_piece = max((len(k) for k in self._vocab), default=0)

        self._id_to_token: dict[int, str] = {i: t for t, i in self._vocab.items()}
        self._added: dict[str, AddedToken] = {}  # by content
        for t in config.get("added_tokens") or []:
            self._add_token(t)
        self._special_ids = frozenset(t.id for t in self._added.values() if t.special)

        self.normalizer = self._read_normalizer(config.get("normalizer"))
        pre = config.get("pre_tokenizer")
        if pre is None:
            self._pre_re: ClassRegex | None = None
        elif pre.get("type") == "BertPreTokenizer":
            self._pre_re = _PRE_RE
        else:
            raise _unsupported("pre_tokenizer", pre, "'BertPreTokenizer' or none")
        self._template = self._read_post_processor(config.get("post_processor"))
        self._decoder = config.get("decoder")

        self._raw_re = self._token_re([t for t in self._added.values() if not t.normalized], lambda s: s)
        self._norm_re = self._token_re([t for t in self._added.values() if t.normalized], self.normalize)

        t = config.get("truncation")
        self.truncation: Truncation | None = None if t is None else Truncation(
            max_length=int(t["max_length"]), strategy=t.get("strategy", "LongestFirst"),
            stride=int(t.get("stride", 0)), direction=t.get("direction", "Right"))
        if self.truncation is not None:
            self._check_truncation(self.truncation)
        p = config.get("padding")
        self.padding: Padding | None = None if p is None else self._read_padding(p)
        # padding asked for in a call when the file has none (HF's defaults, pad id from the vocab)
        self._default_padding = self.padding or Padding(pad_id=self._vocab.get("[PAD]", 0))
        self._cache: dict[str, list[int]] = {}

    def _add_token(self, spec: Mapping[str, Any]) -> None:
        """Register an added token the way HF does: the id in the file is only a hint. A content that is
        already an added token or in the vocab keeps that id; a new one gets the next id after the vocab."""
        content = spec["content"]
        if not content:
            return
        old = self._added.get(content)
        if old is not None:
            token_id = old.id
        elif content in self._vocab:
            token_id = self._vocab[content]
        else:
            top = max((t.id for t in self._added.values()), default=-1)
            token_id = top + 1 if top >= len(self._vocab) else len(self._vocab)
        # a later entry with the same content replaces the flags of the earlier one
        self._added[content] = AddedToken(
            id=token_id, content=content, special=bool(spec.get("special", False)),
            single_word=bool(spec.get("single_word", False)), lstrip=bool(spec.get("lstrip", False)),
            rstrip=bool(spec.get("rstrip", False)), normalized=bool(spec.get("normalized", True)))
        self._id_to_token[token_id] = content

    @property
    def added_tokens(self) -> list[AddedToken]:
        """The added (and special) tokens, with the ids HF gives them."""
        return list(self._added.values())

    # -- construction ------------------------------------------------------------------------------------

    @classmethod
    def from_json(cls, data: str | bytes | Mapping[str, Any]) -> Tokenizer:
        """Build from the text (or parsed dict) of a ``tokenizer.json``."""
        return cls(json.loads(data) if isinstance(data, (str, bytes, bytearray)) else data)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Tokenizer:
        """Build from a ``tokenizer.json`` file."""
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    @classmethod
    def from_pretrained_dir(cls, path: str | os.PathLike[str]) -> Tokenizer:
        """Build from a model directory holding ``tokenizer.json``."""
        file = os.path.join(os.fspath(path), "tokenizer.json")
        if not os.path.isfile(file):
            raise FileNotFoundError(f"no tokenizer.json in {os.fspath(path)!r}")
        return cls.from_file(file)

    @staticmethod
    def _read_normalizer(spec: Mapping[str, Any] | None) -> BertNormalizer | None:
        if spec is None:
            return None
        if spec.get("type") != "BertNormalizer":
            raise _unsupported("normalizer", spec, "'BertNormalizer' or none")
        return BertNormalizer(clean_text=bool(spec.get("clean_text", True)),
                              handle_chinese_chars=bool(spec.get("handle_chinese_chars", True)),
                              strip_accents=spec.get("strip_accents"), lowercase=bool(spec.get("lowercase", True)))

    def _read_post_processor(self, spec: Mapping[str, Any] | None) -> _Template:
        if spec is None:
            return _NO_TEMPLATE
        kind = spec.get("type")
        if kind == "BertProcessing":
            (sep, sep_id), (cls_, cls_id) = spec["sep"], spec["cls"]
            specials = {cls_: ([int(cls_id)], [cls_]), sep: ([int(sep_id)], [sep])}
            single = [("special", cls_, 0), ("sequence", "A", 0), ("special", sep, 0)]
            return _Template(single, single + [("sequence", "B", 1), ("special", sep, 1)], specials)
        if kind == "TemplateProcessing":
            specials = {name: ([int(i) for i in v["ids"]], list(v["tokens"]))
                        for name, v in spec.get("special_tokens", {}).items()}

            def items(template: list[Mapping[str, Any]]) -> list[tuple[str, str, int]]:
                out = []
                for item in template:
                    if "SpecialToken" in item:
                        out.append(("special", item["SpecialToken"]["id"], int(item["SpecialToken"]["type_id"])))
                    elif "Sequence" in item:
                        out.append(("sequence", item["Sequence"]["id"], int(item["Sequence"]["type_id"])))
                    else:
                        raise ValueError(f"tokenizer.json: unsupported TemplateProcessing item {item!r}")
                return out

            return _Template(items(spec["single"]), items(spec["pair"]), specials)
        raise _unsupported("post_processor", spec, "'TemplateProcessing', 'BertProcessing' or none")

    @staticmethod
    def _read_padding(p: Mapping[str, Any]) -> Padding:
        strategy = p.get("strategy", "BatchLongest")
        if isinstance(strategy, dict) and "Fixed" in strategy:
            length: int | None = int(strategy["Fixed"])
        elif strategy == "BatchLongest":
            length = None
        else:
            raise _unsupported("padding strategy", strategy, "'BatchLongest' or {'Fixed': n}")
        if p.get("direction", "Right") not in ("Right", "Left"):
            raise _unsupported("padding direction", p.get("direction"), "'Right' or 'Left'")
        return Padding(length=length, direction=p.get("direction", "Right"),
                       pad_to_multiple_of=p.get("pad_to_multiple_of"), pad_id=int(p.get("pad_id", 0)),
                       pad_type_id=int(p.get("pad_type_id", 0)), pad_token=p.get("pad_token", "[PAD]"))

    @staticmethod
    def _check_truncation(t: Truncation) -> None:
        if t.strategy not in ("LongestFirst", "OnlyFirst", "OnlySecond"):
            raise _unsupported("truncation strategy", t.strategy, "'LongestFirst', 'OnlyFirst', 'OnlySecond'")
        if t.direction not in ("Right", "Left"):
            raise _unsupported("truncation direction", t.direction, "'Right' or 'Left'")

    @staticmethod
    def _token_re(tokens: list[AddedToken], norm: Any) -> tuple[re.Pattern[str], dict[str, AddedToken]] | None:
        if not tokens:
            return None
        by_text: dict[str, AddedToken] = {}
        for t in tokens:
            key = norm(t.content) if t.normalized else t.content
            if key:
                by_text[key] = t
        if not by_text:
            return None
        # leftmost-longest, like HF's aho-corasick: the alternation tries longer contents first
        alternation = "|".join(re.escape(k) for k in sorted(by_text, key=len, reverse=True))
        return re.compile(alternation), by_text

    # -- vocabulary --------------------------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        """Size of the vocabulary, added tokens included."""
        return len(self._id_to_token)

    def token_to_id(self, token: str) -> int | None:
        added = self._added.get(token)
        return added.id if added is not None else self._vocab.get(token)

    def id_to_token(self, id: int) -> str | None:
        return self._id_to_token.get(id)

    @property
    def pad_token_id(self) -> int:
        return self._default_padding.pad_id

    # -- pipeline ----------------------------------------------------------------------------------------

    def normalize(self, text: str) -> str:
        """The normalizer alone (HF ``normalizer.normalize_str``)."""
        return self.normalizer(text) if self.normalizer else text

    def pre_tokenize(self, text: str) -> list[str]:
        """The pre-tokenizer alone, on normalized text (the strings of HF ``pre_tokenize_str``)."""
        if self._pre_re is None:
            return [text] if text else []
        return self._pre_re[text_level(text)].findall(text)

    def _word_ids(self, word: str) -> list[int]:
        """WordPiece: greedy longest-match-first, ``##`` continuations, [UNK] for the whole word on failure."""
        ids = self._cache.get(word)
        if ids is not None:
            return ids
        n = len(word)
        if n > self._max_chars:
            ids = [self._unk_id]
        else:
            vocab, prefix, longest = self._vocab, self._prefix, self._max_piece
            ids = []
            start = 0
            while start < n:
                end = min(n, start + longest)
                while end > start:
                    piece = vocab.get(prefix + word[start:end] if start else word[:end])
                    if piece is not None:
                        ids.append(piece)
                        break
                    end -= 1
                else:
                    ids = [self._unk_id]
                    break
                start = end
        if len(self._cache) >= self._CACHE_LIMIT:
            self._cache.clear()
        self._cache[word] = ids
        return ids

    def _split_added(self, text: str, found: tuple[re.Pattern[str], dict[str, AddedToken]] | None
                     ) -> list[tuple[str, int | None]]:
        """HF AddedVocabulary.find_matches: [(text, None) | (matched text, token id)]."""
        if found is None or not text:
            return [(text, None)]
        pattern, by_text = found
        out: list[tuple[str, int | None]] = []
        last = 0
        for m in pattern.finditer(text):
            tok = by_text[m.group()]
            start, stop = m.start(), m.end()
            if tok.single_word and ((start > 0 and _WORD_CHAR_RE.match(text[start - 1]))
                                    or (stop < len(text) and _WORD_CHAR_RE.match(text[stop]))):
                continue  # HF: a single_word token must not touch word chars on either side
            if tok.lstrip:
                s = start
                while s > 0 and text[s - 1] in _IS_SPACE:
                    s -= 1
                start = max(s, last)
            if tok.rstrip:
                while stop < len(text) and text[stop] in _IS_SPACE:
                    stop += 1
            if last < start:
                out.append((text[last:start], None))
            out.append((text[start:stop], tok.id))
            last = stop
        if last < len(text) or not out:
            out.append((text[last:], None))
        return out

    def _sequence(self, text: str) -> _Seq:
        """Ids and tokens of one text, before truncation and special tokens."""
        ids: list[int] = []
        matched: list[tuple[int, str]] = []  # added tokens: HF's token is the text they matched
        word_ids = self._word_ids
        for raw, raw_id in self._split_added(text, self._raw_re):
            if raw_id is not None:
                matched.append((len(ids), raw))
                ids.append(raw_id)
                continue
            normalized = self.normalizer(raw) if self.normalizer else raw
            for piece, piece_id in self._split_added(normalized, self._norm_re):
                if piece_id is not None:
                    matched.append((len(ids), piece))
                    ids.append(piece_id)
                    continue
                words = self._pre_re[text_level(piece)].findall(piece) if self._pre_re else [piece] if piece else []
                for word in words:
                    ids.extend(word_ids(word))
        to_token = self._id_to_token
        tokens = [to_token[i] for i in ids]
        for i, token in matched:
            tokens[i] = token
        return ids, tokens

    # -- truncation, template, padding --------------------------------------------------------------------

    def _resolve(self, max_length: int | None, truncation: bool | None, padding: bool | str | None,
                 pad_to_multiple_of: int | None) -> tuple[Truncation | None, Padding | None]:
        """Merge call arguments with the file's settings (None = as the file says)."""
        trunc: Truncation | None = None
        if truncation is None:
            truncation = self.truncation is not None or max_length is not None
        if truncation:
            length = max_length if max_length is not None else (self.truncation.max_length if self.truncation
                                                                else None)
            if length is None:
                raise ValueError("truncation needs max_length (tokenizer.json has no truncation settings)")
            base = self.truncation or Truncation(max_length=length)
            trunc = Truncation(length, base.strategy, base.stride, base.direction)
        base_pad = self._default_padding
        if padding is None:
            padding = False if self.padding is None else ("longest" if self.padding.length is None else "max_length")
        if padding is True:
            padding = "longest"
        pad: Padding | None
        if padding is False:
            pad = None
        elif padding == "longest":
            pad = Padding(None, base_pad.direction, base_pad.pad_to_multiple_of, base_pad.pad_id,
                          base_pad.pad_type_id, base_pad.pad_token)
        elif padding == "max_length":
            length = max_length if max_length is not None else base_pad.length
            if length is None:
                length = trunc.max_length if trunc else None
            if length is None:
                raise ValueError("padding='max_length' needs max_length")
            pad = Padding(length, base_pad.direction, base_pad.pad_to_multiple_of, base_pad.pad_id,
                          base_pad.pad_type_id, base_pad.pad_token)
        else:
            raise ValueError(f"padding must be 'longest', 'max_length', True, False or None, not {padding!r}")
        if pad is not None and pad_to_multiple_of is not None:
            pad = Padding(pad.length, pad.direction, pad_to_multiple_of or None, pad.pad_id, pad.pad_type_id,
                          pad.pad_token)
        return trunc, pad

    @staticmethod
    def _cut(seq: _Seq, n: int, direction: str) -> _Seq:
        ids, tokens = seq
        if len(ids) <= n:
            return seq
        if direction == "Left":
            return ids[len(ids) - n:], tokens[len(ids) - n:]
        return ids[:n], tokens[:n]

    def _truncate(self, a: _Seq, b: _Seq | None, t: Truncation, n_added: int) -> tuple[_Seq, _Seq | None]:
        """HF truncate_encodings, with max_length less the special tokens the template adds."""
        max_length = t.max_length - n_added
        if max_length < 0:
            raise ValueError(f"max_length {t.max_length} is shorter than the {n_added} special tokens added")
        total = len(a[0]) + (len(b[0]) if b is not None else 0)
        if total <= max_length:
            return a, b
        to_remove = total - max_length
        if t.strategy == "LongestFirst":
            if b is None:
                return self._cut(a, max_length, t.direction), None
            n1, n2 = len(a[0]), len(b[0])
            swap = n1 > n2
            if swap:
                n1, n2 = n2, n1
            n2 = n1 if n1 > max_length else max(n1, max_length - n1)
            if n1 + n2 > max_length:
                n1 = max_length // 2
                n2 = n1 + max_length % 2
            if swap:
                n1, n2 = n2, n1
            return self._cut(a, n1, t.direction), self._cut(b, n2, t.direction)
        if t.strategy == "OnlySecond" and b is None:
            raise ValueError("truncation strategy OnlySecond needs a pair of sequences")
        target = a if t.strategy == "OnlyFirst" else b
        assert target is not None
        if len(target[0]) <= to_remove:
            raise ValueError(f"truncation {t.strategy}: the sequence to truncate is too short")
        cut = self._cut(target, len(target[0]) - to_remove, t.direction)
        return (cut, b) if t.strategy == "OnlyFirst" else (a, cut)

    def _finish(self, a: _Seq, b: _Seq | None, trunc: Truncation | None, add_special_tokens: bool) -> Encoding:
        template = self._template if add_special_tokens else _NO_TEMPLATE
        if trunc is not None:
            a, b = self._truncate(a, b, trunc, template.n_added(b is not None))
        return template.apply(a, b)

    @staticmethod
    def _pad(encodings: list[Encoding], pad: Padding) -> None:
        """Pad to ``pad.length`` or to the longest; like HF, rows longer than a fixed length stay longer."""
        target = pad.length if pad.length is not None else max((len(e) for e in encodings), default=0)
        m = pad.pad_to_multiple_of
        if m and target % m:
            target += m - target % m
        for e in encodings:
            n = target - len(e)
            if n <= 0:
                continue
            if pad.direction == "Left":
                e.ids[:0] = [pad.pad_id] * n
                e.tokens[:0] = [pad.pad_token] * n
                e.attention_mask[:0] = [0] * n
                e.type_ids[:0] = [pad.pad_type_id] * n
                e.special_tokens_mask[:0] = [1] * n
            else:
                e.ids.extend([pad.pad_id] * n)
                e.tokens.extend([pad.pad_token] * n)
                e.attention_mask.extend([0] * n)
                e.type_ids.extend([pad.pad_type_id] * n)
                e.special_tokens_mask.extend([1] * n)

    # -- public encode/decode ---------------------------------------------------------------------------

    def encode(self, text: str, pair: str | None = None, *, add_special_tokens: bool = True,
               max_length: int | None = None, truncation: bool | None = None, padding: bool | str | None = None,
               pad_to_multiple_of: int | None = None) -> Encoding:
        """Encode one text (or a pair). ``None`` arguments follow the tokenizer.json settings."""
        trunc, pad = self._resolve(max_length, truncation, padding, pad_to_multiple_of)
        b = self._sequence(pair) if pair is not None else None
        enc = self._finish(self._sequence(text), b, trunc, add_special_tokens)
        if pad is not None:
            self._pad([enc], pad)
        return enc

    def encode_batch(self, texts: Sequence[str | tuple[str, str]] | Iterable[str], *, max_length: int | None = None,
                     padding: bool | str | None = None, truncation: bool | None = None,
                     add_special_tokens: bool = True, pad_to_multiple_of: int | None = None) -> BatchEncoding:
        """Encode many texts (or (text, pair) tuples).

        ``padding``: "longest" (True), "max_length", False, or None for the file's setting (for all-MiniLM:
        pad to 128). ``truncation``: True, False, or None (on when the file or ``max_length`` asks for it).
        ``max_length`` overrides the file's truncation and fixed-padding length.
        """
        trunc, pad = self._resolve(max_length, truncation, padding, pad_to_multiple_of)
        encodings = []
        for item in texts:
            if isinstance(item, str):
                a, b = self._sequence(item), None
            else:
                first, second = item
                a, b = self._sequence(first), self._sequence(second)
            encodings.append(self._finish(a, b, trunc, add_special_tokens))
        if pad is not None:
            self._pad(encodings, pad)
        return BatchEncoding(input_ids=[e.ids for e in encodings], attention_mask=[e.attention_mask for e in encodings],
                             token_type_ids=[e.type_ids for e in encodings], encodings=encodings)

    def __call__(self, texts: str | Sequence[str], **kwargs: Any) -> BatchEncoding:
        """``tok(texts, ...)`` is ``encode_batch`` (a single string makes a batch of one)."""
        return self.encode_batch([texts] if isinstance(texts, str) else texts, **kwargs)

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = True) -> str:
        """Ids back to text, as HF's ``WordPiece`` decoder does (``##`` joins, cleanup of spaces)."""
        tokens = [self._id_to_token[i] for i in ids
                  if i in self._id_to_token and not (skip_special_tokens and i in self._special_ids)]
        dec = self._decoder
        if dec is None:
            return " ".join(tokens)
        if dec.get("type") != "WordPiece":
            raise _unsupported("decoder", dec, "'WordPiece' or none")
        prefix, cleanup = dec.get("prefix", "##"), dec.get("cleanup", True)
        out = []
        for i, tok in enumerate(tokens):
            if i:
                tok = tok[len(prefix):] if tok.startswith(prefix) else " " + tok
            if cleanup:
                tok = (tok.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
                       .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m")
                       .replace(" do not", " don't").replace(" 's", "'s").replace(" 've", "'ve")
                       .replace(" 're", "'re"))
            out.append(tok)
        return "".join(out)


def from_pretrained_dir(path: str | os.PathLike[str]) -> Tokenizer:
    """The tokenizer of a model directory (its ``tokenizer.json``)."""
    return Tokenizer.from_pretrained_dir(path)
