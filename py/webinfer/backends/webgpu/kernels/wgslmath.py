"""WGSL helper functions the kernels share, each written once for a float type ``T`` (f32 or f16).

WGSL leaves several results implementation-defined (pow of a negative base, log/sqrt of negatives,
float overflow in conversions, exp precision for large arguments); these helpers pin them to the
reference's (numpy) results so conformance holds on every adapter.
"""

from __future__ import annotations

from ..program import Program

# name -> template; {T} is the float type
_FLOAT = {
    "nan": "fn nan_{T}() -> {T} {{ var b = 0x7fc00000u; return {T}(bitcast<f32>(b)); }}",
    "inf": "fn inf_{T}() -> {T} {{ var b = 0x7f800000u; return {T}(bitcast<f32>(b)); }}",
    "isnan": "fn isnan_{T}(x: {T}) -> bool {{ let v = f32(x); return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }}",
    "finite": "fn finite_{T}(x: {T}) -> bool {{ return (bitcast<u32>(f32(x)) & 0x7f800000u) != 0x7f800000u; }}",
    # exp with Cody-Waite range reduction: hardware exp of a small argument, scaled by 2^n in two steps
    "exp": """fn exp_{T}(x0: {T}) -> {T} {{
  let x = f32(x0);
  if (x > 88.72284) {{ return {T}(inf_{T}()); }}
  if (x < -104.0) {{ return {T}(0.0); }}
  if (isnan_{T}(x0)) {{ return x0; }}
  let n = round(x * 1.4426950408889634);
  let r = (x - n * 0.693145751953125) - n * 1.4286068203094172e-06;
  let k = i32(n);
  let k1 = k / 2;
  return {T}(ldexp(ldexp(exp(r), k1), k - k1));
}}""",
    "log": """fn log_{T}(x: {T}) -> {T} {{
  if (isnan_{T}(x) || x < {T}(0.0)) {{ return nan_{T}(); }}
  if (x == {T}(0.0)) {{ return -inf_{T}(); }}
  if (!finite_{T}(x)) {{ return x; }}
  return log(x);
}}""",
    "sqrt": """fn sqrt_{T}(x: {T}) -> {T} {{
  if (isnan_{T}(x) || x < {T}(0.0)) {{ return nan_{T}(); }}
  if (!finite_{T}(x)) {{ return x; }}
  return sqrt(x);
}}""",
    # Abramowitz & Stegun 7.1.26: |error| < 1.5e-7
    "erf": """fn erf_{T}(x0: {T}) -> {T} {{
  let x = f32(x0);
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp_{T}(-a * a);
  return {T}(select(y, -y, x < 0.0));
}}""",  # noqa: E501 - one WGSL expression
    "tanh": """fn tanh_{T}(x0: {T}) -> {T} {{
  let x = f32(x0);
  if (abs(x) < 0.0004) {{ return x0; }}
  let e = exp_{T}(-2.0 * abs(x));
  let y = (1.0 - e) / (1.0 + e);
  return {T}(select(y, -y, x < 0.0));
}}""",
    "sigmoid": """fn sigmoid_{T}(x0: {T}) -> {T} {{
  let x = f32(x0);
  if (x >= 0.0) {{ return {T}(1.0 / (1.0 + exp_{T}(-x))); }}
  let e = exp_{T}(x);
  return {T}(e / (1.0 + e));
}}""",
    "gelu": "fn gelu_{T}(x: {T}) -> {T} {{ return {T}(0.5) * x * ({T}(1.0) + erf_{T}(x * {T}(0.7071067811865476))); }}",
    # sin/cos: reduce into [-pi, pi] first (WGSL only bounds the error there)
    "sin": """fn sin_{T}(x: {T}) -> {T} {{
  if (!finite_{T}(x)) {{ return nan_{T}(); }}
  let v = f32(x); let n = round(v * 0.15915494309189535);
  return {T}(sin(((v - n * 6.28125) - n * 0.0019350051879882812) - n * 3.0199159795074593e-07));
}}""",
    "cos": """fn cos_{T}(x: {T}) -> {T} {{
  if (!finite_{T}(x)) {{ return nan_{T}(); }}
  let v = f32(x); let n = round(v * 0.15915494309189535);
  return {T}(cos(((v - n * 6.28125) - n * 0.0019350051879882812) - n * 3.0199159795074593e-07));
}}""",
    # numpy pow: negative bases with integer exponents, pow(x, 0) = 1, NaN where numpy gives NaN
    "pow": """fn pow_{T}(a: {T}, b: {T}) -> {T} {{
  if (b == {T}(0.0) || a == {T}(1.0)) {{ return {T}(1.0); }}
  if (isnan_{T}(a) || isnan_{T}(b)) {{ return nan_{T}(); }}
  if (!finite_{T}(b)) {{
    if (abs(a) == {T}(1.0)) {{ return {T}(1.0); }}
    return select({T}(0.0), inf_{T}(), (abs(a) > {T}(1.0)) == (b > {T}(0.0)));
  }}
  let odd = fract(b) == {T}(0.0) && abs(b) < {T}(16777216.0) && (i32(abs(b)) & 1) == 1;
  let neg = (bitcast<u32>(f32(a)) >> 31u) == 1u;
  if (a == {T}(0.0) || !finite_{T}(a)) {{
    let r = select({T}(0.0), inf_{T}(), (a == {T}(0.0)) == (b < {T}(0.0)));
    return select(r, -r, neg && odd);
  }}
  let r = {T}(exp2(f32(b) * log2(abs(f32(a)))));
  if (a > {T}(0.0)) {{ return r; }}
  if (fract(b) != {T}(0.0)) {{ return nan_{T}(); }}
  return select(r, -r, odd);
}}""",
    "max": "fn max_{T}(a: {T}, b: {T}) -> {T} {{ if (isnan_{T}(a) || isnan_{T}(b)) {{ return nan_{T}(); }} "
           "return max(a, b); }}",
    "min": "fn min_{T}(a: {T}, b: {T}) -> {T} {{ if (isnan_{T}(a) || isnan_{T}(b)) {{ return nan_{T}(); }} "
           "return min(a, b); }}",
    "clamp": "fn clamp_{T}(x: {T}, lo: {T}, hi: {T}) -> {T} {{ if (isnan_{T}(x)) {{ return x; }} "
             "return min(max(x, lo), hi); }}",
    # float -> int conversions that saturate (NaN -> 0), pinned here rather than trusted
    "to_i32": """fn to_i32_{T}(x: {T}, lo: f32, hi: f32) -> i32 {{
  let v = f32(x);
  if (isnan_{T}(x)) {{ return 0; }}
  if (v <= lo) {{ return i32(lo); }}
  if (v >= hi) {{ return select(i32(hi), 2147483647, hi >= 2147483647.0); }}
  return i32(v);
}}""",
    "to_u32": """fn to_u32_{T}(x: {T}, hi: f32) -> u32 {{
  let v = f32(x);
  if (isnan_{T}(x) || v <= 0.0) {{ return 0u; }}
  if (v >= hi) {{ return select(u32(hi), 4294967295u, hi >= 4294967295.0); }}
  return u32(v);
}}""",
}

