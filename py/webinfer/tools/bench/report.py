"""Human output of ``webinfer bench``: one cell's table, the comparison's text, and Markdown tables of
saved comparisons (``--report``) for the README."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

SWIFTSHADER_NOTE = "WebGPU here is SwiftShader (a CPU)"


def fmt_ms(v: Any) -> str:
    """Milliseconds for tables: ``1,234.5 ms`` below 10 s, ``12.34 s`` above, ``—`` for none."""
    if v is None:
        return "—"
    return f"{v:,.1f} ms" if v < 10_000 else f"{v / 1000:,.2f} s"


def fmt_bytes(n: Any) -> str:
    """Bytes as MiB for tables (``—`` for none)."""
    if not n:
        return "—"
    return f"{n / (1 << 20):,.1f} MiB"


def device_summary(result: Mapping[str, Any]) -> str:
    """One line on what ran the model: the WebGPU adapter, the WebNN context, or the host."""
    dev = result.get("device_info") or {}
    if result["backend"] == "reference":
        return str(dev.get("name", "numpy"))
    if result["backend"] == "webgpu":
        a = dev.get("adapter") or {}
        fields = ("vendor", "architecture", "device", "description")
        name = " ".join(str(a.get(k)) for k in fields if a.get(k)) or dev.get("name")
        return f"WebGPU adapter {name}{' (fallback adapter)' if dev.get('is_fallback_adapter') else ''}"
    if result["backend"] == "webnn":
        return f"WebNN context: {dev.get('note') or dev.get('created_with')}"
    hybrid = (result.get("info") or {}).get("hybrid") or {}
    islands = hybrid.get("islands") or []
    kinds = [str(i.get("island", "?")).split("#")[0] for i in islands]
    return (f"hybrid: {len(islands)} island(s) ({kinds.count('webnn')} WebNN, {kinds.count('webgpu')} WebGPU), "
            f"{len(hybrid.get('crossings') or [])} crossing(s) moving {fmt_bytes(hybrid.get('bytes_moved_per_run'))} "
            f"per run by {hybrid.get('transfer')}")


def format_result(r: Mapping[str, Any]) -> str:
    """The human table for one bench result."""
    t = r["timings_ms"]
    acc = r["accuracy"]
    mem = r["memory"]
    if r.get("title"):
        what = f"{r['title']} on {r['backend']} [{r['device']}]"
    else:
        what = (f"{r['model']} ({r['model_layers']} layer(s), hidden {r['model_hidden']}) on {r['backend']} "
                f"[{r['device']}], batch {r['batch']} × seq {r['seq']} ({r['tokens']} real tokens)")
    lines = [f"webinfer bench: {what}, {r['runs']} timed run(s) after {r['warmup']} warm-up"]
    if r.get("browser"):
        note = f" — {SWIFTSHADER_NOTE}" if r["browser"]["profile"] == "swiftshader" else ""
        lines.append(f"  browser          {r['browser']['version']}, profile {r['browser']['profile']}{note}")
    lines.append(f"  runs on          {device_summary(r)}")
    m = r.get("machine") or {}
    load = m.get("loadavg_start") or []
    lines.append(f"  machine          {m.get('cpus')} CPUs, load average {load[0] if load else '?'} at start, "
                 f"{(m.get('loadavg_end') or ['?'])[0]} at end")
    rows = [
        ("page load", t.get("page_load"), "open → import webinfer"),
        ("weights fetch", t.get("weights_fetch"), fmt_bytes(mem.get("weights_bytes"))),
        ("weights load", t.get("weights_load"), "parse + validate the graph"),
        *([("tokenize", t.get("tokenize"), f"{r['batch']} text(s), pure-Python WordPiece (not in run times)")]
          if r.get("tokens") else []),
        ("compile", t.get("compile"), ""),
        ("first run", t.get("first_run"), ""),
        ("warm median", t.get("warm_median"), f"of {r['runs']}"),
        ("warm p90", t.get("warm_p90"), ""),
        ("python overhead", t.get("python_overhead"), "per run, median"),
    ]
    for label, value, note in rows:
        lines.append(f"  {label:16} {fmt_ms(value):>12}   {note}".rstrip())
    b = r.get("breakdown_ms") or {}
    if b:
        parts = [f"{k.removesuffix('_ms')} {v:.1f}" if isinstance(v, (int, float)) else f"{k} {v}"
                 for k, v in b.items()]
        lines.append(f"  breakdown (ms)   {', '.join(parts)}")
    k = r.get("kernels")
    if k:
        lines.append(f"  kernels          {k['dispatches']} dispatches, {fmt_ms(k['sum_ms'])} timed one by one; "
                     "by kind:")
        for kind in k["by_kind"][:8]:
            lines.append(f"    {kind['share']:6.1%}  {fmt_ms(kind['ms']):>12}  ×{kind['count']:<3} {kind['kind']}")
    f32 = r.get("host_float32_ms")
    if f32:
        lines.append(f"  numpy float32    {fmt_ms(f32['median']):>12}   median (p90 {fmt_ms(f32['p90'])}): "
                     "the graph in float32 numpy")
    lines.append(f"  peak GPU bytes   {fmt_bytes(mem.get('peak_gpu_bytes'))} (plan), "
                 f"live {fmt_bytes(mem.get('gpu_live_bytes'))}")
    lines.append(f"  accuracy         max |Δ| {acc['max_abs_diff']:.2e}, min cosine {acc['min_cosine']:.7f} "
                 f"vs the host reference (numpy float64)")
    if acc.get("top5"):
        lines.append(f"  top-5            same classes in the same order as the reference in "
                     f"{acc['top5']['same_order']} of {acc['top5']['rows']} row(s)")
    return "\n".join(lines)


def _span(stats: Mapping[str, Any] | None, fmt: Any = None) -> str:
    if not stats:
        return "—"
    f = fmt or fmt_ms
    return f"{f(stats['median'])} ({f(stats['min'])}–{f(stats['max'])})"


def _case_runs(result: Mapping[str, Any], case: Mapping[str, Any]) -> str:
    rounds = case.get("rounds") or []
    if not rounds:
        return ""
    per = {len(r["runs"]) for r in rounds}
    warm = {r["warmup"] for r in rounds}
    return f"{len(rounds)}×{'/'.join(map(str, sorted(per)))} runs (+{'/'.join(map(str, sorted(warm)))})"


def _profile_note(result: Mapping[str, Any]) -> str:
    b = result.get("browser") or {}
    return f", {SWIFTSHADER_NOTE}" if b.get("profile") == "swiftshader" else ""


def _fastest(x: Mapping[str, Any]) -> str:
    """For a ``best:`` pair: which cases were the fastest, and in how many rounds."""
    if not x.get("fastest"):
        return ""
    parts = []
    for side in ("peer", "base"):
        who = [w for w in x["fastest"][side] if w]
        counts = {w: who.count(w) for w in dict.fromkeys(who)}
        parts.append(", ".join(f"{w} ×{n}" for w, n in counts.items()))
    return f" — fastest per round: {parts[0]} vs {parts[1]}"


def format_compare(r: Mapping[str, Any]) -> str:
    """The text report of one ``--compare`` result."""
    m, meth, mach = r["model"], r["method"], r.get("machine") or {}
    b = r.get("browser") or {}
    load0 = (mach.get("loadavg_start") or ["?"])[0]
    load1 = (mach.get("loadavg_end") or ["?"])[0]
    lines = [
        f"webinfer bench --compare: {model_title(m)}",
        (f"  method   {meth['rounds']} rounds, order alternating (forward, then reversed); per round and case "
         f"{meth['runs_per_round']} timed run(s) after {meth['warmup_per_round']} warm-up unless the case says "
         "otherwise; a round's value is the median of its runs"),
        f"  browser  {b.get('version')}, profile {b.get('profile')}{_profile_note(r)}",
        f"  machine  {mach.get('cpus')} CPUs, load average {load0} at start, {load1} at end (shared machine)",
        "cases: median of the round values (min–max over rounds), the fastest single run; accuracy vs the host "
        "float64 reference",
    ]
    cases = r["cases"]
    width = max((len(k) for k in cases), default=10)
    for label, c in cases.items():
        acc = c.get("accuracy") or {}
        if c.get("ok"):
            acc_text = f"max |Δ| {acc.get('max_abs_diff', math.nan):.1e}, cos {acc.get('min_cosine', math.nan):.7f}"
            fastest = fmt_ms((c.get("all_runs_ms") or {}).get("min"))
            lines.append(f"  {label:{width}}  {_span(c.get('summary_ms')):>32}  fastest {fastest:>10}  "
                         f"{_case_runs(r, c):18}  {acc_text}  — {c['runtime']}")
        else:
            lines.append(f"  {label:{width}}  not timed: {c.get('error', '?')}  — {c['runtime']}")
    placed = [(k, c["placement"]["summary"]) for k, c in cases.items() if c.get("placement")]
    if placed:
        lines.append("placement (ORT: from its verbose session log; webinfer: sess.info())")
        lines += [f"  {k:{width}}  {s}" for k, s in placed]
    if r.get("ratios"):
        lines.append("ratios peer ÷ base per round (> 1: base faster): median [min–max] (p25–p75), rounds")
        pw = max(len(f"{x['peer']} ÷ {x['base']}") for x in r["ratios"])
        for x in r["ratios"]:
            name = f"{x['peer']} ÷ {x['base']}"
            if "median" in x:
                lines.append(f"  {name:{pw}}  {x['median']:6.2f} [{x['min']:.2f}–{x['max']:.2f}] "
                             f"({x['p25']:.2f}–{x['p75']:.2f}) n={x['n']}  {x['what']}{_fastest(x)}")
            else:
                lines.append(f"  {name:{pw}}  —  ({x['missing']})  {x['what']}")
    return "\n".join(lines)


def model_title(m: Mapping[str, Any]) -> str:
    """What was benched: the model's own title (image models), or a BERT encoder's size and input shape."""
    if m.get("title"):
        return str(m["title"])
    return (f"{m['name']} ({m.get('layers')} layer(s), hidden {m.get('hidden')}), batch {m.get('batch')} × seq "
            f"{m.get('seq')} ({m.get('tokens')} real tokens)")


def _shape(r: Mapping[str, Any]) -> str:
    m = r["model"]
    return f"{m.get('batch')} × {m.get('seq')}" if m.get("seq") else f"batch {m.get('batch')}"


def markdown(results: Sequence[Mapping[str, Any]]) -> str:
    """Markdown tables of saved comparisons, one column per result (shape): case times, then ratios."""
    heads = [_shape(r) for r in results]
    labels: list[str] = []
    for r in results:
        labels += [k for k in r["cases"] if k not in labels]
    lines = ["| case | " + " | ".join(f"{h}: median (min–max) of round values; fastest run" for h in heads) + " |",
             "|---|" + "---|" * len(heads)]
    for label in labels:
        cells = []
        for r in results:
            c = r["cases"].get(label)
            if c is None:
                cells.append("not run")
            elif not c.get("ok"):
                cells.append(f"not timed: {c.get('error', '?')}")
            else:
                fastest = fmt_ms((c.get("all_runs_ms") or {}).get("min"))
                cells.append(f"{_span(c.get('summary_ms'))}; {fastest} — {_case_runs(r, c)}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "| ratio (peer ÷ base; > 1: base faster) | isolates | "
              + " | ".join(f"{h}: median [min–max] (IQR)" for h in heads) + " |",
              "|---|---|" + "---|" * len(heads)]
    pairs: list[tuple[str, str, str]] = []
    for r in results:
        pairs += [(x["peer"], x["base"], x["what"]) for x in r["ratios"]
                  if (x["peer"], x["base"], x["what"]) not in pairs]
    for peer, base, what in pairs:
        cells = []
        for r in results:
            x = next((x for x in r["ratios"] if (x["peer"], x["base"]) == (peer, base)), None)
            if x is None or "median" not in x:
                cells.append("—")
            else:
                cells.append(f"**{x['median']:.2f}** [{x['min']:.2f}–{x['max']:.2f}] ({x['p25']:.2f}–{x['p75']:.2f})")
        lines.append(f"| {peer} ÷ {base} | {what} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


__all__ = ["SWIFTSHADER_NOTE", "device_summary", "fmt_bytes", "fmt_ms", "format_compare", "format_result", "markdown"]
