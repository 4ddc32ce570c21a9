// Model files for the pages: fetched with streamed progress and kept in the Cache API keyed by sha256 (when the
// page is a secure context), so a second visit reads them from the cache and a changed file is fetched again.
// Which files: the ones a page names from demo.json (`webinfer demo` / `build-site` write it, with sizes and hashes).

/** The Cache API's cache `name`, or null where there is none (not a secure context, an opaque origin). */
export async function openCache(name) {
  try {
    return globalThis.caches ? await caches.open(name) : null;
  } catch {
    return null;
  }
}

/** One file's bytes: from `cache` when it holds this sha256, else fetched (progress: onBytes(received)). */
export async function fetchFile(cache, url, sha256, onBytes) {
  const key = `${url}?sha256=${sha256}`;
  const hit = cache && (await cache.match(key));
  if (hit) {
    const bytes = new Uint8Array(await hit.arrayBuffer());
    onBytes(bytes.length);
    return { bytes, cached: true };
  }
  const response = await fetch(url, { cache: "no-cache" });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const reader = response.body.getReader();
  const chunks = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    onBytes(received);
  }
  const bytes = new Uint8Array(received);
  let at = 0;
  for (const chunk of chunks) { bytes.set(chunk, at); at += chunk.length; }
  if (cache) {
    for (const old of await cache.keys()) {
      if (old.url.split("?")[0] === url && old.url !== key) await cache.delete(old);
    }
    await cache.put(key, new Response(bytes));
  }
  return { bytes, cached: false };
}

/**
 * The files `names` of a demo.json `manifest` (served at `baseURL`), at the same time.
 * onProgress(receivedBytes, totalBytes). Resolves to { files: {name: Uint8Array}, bytes, cachedBytes, seconds, cache }.
 */
export async function fetchFiles(baseURL, manifest, names, cacheName, onProgress = () => {}) {
  const cache = await openCache(cacheName);
  const entries = names.map((name) => {
    const facts = manifest.files[name];
    if (!facts) throw new Error(`demo.json lists no file ${name}: rebuild the demo data (webinfer demo --rebuild)`);
    return [name, facts];
  });
  const total = entries.reduce((sum, [, f]) => sum + f.bytes, 0);
  const done = {};
  const files = {};
  let cachedBytes = 0;
  const t0 = performance.now();
  await Promise.all(entries.map(async ([name, f]) => {
    const got = await fetchFile(cache, new URL(name, baseURL).href, f.sha256, (n) => {
      done[name] = n;
      onProgress(Object.values(done).reduce((a, b) => a + b, 0), total);
    });
    files[name] = got.bytes;
    if (got.cached) cachedBytes += got.bytes.length;
  }));
  return { files, bytes: total, cachedBytes, seconds: (performance.now() - t0) / 1000, cache: Boolean(cache) };
}

/** Fetch and parse demo.json from `modelsURL`, with a message saying how to build it when it is missing. */
export async function fetchDemoManifest(modelsURL) {
  const r = await fetch(new URL("demo.json", modelsURL), { cache: "no-cache" });
  if (!r.ok) throw new Error(`no demo data at ${modelsURL}demo.json (HTTP ${r.status}): build it with ` +
    "`webinfer demo` (or `make demo`), or serve a site made by `webinfer build-site DIR`");
  return r.json();
}