_INT = {
    # integer pow by squaring; a negative exponent gives trunc(1 / a^-b)
    "pow_i32": """fn pow_i32(a: i32, b: i32) -> i32 {
  if (b < 0) { if (a == 1) { return 1; } if (a == -1) { return select(1, -1, (b & 1) == 1); } return 0; }
  var r = 1; var base = a; var e = b;
  loop { if (e == 0) { break; } if ((e & 1) == 1) { r = r * base; } base = base * base; e = e >> 1u; }
  return r;
}""",
    "pow_u32": """fn pow_u32(a: u32, b: u32) -> u32 {
  var r = 1u; var base = a; var e = b;
  loop { if (e == 0u) { break; } if ((e & 1u) == 1u) { r = r * base; } base = base * base; e = e >> 1u; }
  return r;
}""",
    # f32 -> f16 bits, round to nearest even, overflow to inf (pack2x16float leaves overflow undefined)
    "f16_bits": """fn f16_bits(v: f32) -> u32 {
  let x = bitcast<u32>(v);
  let sign = (x >> 16u) & 0x8000u;
  let ex = (x >> 23u) & 0xffu;
  let m = x & 0x7fffffu;
  if (ex == 0xffu) { return sign | 0x7c00u | select(0u, 0x200u, m != 0u); }
  let e = i32(ex) - 112;
  if (e >= 31) { return sign | 0x7c00u; }
  if (e <= 0) {
    if (e < -10) { return sign; }
    let mm = m | 0x800000u;
    let shift = u32(14 - e);
    var h = mm >> shift;
    let rem = mm & ((1u << shift) - 1u);
    let half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (h & 1u) != 0u)) { h = h + 1u; }
    return sign | h;
  }
  var h = (u32(e) << 10u) | (m >> 13u);
  let rem = m & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) != 0u)) { h = h + 1u; }
  return sign | h;
}""",
    "round_f16": "fn round_f16(v: f32) -> f32 { return unpack2x16float(f16_bits(v)).x; }",
}

# helpers that other helpers call
_DEPENDS = {
    "exp": ("inf", "isnan"), "log": ("nan", "inf", "isnan", "finite"), "sqrt": ("nan", "isnan", "finite"),
    "erf": ("exp",), "tanh": ("exp",), "sigmoid": ("exp",), "gelu": ("erf",), "pow": ("nan", "inf", "isnan", "finite"),
    "sin": ("nan", "finite"), "cos": ("nan", "finite"), "max": ("nan", "isnan"), "min": ("nan", "isnan"),
    "clamp": ("isnan",), "to_i32": ("isnan",), "to_u32": ("isnan",), "round_f16": ("f16_bits",),
}


def use(prog: Program, name: str, t: str = "f32") -> str:
    """Add helper ``name`` (for float type ``t``) and what it needs to ``prog``; returns the WGSL function name."""
    for dep in _DEPENDS.get(name, ()):
        use(prog, dep, t)
    if name in _FLOAT:
        fn = f"{name}_{t}"
        if t == "f16":
            prog.uses_f16 = True
        prog.helper(fn, _FLOAT[name].format(T=t))
        return fn
    prog.helper(name, _INT[name])
    return name
