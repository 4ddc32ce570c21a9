// What this browser offers webinfer: isolation, JSPI, the WebGPU adapter, WebNN contexts.
// Used by `webinfer devices` (and any page that wants to show it). Every probe is bounded in time.

const WEBGPU_LIMITS = [
  "maxBufferSize", "maxStorageBufferBindingSize", "maxUniformBufferBindingSize",
  "maxStorageBuffersPerShaderStage", "maxBindGroups", "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup", "maxComputeWorkgroupSizeX", "maxComputeWorkgroupsPerDimension",
];
const WEBNN_NON_OPS = new Set(["preferredInputLayout", "maxTensorByteLength", "input", "constant", "output"]);

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const message = (error) => `${error?.name ?? "Error"}: ${error?.message ?? error}`;

async function probeWebGPU(ms) {
  if (!navigator.gpu) return { available: false, error: "navigator.gpu is missing (no WebGPU)" };
  const adapter = await withTimeout(navigator.gpu.requestAdapter(), ms, "requestAdapter()");
  if (!adapter) return { available: false, error: "requestAdapter() returned null" };
  const info = adapter.info ?? {};
  const limits = {};
  for (const name of WEBGPU_LIMITS) limits[name] = adapter.limits[name];
  return {
    available: true,
    adapter: {
      vendor: info.vendor ?? "", architecture: info.architecture ?? "",
      device: info.device ?? "", description: info.description ?? "",
      isFallbackAdapter: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter),
    },
    features: [...adapter.features].sort(),
    limits,
    adapterObject: adapter,
  };
}

function summarizeLimits(limits) {
  const ops = Object.keys(limits).filter((key) => !WEBNN_NON_OPS.has(key)).sort();
  return {
    opCount: ops.length,
    preferredInputLayout: limits.preferredInputLayout ?? null,
    maxTensorByteLength: Number(limits.maxTensorByteLength ?? 0) || null,
    ops,
  };
}

async function probeContext(options, ms, what) {
  try {
    const context = await withTimeout(navigator.ml.createContext(options), ms, what);
    const result = { created: true, limits: summarizeLimits(context.opSupportLimits()) };
    if ("accelerated" in context) result.accelerated = context.accelerated;
    context.destroy?.();
    return result;
  } catch (error) {
    return { created: false, error: message(error) };
  }
}

async function probeWebNN(adapter, ms) {
  if (!navigator.ml) return { available: false, error: "navigator.ml is missing (no WebNN)", contexts: {} };
  const contexts = {};
  for (const deviceType of ["cpu", "gpu", "npu"]) {
    contexts[deviceType] = await probeContext({ deviceType }, ms, `createContext({deviceType: "${deviceType}"})`);
  }
  contexts.default = await probeContext(undefined, ms, "createContext()");
  if (adapter) {
    let device = null;
    try {
      device = await withTimeout(adapter.requestDevice(), ms, "requestDevice()");
      contexts.gpuDevice = await probeContext(device, ms, "createContext(gpuDevice)");
    } catch (error) {
      contexts.gpuDevice = { created: false, error: message(error) };
    } finally {
      device?.destroy();
    }
  } else {
    contexts.gpuDevice = { created: false, error: "no WebGPU adapter to make a GPUDevice from" };
  }
  return { available: Object.values(contexts).some((c) => c.created), contexts };
}

/** Probe everything; `ms` bounds each browser call. */
export async function probe(ms = 30000) {
  const report = {
    userAgent: navigator.userAgent,
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    jspi: typeof WebAssembly.Suspending === "function" && typeof WebAssembly.promising === "function",
  };
  let adapter = null;
  try {
    const webgpu = await probeWebGPU(ms);
    adapter = webgpu.adapterObject ?? null;
    delete webgpu.adapterObject;
    report.webgpu = webgpu;
  } catch (error) {
    report.webgpu = { available: false, error: message(error) };
  }
  report.webnn = await probeWebNN(adapter, ms);
  return report;
}
