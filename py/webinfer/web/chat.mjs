// The chat page: boot Pyodide + webinfer, fetch the converted SmolLM2 (Cache API by sha256, progress bar) into
// Pyodide's file system, load it on the picked backend and stream replies from chat.py's `chat` token by token.
// URL parameters: ?backend=webgpu|webnn|hybrid, ?prompt=TEXT (sent once ready), ?max=N new tokens, ?mode=chat|raw,
// ?temperature=T. window.chatState mirrors what the page shows, for `webinfer demo --generate` and the tests.

import { PAGE_REPORT, choices, markFailed, renderPicker } from "./backends.mjs";
import { fetchDemoManifest, fetchFiles } from "./files.mjs";
import { mb, ms, pythonRunner, startBoot, statusBar, weightsFact } from "./page.mjs";

const CACHE_NAME = "webinfer-demo-v1"; // the demo pages' cache: one entry per file and sha256
const MODEL_DIR = "/chat/model";
const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);

const state = (window.chatState = {
  phase: "starting", ready: false, busy: false, backend: null, device: null, result: null, error: null, boot: null,
  weights: null, compile: null, support: null, backendNames: [], replies: 0, live: null, isolated: null,
  heapBytes: null,
});

let pyodide = null;
let py = null; // pythonRunner(pyodide), once booted
let control = null; // { stop } of the reply in progress
const status = statusBar(state);
const { loading, progress, showLoading, showError, hideError } = status;

const rate = (x) => (x == null ? "–" : `${x.toFixed(x >= 100 ? 0 : 1)} tokens/s`);

function message(role, text) {
  const item = document.createElement("div");
  item.className = `msg ${role}`;
  item.append(document.createTextNode(text));
  $("transcript").append(item);
  item.scrollIntoView({ block: "end" });
  return item;
}

function setBusy(busy) {
  state.busy = busy;
  $("send").disabled = busy || !state.ready;
  $("stop").disabled = !busy;
  for (const b of document.querySelectorAll(".backend")) if (busy) b.disabled = true;
  if (!busy) renderPicker($("backends"), state.backendNames, state.support, state.backend, switchBackend);
}

// -- one reply, streamed -------------------------------------------------------------------------------
async function send(text) {
  if (!state.ready || state.busy || !text.trim()) return;
  hideError();
  const mode = $("mode").value;
  const maxTokens = Math.max(1, Number($("max-tokens").value) || 64);
  const temperature = Math.max(0, Number($("temperature").value) || 0);
  message("user", text);
  const bubble = message("assistant", "");
  bubble.classList.add("streaming");
  const body = bubble.firstChild;
  state.live = { text: "", tokens: 0, tokens_per_s: null };
  control = { stop: false };
  setBusy(true);
  progress(1, `generating on ${state.backend}…`);
  const t0 = performance.now();
  const onPiece = (json) => {
    const p = JSON.parse(json);
    state.live = { text: state.live.text + p.piece, tokens: p.tokens, tokens_per_s: p.tokens_per_s };
    body.textContent = state.live.text;
    $("fact-tokens").textContent = `${p.tokens} new`;
    $("fact-rate").textContent = rate(p.tokens_per_s);
    bubble.scrollIntoView({ block: "end" });
  };
  try {
    const result = await py("await chat.reply(_text, _max, _temperature, _mode, _on_piece, _control)", {
      _text: text, _max: maxTokens, _temperature: temperature, _mode: mode, _on_piece: onPiece, _control: control,
    });
    result.roundTripMs = performance.now() - t0;
    body.textContent = result.text;
    state.replies += 1;
    state.result = result;
    state.heapBytes = result.wasm_heap_bytes;
    render(result, bubble);
    progress(1, `ready: ${state.backend} · ${state.device}`);
  } catch (error) {
    progress(1, "generation failed");
    showError(error);
  } finally {
    bubble.classList.remove("streaming");
    control = null;
    setBusy(false);
  }
}

function render(result, bubble) {
  const t = result.timings;
  $("fact-backend").textContent = result.backend;
  $("fact-device").textContent = result.device;
  $("fact-tokens").textContent = `${result.prompt_tokens} prompt + ${result.new_tokens} new`;
  $("fact-rate").textContent = `${rate(result.decode_tokens_per_s)} (${ms(t.decode_ms)})`;
  $("fact-prefill").textContent = `${rate(result.prefill_tokens_per_s)} (${ms(t.prefill_ms)})`;
  $("fact-first").textContent = ms(t.first_token_ms);
  $("fact-finish").textContent = result.finish_reason;
  if (result.wasm_heap_bytes) $("fact-heap").textContent = mb(result.wasm_heap_bytes);
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = `${result.new_tokens} tokens · ${rate(result.decode_tokens_per_s)} · ${result.backend} · ` +
    `${result.finish_reason}`;
  bubble.append(meta);
}

