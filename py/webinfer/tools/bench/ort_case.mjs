// A `webinfer bench` case for onnxruntime-web: one InferenceSession on one execution provider, timed in
// the bench page (webinfer/tools/bench/page.py loads this module and calls it; see JsRunner there).
//
// Every export takes the case's label and answers JSON text:
//   setup(label, paramsJson, inputsJson) -> {timings_ms: {import, weights_fetch, compile, first_run}, info, log}
//   timed(label, runs, warmup)           -> [{ms}, ...]    (session.run + reading every output on the CPU)
//   outputs(label)                       -> {name: {dtype, shape, data (base64)}} of the last run
//   close(label)
//
// params: {bundle, wasmPaths (URLs on the local server: no CDN), threads (null: every core; 0: ORT's
//          default), model (URL of the .onnx), ep ("webnn" | "wasm" | "webgpu"), deviceType (WebNN),
//          freeDimensions ({name: size}), graphOptimizationLevel, logMarkers ([substring, ...])}
//
// Where ORT placed every node: before the timed session, a probe session is created with verbose
// logging (logSeverityLevel 0) while console output is captured; the lines containing one of
// `logMarkers` come back as `log` (the host parses them: webinfer/tools/bench/placement.py). The probe
// is released, and the timed session is created with errors-only logging, so logging costs no run time.

const bundles = new Map();
const models = new Map();
const cases = new Map();

const TYPED = {
  float32: Float32Array, float64: Float64Array, int32: Int32Array, uint32: Uint32Array, int64: BigInt64Array,
  uint64: BigUint64Array, int8: Int8Array, uint8: Uint8Array, int16: Int16Array, uint16: Uint16Array,
  float16: Uint16Array, bool: Uint8Array,
};

function absolute(url) {
  return new URL(url, self.location.href).href; // this module is a blob: URL; resolve against the page
}

function fromB64(text, dtype) {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  const Typed = TYPED[dtype];
  if (!Typed) throw new Error(`ort case: no typed array for dtype ${dtype}`);
  return new Typed(bytes.buffer);
}

function toB64(view) {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

async function loadOrt(params) {
  // one instance per bundle: its wasm is set up (threads, paths) before the first session
  if (!bundles.has(params.bundle)) {
    const start = performance.now();
    const ort = await import(absolute(params.bundle));
    ort.env.wasm.wasmPaths = absolute(params.wasmPaths);
    const threads = params.threads ?? navigator.hardwareConcurrency;
    if (threads > 0) ort.env.wasm.numThreads = threads;
    ort.env.wasm.proxy = false;
    bundles.set(params.bundle, { ort, importMs: performance.now() - start });
    return { ort, importMs: performance.now() - start };
  }
  return { ort: bundles.get(params.bundle).ort, importMs: 0 };
}

async function loadModel(url) {
  if (!models.has(url)) {
    const start = performance.now();
    const response = await fetch(url);
    if (!response.ok) throw new Error(`fetching ${url}: HTTP ${response.status}`);
    models.set(url, { bytes: new Uint8Array(await response.arrayBuffer()), fetchMs: performance.now() - start });
    return models.get(url);
  }
  return { bytes: models.get(url).bytes, fetchMs: 0 };
}

function sessionOptions(params) {
  const eps = params.ep === "webnn" ? [{ name: "webnn", deviceType: params.deviceType || "cpu" }] : [params.ep];
  return {
    executionProviders: eps,
    freeDimensionOverrides: params.freeDimensions || {},
    graphOptimizationLevel: params.graphOptimizationLevel || "all",
  };
}

// Console capture. Emscripten keeps the console functions it finds when ORT's wasm starts, so the
// wrappers go in once, before ORT is imported, and stay: they pass everything through except while a
// probe session is being created, when they keep the lines that carry a marker.
const CONSOLE_METHODS = ["log", "info", "warn", "error", "debug"];
let capture = null;
for (const k of CONSOLE_METHODS) {
  const original = console[k].bind(console);
  console[k] = (...args) => {
    if (capture) capture(args.map(String).join(" "));
    else original(...args);
  };
}

async function placementLog(ort, model, params) {
  const markers = params.logMarkers || [];
  const lines = [];
  capture = (line) => {
    if (markers.some((m) => line.includes(m))) lines.push(line);
  };
  try {
    const probe = await ort.InferenceSession.create(model, {
      ...sessionOptions(params), logSeverityLevel: 0, logVerbosityLevel: 0,
    });
    await probe.release();
  } finally {
    capture = null;
  }
  return lines;
}

async function runOnce(c) {
  const start = performance.now();
  const feeds = {};
  for (const [name, input] of Object.entries(c.inputs)) feeds[name] = new c.ort.Tensor(input.dtype, input.data, input.shape);
  const results = await c.session.run(feeds);
  const out = {};
  for (const name of c.session.outputNames) {
    const t = results[name];
    out[name] = { dtype: t.type, shape: Array.from(t.dims), data: await t.getData() }; // on the CPU, as a caller gets it
  }
  const ms = performance.now() - start;
  for (const t of Object.values(results)) t.dispose?.();
  c.last = out;
  return ms;
}

export async function setup(label, paramsJson, inputsJson) {
  const params = JSON.parse(paramsJson);
  const { ort, importMs } = await loadOrt(params);
  const { bytes, fetchMs } = await loadModel(params.model);
  const log = await placementLog(ort, bytes, params);
  const start = performance.now();
  const session = await ort.InferenceSession.create(bytes, { ...sessionOptions(params), logSeverityLevel: 3 });
  const createMs = performance.now() - start;
  const inputs = {};
  for (const [name, a] of Object.entries(JSON.parse(inputsJson))) {
    inputs[name] = { dtype: a.dtype, shape: a.shape, data: fromB64(a.data, a.dtype) };
  }
  const c = { ort, session, inputs, last: null };
  cases.set(label, c);
  const first = await runOnce(c);
  return JSON.stringify({
    timings_ms: { import: importMs, weights_fetch: fetchMs, compile: createMs, first_run: first },
    weights_bytes: bytes.byteLength,
    log,
    info: {
      ort_version: ort.env.versions?.web ?? null,
      numThreads: ort.env.wasm.numThreads ?? null,
      hardwareConcurrency: navigator.hardwareConcurrency,
      crossOriginIsolated: self.crossOriginIsolated,
      inputNames: session.inputNames,
      outputNames: session.outputNames,
      executionProviders: sessionOptions(params).executionProviders,
    },
  });
}

export async function timed(label, runs, warmup) {
  const c = cases.get(label);
  if (!c) throw new Error(`ort case: no case ${label}`);
  for (let i = 0; i < warmup; i++) await runOnce(c);
  const records = [];
  for (let i = 0; i < runs; i++) records.push({ ms: await runOnce(c) });
  return JSON.stringify(records);
}

export async function outputs(label) {
  const c = cases.get(label);
  if (!c || !c.last) throw new Error(`ort case: no outputs for ${label}`);
  const out = {};
  for (const [name, o] of Object.entries(c.last)) out[name] = { dtype: o.dtype, shape: o.shape, data: toB64(o.data) };
  return JSON.stringify(out);
}

export async function close(label) {
  const c = cases.get(label);
  cases.delete(label);
  if (c) await c.session.release();
}
