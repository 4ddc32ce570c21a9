// A `webinfer bench --model smollm2` case for wllama (llama.cpp compiled to wasm): the same GGUF file, the same
// prompt token ids, greedy, timed in the bench page (webinfer/tools/bench/page.py loads this module: JsRunner).
//
// Every export takes the case's label and answers JSON text:
//   setup(label, paramsJson, inputsJson) -> {timings_ms: {import, weights_fetch, load, first_run}, first, info}
//   timed(label, runs, warmup)           -> [{ms, prefill_ms, prefill_tokens, decode_ms, decode_tokens, ...}, ...]
//   outputs(label)                       -> {text: {dtype: "utf8", shape, data (base64)}} of the last run
//   close(label)
//
// params: {bundle (URL of wllama's esm/index.js, served locally: no CDN), wasm (URL of wllama.wasm), gguf (URL),
//          promptText (the text of the prompt's ids), threads (null: navigator.hardwareConcurrency), newTokens, nCtx,
//          gpuLayers (0: the wasm CPU build)}
// Timing: performance.now() around createCompletion (streamed): prefill = start -> first token, decode = first
// token -> last (its tokens: all but the first), as webinfer's CausalLM counts them; llama.cpp's own timings ride
// along (llama_prompt_ms, llama_predicted_ms). The prompt goes as the text of the bench's ids (wllama 3.13 fails on
// a prompt of token ids: "Invalid typed array length"); the host picks ids whose text llama.cpp tokenizes back to
// the same ids (its tokenizer gives webinfer's ids: tests/models/test_wllama_tokenize_browser.py), and every record
// carries llama.cpp's prompt_n to show it. cache_prompt is off, so every run prefills the whole prompt.

const cases = new Map();

function absolute(url) {
  return new URL(url, self.location.href).href; // this module is a blob: URL; resolve against the page
}

function toB64(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

async function once(c) {
  let first = null;
  let last = null;
  let text = "";
  const t0 = performance.now();
  await c.wllama.createCompletion({
    prompt: c.params.promptText, max_tokens: c.params.newTokens, temperature: 0, top_k: 1, cache_prompt: false,
    stream: true,
    onData: (chunk) => {
      const piece = chunk.choices?.[0]?.text ?? "";
      if (piece && first === null) first = performance.now();
      text += piece;
      if (chunk.timings) last = chunk.timings;
    },
  });
  const end = performance.now();
  const predicted = last?.predicted_n ?? null;
  const rec = {
    ms: end - t0,
    prefill_ms: (first ?? end) - t0,
    prefill_tokens: last?.prompt_n ?? null,
    decode_ms: first === null ? 0 : end - first,
    decode_tokens: predicted == null ? null : Math.max(0, predicted - 1),
    new_tokens: predicted,
    llama_prompt_ms: last?.prompt_ms ?? null,
    llama_predicted_ms: last?.predicted_ms ?? null,
  };
  c.lastText = text;
  return rec;
}

export async function setup(label, paramsJson, inputsJson) {
  const params = JSON.parse(paramsJson);
  const inputs = JSON.parse(inputsJson);
  const timings = {};
  let start = performance.now();
  const { Wllama } = await import(absolute(params.bundle));
  timings.import = performance.now() - start;
  start = performance.now();
  const response = await fetch(absolute(params.gguf));
  if (!response.ok) throw new Error(`fetching ${params.gguf}: HTTP ${response.status}`);
  const blob = await response.blob();
  timings.weights_fetch = performance.now() - start;
  const threads = params.threads ?? navigator.hardwareConcurrency;
  const wllama = new Wllama({ default: absolute(params.wasm) }, { suppressNativeLog: true });
  start = performance.now();
  await wllama.loadModel([blob], { n_threads: threads, n_ctx: params.nCtx ?? 1024, n_gpu_layers: params.gpuLayers ?? 0 });
  timings.load = performance.now() - start;
  const c = { wllama, params, promptTokens: inputs.prompt_ids.shape[0], lastText: "" };
  cases.set(label, c);
  const first = await once(c);
  timings.first_run = first.ms;
  const info = {
    threads_asked: threads, threads: wllama.getNumThreads(), multithread: wllama.isMultithread(),
    cross_origin_isolated: globalThis.crossOriginIsolated === true, hardware_concurrency: navigator.hardwareConcurrency,
    gguf_bytes: blob.size, gpu_layers: params.gpuLayers ?? 0, n_ctx: params.nCtx ?? 1024,
    context: (({ n_vocab, n_ctx_train, n_layer, n_embd }) => ({ n_vocab, n_ctx_train, n_layer, n_embd }))(
      wllama.getLoadedContextInfo()),
    wasm_heap_bytes: null,
    wasm_heap_note: "wllama's wasm memory lives in its worker (not readable from the page)",
  };
  return JSON.stringify({ timings_ms: timings, first, info });
}

export async function timed(label, runs, warmup) {
  const c = cases.get(label);
  for (let i = 0; i < warmup; i++) await once(c);
  const records = [];
  for (let i = 0; i < runs; i++) records.push(await once(c));
  return JSON.stringify(records);
}

export async function outputs(label) {
  const bytes = new TextEncoder().encode(cases.get(label).lastText);
  return JSON.stringify({ text: { dtype: "utf8", shape: [bytes.length], data: toB64(bytes) } });
}

export async function close(label) {
  const c = cases.get(label);
  cases.delete(label);
  if (c) await c.wllama.exit();
}
