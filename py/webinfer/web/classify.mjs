// The classify page: boot Pyodide + webinfer, fetch EfficientNet-Lite0 (Cache API, progress bar), decode the picked
// photo in the browser (createImageBitmap → canvas → RGBA bytes) and hand it to classify.py's `classifier`.
// URL parameters: ?backend=webgpu|webnn|hybrid picks the backend, ?k=N classes, ?sample=NAME classifies a bundled
// sample once ready. window.classifyState mirrors what the page shows, for `webinfer demo --classify` and the tests.

import { PAGE_REPORT, choices, markFailed, renderPicker } from "./backends.mjs";
import { fetchDemoManifest, fetchFiles } from "./files.mjs";
import { mb, ms, pythonRunner, startBoot, statusBar, weightsFact } from "./page.mjs";

const SAMPLES = [
  { name: "chelsea.jpg", title: "a cat" },
  { name: "coffee.jpg", title: "a coffee cup" },
];
const CACHE_NAME = "webinfer-demo-v1"; // the search page's cache: one entry per file and sha256
const MODEL_DIR = "/classify/model";
// Photos whose shorter side is above this are first scaled in the canvas (pure-Python resizing of a 12-megapixel
// photo takes tens of seconds); the page says so next to the photo.
const MAX_SHORTER_SIDE = 1024;
const SCALED_SHORTER_SIDE = 512;
const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);

const state = (window.classifyState = {
  phase: "starting", ready: false, backend: null, device: null, result: null, error: null, boot: null,
  weights: null, compile: null, support: null, backendNames: [], runs: 0, isolated: null,
});

let pyodide = null;
let py = null; // pythonRunner(pyodide), once booted
let current = null; // the last photo: { blob, name }
const status = statusBar(state);
const { loading, progress, showLoading, showError, hideError } = status;

// -- the photo: decoded by the browser, RGBA bytes from a canvas -----------------------------------------
async function decode(blob) {
  const t0 = performance.now();
  // no colour management and no premultiplied alpha: the bytes the file holds
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  let width = bitmap.width;
  let height = bitmap.height;
  const shorter = Math.min(width, height);
  const scaledFrom = shorter > MAX_SHORTER_SIDE ? [width, height] : null;
  if (scaledFrom) {
    width = Math.max(1, Math.round(width * SCALED_SHORTER_SIDE / shorter));
    height = Math.max(1, Math.round(height * SCALED_SHORTER_SIDE / shorter));
  }
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  const pixels = ctx.getImageData(0, 0, width, height).data;
  return { pixels, width, height, scaledFrom, decodeMs: performance.now() - t0 };
}

function showPhoto(blob, name) {
  const img = $("preview");
  if (img.src) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(blob);
  img.hidden = false;
  $("photo-caption").textContent = name;
}

async function classify(blob, name) {
  current = { blob, name };
  showPhoto(blob, name);
  if (!state.ready) return; // classified once the model is ready
  hideError();
  progress(1, `classifying ${name} on ${state.backend}…`);
  try {
    const t0 = performance.now();
    const image = await decode(blob);
    const result = await py("await classifier.classify(_pixels, _width, _height, _k, _name)", {
      _pixels: image.pixels, _width: image.width, _height: image.height, _k: Number(params.get("k") ?? 5), _name: name,
    });
    const roundTripMs = performance.now() - t0;
    result.image.scaledFrom = image.scaledFrom;
    state.runs += 1;
    state.result = { ...result, decodeMs: image.decodeMs, roundTripMs };
    render(state.result);
    progress(1, `ready: ${state.backend} · ${state.device}`);
  } catch (error) {
    progress(1, `classifying ${name} failed`);
    showError(error);
  }
}

function render(result) {
  const list = $("classes");
  list.replaceChildren();
  for (const c of result.top) {
    const item = document.createElement("li");
    item.className = "class";
    item.innerHTML = `<div class="class-head"><span class="label"></span><span class="index"></span>
      <span class="score"><span class="score-bar"><span></span></span><span class="score-value"></span></span></div>`;
    item.querySelector(".label").textContent = c.label;
    item.querySelector(".index").textContent = `#${c.index}`;
    item.querySelector(".score-bar span").style.width = `${Math.max(2, Math.round(100 * c.score))}%`;
    item.querySelector(".score-value").textContent = `${(100 * c.score).toFixed(1)}%`;
    list.append(item);
  }
  const { width, height, scaledFrom, name } = result.image;
  $("photo-caption").textContent = `${name} · ${width}×${height}` +
    (scaledFrom ? ` (scaled in the browser from ${scaledFrom[0]}×${scaledFrom[1]})` : "");
  const t = result.timings;
  $("fact-backend").textContent = result.backend;
  $("fact-device").textContent = result.device;
  $("fact-decode").textContent = `${ms(result.decodeMs)} (browser)`;
  $("fact-preprocess").textContent = `${ms(t.preprocess_ms)} (Python: resize, crop, normalize)`;
  $("fact-run").textContent = ms(t.run_ms) + (result.run === 1 ? " (first run after compile)" : "");
  $("fact-total").textContent = `${ms(t.total_ms)} in Python, ${ms(result.roundTripMs)} round trip`;
}

