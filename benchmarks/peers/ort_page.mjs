// Page side of the onnxruntime-web peer benchmark: load an ORT-web bundle from the local server,
// create a session for one execution provider, time runs the way `webinfer bench` does.
//
// The host (benchmarks/peers/ort_bench.py) stages this file, the ORT bundles and their wasm next
// to the ONNX model under the server's /models/ root and calls `benchOrt(params)` in a harness page.
// Every time is performance.now() in the page, in milliseconds.

function b64ToBigInt64(text) {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return new BigInt64Array(bytes.buffer);
}

function bytesToB64(view) {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

function executionProviders(ep, deviceType) {
  if (ep === "webnn") return [{ name: "webnn", deviceType: deviceType || "cpu" }];
  return [ep];
}

/**
 * params: {bundle, wasmPaths, threads (null: all cores; 0: ORT's default), modelUrl, ep, deviceType, batch, seq, inputs: {name: base64 int64},
 *          output, runs, warmup}
 * returns: {timings: {import, fetch, create, first}, runs: [ms], output: base64 float32, env}
 */
export async function benchOrt(params) {
  const t0 = performance.now();
  const ort = await import(params.bundle);
  ort.env.wasm.wasmPaths = params.wasmPaths;
  // null: every core the page sees (ORT's own default is half of them, at most 4); 0: ORT's default
  const threads = params.threads ?? navigator.hardwareConcurrency;
  if (threads > 0) ort.env.wasm.numThreads = threads;
  ort.env.wasm.proxy = false;
  const t1 = performance.now();
  const response = await fetch(params.modelUrl);
  if (!response.ok) throw new Error(`fetching ${params.modelUrl}: HTTP ${response.status}`);
  const model = new Uint8Array(await response.arrayBuffer());
  const t2 = performance.now();
  const session = await ort.InferenceSession.create(model, {
    executionProviders: executionProviders(params.ep, params.deviceType),
    // static shapes, as webinfer plans per input shape (the WebNN EP needs them to take the graph)
    freeDimensionOverrides: { batch: params.batch, seq: params.seq },
    graphOptimizationLevel: "all",
  });
  const t3 = performance.now();
  const data = Object.fromEntries(Object.entries(params.inputs).map(([k, v]) => [k, b64ToBigInt64(v)]));
  const shape = [params.batch, params.seq];
  const once = async () => {
    const start = performance.now();
    const feeds = {};
    for (const [k, v] of Object.entries(data)) feeds[k] = new ort.Tensor("int64", v, shape);
    const out = await session.run(feeds);
    const values = await out[params.output].getData(); // on the CPU: what a caller gets back
    const ms = performance.now() - start;
    for (const t of Object.values(out)) t.dispose?.();
    return [ms, values];
  };
  const [first, firstValues] = await once();
  for (let i = 0; i < params.warmup; i++) await once();
  const runs = [];
  let last = firstValues;
  for (let i = 0; i < params.runs; i++) {
    const [ms, values] = await once();
    runs.push(ms);
    last = values;
  }
  const inputNames = session.inputNames;
  const outputNames = session.outputNames;
  await session.release();
  return {
    timings: { import: t1 - t0, fetch: t2 - t1, create: t3 - t2, first },
    runs,
    output: bytesToB64(last),
    env: {
      version: ort.env.versions?.web ?? null,
      numThreads: ort.env.wasm.numThreads ?? null,
      hardwareConcurrency: navigator.hardwareConcurrency,
      crossOriginIsolated: self.crossOriginIsolated,
      inputNames,
      outputNames,
    },
  };
}
