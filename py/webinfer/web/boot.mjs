// Boot Pyodide from this site and micropip-install webinfer: the loader the harness, the demo and the
// REPL share. Every URL comes from webinfer-config.json (served by `webinfer serve`, written as a static
// file by `webinfer build-site`) and is resolved against that file's URL, so a site in a subdirectory works.

/** Fetch and parse webinfer-config.json; its URLs come back absolute. */
export async function loadConfig(configURL = "webinfer-config.json") {
  const url = new URL(configURL, location.href);
  const response = await fetch(url, { cache: "no-cache" });
  let config;
  try {
    config = await response.json();
  } catch {
    throw new Error(`${url}: HTTP ${response.status}, not JSON (is this the webinfer server or a built site?)`);
  }
  if (!response.ok) throw new Error(`${url}: ${config.error ?? `HTTP ${response.status}`}`);
  const abs = (key) => (config[key] == null ? null : new URL(config[key], url).href);
  return {
    ...config,
    pyodideIndexURL: abs("pyodideIndexURL"),
    lockFileURL: abs("lockFileURL"),
    wheel: abs("wheel"),
    modelsURL: abs("modelsURL"),
  };
}

function writer(write) {
  const decoder = new TextDecoder();
  // isatty makes Python's stdout line-buffered, so lines stream as they are printed.
  return { isatty: true, write: (buf) => { write(decoder.decode(buf, { stream: true })); return buf.length; } };
}

/**
 * Load Pyodide and install webinfer (not imported yet).
 * options: stdout(text), stderr(text), onStep(label), config (a loadConfig() result), configURL.
 * Resolves to { pyodide, config, timings } with timings in seconds since the call:
 * loadPyodide (done), micropip (its load alone), install (webinfer's install alone) and, when the
 * config names the user's packages, packages (their install alone).
 */
export async function loadWebinfer(options = {}) {
  const t0 = performance.now();
  const step = options.onStep ?? (() => {});
  const since = () => (performance.now() - t0) / 1000;
  const config = options.config ?? (await loadConfig(options.configURL));
  step("loading Pyodide");
  const { loadPyodide } = await import(config.pyodideIndexURL + "pyodide.mjs");
  const pyodide = await loadPyodide({ indexURL: config.pyodideIndexURL, lockFileURL: config.lockFileURL });
  if (options.stdout) pyodide.setStdout(writer(options.stdout));
  if (options.stderr) pyodide.setStderr(writer(options.stderr));
  const timings = { loadPyodide: since() };
  step("loading micropip");
  const failures = [];
  const loaded = await pyodide.loadPackage("micropip", {
    messageCallback: () => {},
    errorCallback: (message) => failures.push(message),
  });
  if (!loaded.length) throw new Error(`loading micropip from the lock failed: ${failures.join("; ") || "nothing loaded"}`);
  timings.micropip = since() - timings.loadPyodide;
  step("installing webinfer");
  const micropip = pyodide.pyimport("micropip");
  try {
    await micropip.install(config.wheel);
  } finally {
    micropip.destroy();
  }
  timings.install = since() - timings.loadPyodide - timings.micropip;
  if (config.packages?.length) {
    // The user's own wheels (`--wheel`, the pytest fixture's webinfer_wheels): lock entries, so their
    // requirements resolve inside the served lock.
    step(`installing ${config.packages.join(", ")}`);
    const errors = [];
    const got = await pyodide.loadPackage(config.packages, {
      messageCallback: () => {},
      errorCallback: (message) => errors.push(message),
    });
    const names = new Set(got.map((p) => p.name));
    const missing = config.packages.filter((name) => !names.has(name));
    if (missing.length) throw new Error(`installing ${missing.join(", ")} from the lock failed: ${errors.join("; ") || "nothing loaded"}`);
    timings.packages = since() - timings.loadPyodide - timings.micropip - timings.install;
  }
  return { pyodide, config, timings };
}