// -- backends ------------------------------------------------------------------------------------------
async function loadModel(backend) {
  state.ready = false;
  hideError();
  state.backend = backend;
  for (const b of document.querySelectorAll(".backend")) b.setAttribute("aria-checked", String(b.dataset.backend === backend));
  progress(0.85, `compiling EfficientNet-Lite0 for ${backend}…`);
  try {
    const loaded = await py("await classifier.load_model(_dir, _backend)", { _dir: MODEL_DIR, _backend: backend });
    state.compile = loaded;
    state.device = loaded.device;
    const t = loaded.timings;
    $("fact-compile").textContent = `${backend}: load ${ms(t.load_ms)} + compile ${ms(t.compile_ms)}`;
    $("fact-backend").textContent = loaded.backend;
    $("fact-device").textContent = loaded.device;
    progress(1, `ready: ${backend} · ${loaded.device}`);
    state.ready = true;
    if (current) await classify(current.blob, current.name);
  } catch (error) {
    markFailed(state.support, backend, error);
    renderPicker($("backends"), state.backendNames, state.support, backend, switchBackend);
    progress(1, `${backend} failed: pick another backend`);
    showError(error);
  }
}

function switchBackend(backend) {
  if (backend !== state.backend || !state.ready) loadModel(backend);
}

// -- controls ------------------------------------------------------------------------------------------
async function sampleBlob(name) {
  const response = await fetch(`images/${name}`);
  if (!response.ok) throw new Error(`images/${name}: HTTP ${response.status}`);
  return response.blob();
}

async function sample(name) {
  await classify(await sampleBlob(name), name);
}

function wireControls() {
  const box = $("samples");
  for (const s of SAMPLES) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sample";
    button.dataset.sample = s.name;
    button.title = s.title;
    button.innerHTML = `<img alt=""><span></span>`;
    button.querySelector("img").src = `images/${s.name}`;
    button.querySelector("span").textContent = s.title;
    button.addEventListener("click", () => sample(s.name).catch(showError));
    box.append(button);
  }
  $("file").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (file) classify(file, file.name);
  });
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    const file = [...event.dataTransfer.files].find((f) => f.type.startsWith("image/"));
    if (file) classify(file, file.name);
    else showError("drop an image file (JPEG, PNG, WebP, …)");
  });
}

// -- the page's life -----------------------------------------------------------------------------------
async function main() {
  wireControls();
  state.isolated = globalThis.crossOriginIsolated === true;
  const { config, booting, t0 } = await startBoot(status);
  const manifest = await fetchDemoManifest(config.modelsURL);
  if (!manifest.classifier) {
    throw new Error(`the demo data has no classifier: ${manifest.classifier_missing ?? "rebuild it with `webinfer demo`"}`);
  }
  const names = Object.keys(manifest.files).filter((name) => name.startsWith(manifest.classifier));
  const downloading = fetchFiles(config.modelsURL, manifest, names, CACHE_NAME, (received, total) => {
    loading.fetched = received / total;
    loading.download = `EfficientNet-Lite0 ${mb(received)} of ${mb(total)}`;
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
    pyodide.FS.writeFile(`${MODEL_DIR}/${name.slice(manifest.classifier.length)}`, bytes);
  }
  const source = await (await fetch("classify.py", { cache: "no-cache" })).text();
  await pyodide.runPythonAsync(source, { globals: py.ns, filename: "classify.py" });
  const facts = JSON.parse(new TextDecoder().decode(got.files[`${manifest.classifier}classifier.json`]));
  $("fact-model").textContent = `${facts.model} (${facts.labels.length.toLocaleString("en")} classes), from ONNX`;
  if (!picked.chosen) {
    progress(1, "no backend: this browser has neither WebGPU nor WebNN");
    showError("webinfer needs WebGPU or WebNN in the browser; neither is available here.");
    return;
  }
  const asked = params.get("sample");
  if (asked) current = { blob: await sampleBlob(asked), name: asked };
  if (current) showPhoto(current.blob, current.name);
  await loadModel(picked.chosen);
}

main().catch((error) => {
  progress(1, "failed");
  console.error(error);
  showError(error);
});
