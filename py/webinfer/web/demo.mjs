// The demo page: boot Pyodide + webinfer, fetch the model and corpus (Cache API, progress bar), and hand
// every query to demo.py's `demo` object. The Python side does the work; this file only wires the page.
// URL parameters: ?q=QUERY runs it once ready, ?backend=webgpu|webnn|hybrid picks the backend, ?k=N hits.
// window.demoState mirrors what the page shows, for `webinfer demo --query` and the tests.

import { PAGE_REPORT, choices, markFailed, renderPicker } from "./backends.mjs";
import { fetchDemoManifest, fetchFiles } from "./files.mjs";
import { mb, ms, pythonRunner, startBoot, statusBar, weightsFact } from "./page.mjs";

const EXAMPLES = [
  "remove a directory tree", "parse a URL into its parts", "check if a file exists", "run a shell command",
  "serialize an object to JSON", "greatest common divisor", "sort a list", "temporary directory",
];
const CACHE_NAME = "webinfer-demo-v1";
const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);

const state = (window.demoState = {
  phase: "starting", ready: false, backend: null, device: null, result: null, error: null,
  firstResultSeconds: null, boot: null, weights: null, compile: null, support: null, backendNames: [], queries: 0,
});

let pyodide = null;
let py = null; // pythonRunner(pyodide), once booted
const status = statusBar(state);
const { loading, progress, showLoading, showError } = status;

// -- files: only the search demo's (the encoder and the corpus), cached by sha256 (files.mjs) ------------
/** The files demo.json lists for this page, into memory (the download's progress goes to `loading`). */
async function fetchData(modelsURL, manifest) {
  const names = Object.keys(manifest.files).filter((name) => name.startsWith(manifest.model)
    || name === manifest.corpus || name === manifest.embeddings);
  const got = await fetchFiles(modelsURL, manifest, names, CACHE_NAME, (received, total) => {
    loading.fetched = received / total;
    loading.download = `model and corpus ${mb(received)} of ${mb(total)}`;
    showLoading();
  });
  state.weights = { bytes: got.bytes, cachedBytes: got.cachedBytes, seconds: got.seconds, cache: got.cache };
  $("fact-weights").textContent = weightsFact(got);
  return got.files;
}

// -- backends ------------------------------------------------------------------------------------------
function renderBackends(support, chosen, onPick) {
  renderPicker($("backends"), state.backendNames, support, chosen, onPick);
}

function markBackendFailed(name, error) {
  markFailed(state.support, name, error);
}

// -- results -------------------------------------------------------------------------------------------
function renderResult(result, roundTripMs) {
  const list = $("results");
  list.replaceChildren();
  const top = result.hits[0]?.score ?? 1;
  for (const hit of result.hits) {
    const item = document.createElement("li");
    item.className = "hit";
    const where = hit.module === "builtins" ? hit.name : `${hit.module}.${hit.name}`;
    item.innerHTML = `<div class="hit-head"><code class="qualname"></code><span class="kind"></span>
      <span class="score"><span class="score-bar"><span></span></span><span class="score-value"></span></span></div>
      <div class="line"></div>`;
    item.querySelector(".qualname").textContent = where;
    item.querySelector(".kind").textContent = hit.kind;
    item.querySelector(".score-bar span").style.width = `${Math.max(4, Math.round(100 * hit.score / top))}%`;
    item.querySelector(".score-value").textContent = hit.score.toFixed(3);
    item.querySelector(".line").textContent = hit.line;
    list.append(item);
  }
  $("no-results").hidden = result.hits.length > 0;
  const t = result.timings;
  $("fact-backend").textContent = result.backend;
  $("fact-device").textContent = result.device;
  $("fact-tokenize").textContent = `${ms(t.tokenize_ms)} (${result.tokens} tokens)`;
  $("fact-run").textContent = ms(t.run_ms);
  $("fact-score").textContent = `${ms(t.score_ms)} + rank ${ms(t.rank_ms)}`;
  $("fact-total").textContent = `${ms(t.total_ms)} in Python, ${ms(roundTripMs)} round trip`;
  if (state.firstResultSeconds == null) {
    state.firstResultSeconds = performance.now() / 1000;
    $("fact-first").textContent = `${state.firstResultSeconds.toFixed(1)} s after opening the page`;
  }
}

let pending = null;
let searching = false;

async function search(query) {
  pending = query;
  if (searching || !state.ready) return;
  searching = true;
  try {
    while (pending !== null) {
      const q = pending;
      pending = null;
      const t0 = performance.now();
      const result = await py("await demo.search(_query, _k)", { _query: q, _k: Number(params.get("k") ?? 10) });
      const roundTrip = performance.now() - t0;
      if (!result.hits.length) continue;
      state.queries += 1;
      state.result = { ...result, roundTripMs: roundTrip };
      renderResult(result, roundTrip);
    }
  } catch (error) {
    showError(error);
  } finally {
    searching = false;
  }
}