// -- backends ------------------------------------------------------------------------------------------
async function loadModel(backend) {
  state.ready = false;
  $("send").disabled = true;
  hideError();
  state.backend = backend;
  for (const b of document.querySelectorAll(".backend")) b.setAttribute("aria-checked", String(b.dataset.backend === backend));
  progress(0.85, `loading SmolLM2 and compiling it for ${backend}…`);
  try {
    const loaded = await py("await chat.load_model(_dir, _backend)", { _dir: MODEL_DIR, _backend: backend });
    state.compile = loaded;
    state.device = loaded.device;
    state.heapBytes = loaded.wasm_heap_bytes;
    const t = loaded.timings;
    $("fact-compile").textContent = `${backend}: ${ms(t.load_ms)} (compile ${ms(t.compile_ms)})`;
    $("fact-backend").textContent = loaded.backend;
    $("fact-device").textContent = loaded.device;
    if (loaded.wasm_heap_bytes) $("fact-heap").textContent = mb(loaded.wasm_heap_bytes);
    progress(1, `ready: ${backend} · ${loaded.device}`);
    state.ready = true;
    $("send").disabled = false;
  } catch (error) {
    markFailed(state.support, backend, error);
    renderPicker($("backends"), state.backendNames, state.support, backend, switchBackend);
    progress(1, `${backend} failed: pick another backend`);
    showError(error);
  }
}

function switchBackend(backend) {
  if (!state.busy && (backend !== state.backend || !state.ready)) loadModel(backend);
}

function wireControls() {
  if (params.get("max")) $("max-tokens").value = params.get("max");
  if (params.get("mode")) $("mode").value = params.get("mode");
  if (params.get("temperature")) $("temperature").value = params.get("temperature");
  $("ask").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("prompt").value;
    $("prompt").value = "";
    send(text);
  });
  $("prompt").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("ask").requestSubmit();
    }
  });
  $("stop").addEventListener("click", () => { if (control) control.stop = true; });
  $("new-chat").addEventListener("click", async () => {
    if (state.busy || !py) return;
    await py("chat.new_chat()");
    $("transcript").replaceChildren();
  });
}

// -- the page's life -----------------------------------------------------------------------------------
async function main() {
  wireControls();
  state.isolated = globalThis.crossOriginIsolated === true;
  const { config, booting, t0 } = await startBoot(status);
  const manifest = await fetchDemoManifest(config.modelsURL);
  if (!manifest.llm) {
    throw new Error(`the demo data has no language model: ${manifest.llm_missing ?? "rebuild it with `webinfer demo`"}`);
  }
  const names = Object.keys(manifest.files).filter((name) => name.startsWith(manifest.llm));
  const downloading = fetchFiles(config.modelsURL, manifest, names, CACHE_NAME, (received, total) => {
    loading.fetched = received / total;
    loading.download = `SmolLM2 ${mb(received)} of ${mb(total)}`;
    showLoading();
  });
  downloading.catch(() => {});
  const loaded = await booting;
  pyodide = loaded.pyodide;
  py = pythonRunner(pyodide);
  const picked = choices(await py(PAGE_REPORT), params.get("backend"));
  state.support = picked.support;
  state.backendNames = picked.names;
  renderPicker($("backends"), state.backendNames, state.support, picked.chosen, switchBackend);
  state.boot = { ...loaded.timings, seconds: (performance.now() - t0) / 1000 };
  $("fact-boot").textContent = `${state.boot.seconds.toFixed(1)} s (Pyodide ${loaded.timings.loadPyodide.toFixed(1)} s)`;
  loading.boot = "Pyodide and webinfer ready";
  loading.booted = 1;
  showLoading();
  const got = await downloading;
  state.weights = { bytes: got.bytes, cachedBytes: got.cachedBytes, seconds: got.seconds, cache: got.cache };
  $("fact-weights").textContent = weightsFact(got);
  pyodide.FS.mkdirTree(MODEL_DIR);
  for (const [name, bytes] of Object.entries(got.files)) {
    pyodide.FS.writeFile(`${MODEL_DIR}/${name.slice(manifest.llm.length)}`, bytes);
  }
  const source = await (await fetch("chat.py", { cache: "no-cache" })).text();
  await pyodide.runPythonAsync(source, { globals: py.ns, filename: "chat.py" });
  const facts = JSON.parse(new TextDecoder().decode(got.files[`${manifest.llm}llm.json`]));
  const c = facts.config ?? {};
  $("fact-model").textContent = `${facts.model} (${c.num_layers} layers, hidden ${c.hidden_size}, ` +
    `context ${facts.context_length})`;
  if (!picked.chosen) {
    progress(1, "no backend: this browser has neither WebGPU nor WebNN");
    showError("webinfer needs WebGPU or WebNN in the browser; neither is available here.");
    return;
  }
  await loadModel(picked.chosen);
  const asked = params.get("prompt");
  if (asked && state.ready) await send(asked);
}

main().catch((error) => {
  progress(1, "failed");
  console.error(error);
  showError(error);
});