// -- the page's life -----------------------------------------------------------------------------------
async function loadModel(backend) {
  state.ready = false;
  state.error = null;
  $("error").hidden = true;
  state.backend = backend;
  for (const b of document.querySelectorAll(".backend")) b.setAttribute("aria-checked", String(b.dataset.backend === backend));
  setControls(false);
  // WebGPU on a software adapter (SwiftShader) embeds ~1 line/s: offer the small sample there.
  $("reindex-count").value = backend === "webgpu" && state.support.fallbackAdapter ? "32" : "256";
  progress(0.85, `compiling all-MiniLM-L6-v2 for ${backend}…`);
  try {
    const loaded = await py("await demo.load_model(_dir, _backend)", { _dir: "/demo/model", _backend: backend });
    state.compile = loaded;
    state.device = loaded.device;
    const t = loaded.timings;
    $("fact-compile").textContent = `${backend}: ${ms(t.load_ms + t.scorer_ms)} + first query ${ms(t.warmup_ms)}`;
    $("fact-backend").textContent = loaded.backend;
    $("fact-device").textContent = loaded.device;
    progress(1, `ready: ${backend} · ${loaded.device}`);
    state.ready = true;
    setControls(true);
    $("error").hidden = true;
    const query = $("query").value.trim();
    if (query) await search(query);
  } catch (error) {
    markBackendFailed(backend, error);
    renderBackends(state.support, backend, switchBackend);
    progress(1, `${backend} failed: pick another backend`);
    showError(error);
  }
}

function switchBackend(backend) {
  if (backend !== state.backend || !state.ready) loadModel(backend);
}

function setControls(on) {
  for (const id of ["query", "go", "reindex"]) $(id).disabled = !on;
  if (on) $("query").focus();
}

async function reindex() {
  const count = Number($("reindex-count").value);
  $("reindex").disabled = true;
  $("reindex-result").textContent = "";
  const report = (done, total) => progress(done / total, `re-indexing on ${state.backend}: ${done} / ${total} lines`);
  try {
    const r = await py("await demo.reindex(_count, 32, _progress)", { _count: count, _progress: report });
    state.reindex = r;
    $("reindex-result").textContent = `${r.count} lines in ${r.seconds.toFixed(2)} s: ${r.per_second.toFixed(1)} ` +
      `lines/s on ${r.backend} (batch ${r.batch_size}); cosine with the host's embeddings ≥ ${r.min_cosine.toFixed(5)}`;
    progress(1, `ready: ${state.backend} · ${state.device}`);
  } catch (error) {
    showError(error);
  } finally {
    $("reindex").disabled = false;
  }
}

function wireControls() {
  const input = $("query");
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => input.value.trim() && search(input.value), 250);
  });
  $("search").addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    if (input.value.trim()) search(input.value);
  });
  const box = $("examples");
  for (const text of EXAMPLES) {
    const chip = document.createElement("button");
    chip.type = "button";
    chip.className = "chip";
    chip.textContent = text;
    chip.addEventListener("click", () => { input.value = text; search(text); });
    box.append(chip);
  }
  $("reindex").addEventListener("click", reindex);
}

async function main() {
  wireControls();
  const query = params.get("q");
  if (query) $("query").value = query;
  state.isolated = globalThis.crossOriginIsolated === true;
  $("fact-isolation").textContent = state.isolated
    ? "cross-origin isolated"
    : "not cross-origin isolated (fine: only timer precision and SharedArrayBuffer need it)";
  const { config, booting, t0 } = await startBoot(status);
  const data = fetchDemoManifest(config.modelsURL);
  const downloading = data.then((manifest) => fetchData(config.modelsURL, manifest)); // while Pyodide boots
  downloading.catch(() => {});
  const demoManifest = await data;
  const loaded = await booting;
  pyodide = loaded.pyodide;
  py = pythonRunner(pyodide);
  // which backends this page can run, and `auto`'s choice: webinfer decides (webinfer.backends)
  const picked = choices(await py(PAGE_REPORT), params.get("backend"));
  state.support = picked.support;
  state.backendNames = picked.names;
  const chosen = picked.chosen;
  renderBackends(state.support, chosen, switchBackend);
  state.boot = { ...loaded.timings, seconds: (performance.now() - t0) / 1000 };
  $("fact-boot").textContent = `${state.boot.seconds.toFixed(1)} s (Pyodide ${loaded.timings.loadPyodide.toFixed(1)} s)`;
  loading.boot = "Pyodide and webinfer ready";
  loading.booted = 1;
  showLoading();
  const files = await downloading;
  const source = await (await fetch("demo.py", { cache: "no-cache" })).text();
  await pyodide.runPythonAsync(source, { globals: py.ns, filename: "demo.py" });
  const modelDir = demoManifest.model;
  pyodide.FS.mkdirTree("/demo/model");
  for (const [name, bytes] of Object.entries(files)) {
    if (name.startsWith(modelDir)) pyodide.FS.writeFile(`/demo/model/${name.slice(modelDir.length)}`, bytes);
  }
  const manifestText = new TextDecoder().decode(files[demoManifest.corpus]);
  const corpus = await py("demo.load_corpus(_manifest, _embeddings)",
    { _manifest: manifestText, _embeddings: files[demoManifest.embeddings] });
  state.corpus = corpus;
  $("corpus-size").textContent = corpus.count.toLocaleString("en");
  if (!chosen) {
    progress(1, "no backend: this browser has neither WebGPU nor WebNN");
    showError("webinfer needs WebGPU or WebNN in the browser; neither is available here.");
    return;
  }
  await loadModel(chosen);
}

main().catch((error) => {
  progress(1, "failed");
  console.error(error);
  showError(error);
});
