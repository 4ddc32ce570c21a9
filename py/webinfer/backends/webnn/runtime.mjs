// webinfer WebNN runtime: replays a plan recorded in Python (webinfer/backends/webnn/plan.py) with
// MLGraphBuilder, and runs the built MLGraph with MLTensors made once. Self-contained (no imports):
// the page loads it from the wheel, and `webinfer export-js` copies it into standalone modules.
//
// A plan is {inputs, constants, ops, outputs}; operands in op arguments are {"$": id}, non-finite
// numbers {"$num": "Infinity"}. Constant bytes come inline (base64) or from a `constantBytes(entry)`
// callback (the page passes views of Python memory; export-js reads a safetensors file).

const TYPED = {
  float32: Float32Array,
  float16: globalThis.Float16Array ?? Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int4: Uint8Array, // packed two per byte (element 2i in the low nibble)
  uint4: Uint8Array,
};

// Byte transforms a plan may ask for on a constant's bytes (plan.py's PlanConstant.transform).
const TRANSFORMS = {
  // uint4 held as int4 (u - 8: each nibble's top bit flipped), for contexts with int4 but no uint4
  "uint4-int4": (u8) => u8.map((v) => v ^ 0x88),
};

// What this module made and has not destroyed yet (tests read it to show nothing leaks), and why
// each context it made was lost ("" while it is fine): MLContext.lost is watched from creation on.
export const counters = { tensors: 0, graphs: 0, contexts: 0, builds: 0, dispatches: 0, writes: 0, bound: 0, reads: 0 };
const lostReasons = new WeakMap();
const released = new WeakSet();

async function newTensor(context, desc) {
  const tensor = await context.createTensor(desc);
  counters.tensors += 1;
  return tensor;
}

function dropTensor(tensor) {
  if (!tensor || released.has(tensor)) return;
  released.add(tensor);
  counters.tensors -= 1;
  tensor.destroy();
}

function dropGraph(graph) {
  if (!graph || released.has(graph)) return;
  released.add(graph);
  counters.graphs -= 1;
  graph.destroy();
}

function isTensor(item) {
  return typeof MLTensor !== "undefined" && item instanceof MLTensor;
}

// Device-resident outputs (`run(..., keep)`): per context, free MLTensors by data type and shape, reused as the
// outputs of later runs once their holders give them back (a KV cache cycles through two sets of tensors).
const pools = new WeakMap();

function tensorKey(desc) {
  return `${desc.dataType}[${desc.shape}]`;
}

async function takeTensor(context, desc) {
  const free = pools.get(context)?.get(tensorKey(desc));
  if (free?.length) return free.pop();
  return newTensor(context, { dataType: desc.dataType, shape: desc.shape, readable: true, writable: true });
}

/** Give back an MLTensor `run(..., keep)` returned: pooled for reuse (destroyed if its context is gone). */
export function recycle(context, tensor) {
  if (!tensor || released.has(tensor)) return;
  if (released.has(context) || lostReasons.get(context)) {
    dropTensor(tensor);
    return;
  }
  let pool = pools.get(context);
  if (!pool) pools.set(context, (pool = new Map()));
  const key = tensorKey({ dataType: tensor.dataType, shape: tensor.shape });
  if (!pool.has(key)) pool.set(key, []);
  pool.get(key).push(tensor);
}

/** Destroy the pooled tensors of `context` (before the context goes, or to free memory). */
export function drainPool(context) {
  const pool = pools.get(context);
  if (!pool) return;
  for (const list of pool.values()) list.forEach(dropTensor);
  pools.delete(context);
}

/** Destroy an MLTensor this module made (a folded weight when its session closes). */
export function destroyTensor(tensor) {
  dropTensor(tensor);
}

/** Read a kept output back: its bytes (one readTensor). */
export async function readKept(context, tensor) {
  if (released.has(tensor)) throw new Error("webinfer webnn: this tensor was given back already");
  counters.reads += 1;
  return new Uint8Array(await context.readTensor(tensor));
}

/**
 * Wait until the work queued on `context` so far has run (a one-element readTensor, queued behind it): graphs
 * dispatched with kept outputs and destroyed at once may otherwise never fill those outputs.
 */
export async function fence(context) {
  const tensor = await newTensor(context, { dataType: "float32", shape: [1], readable: true, writable: true });
  try {
    await context.readTensor(tensor);
  } finally {
    dropTensor(tensor);
  }
}

/** Upload bytes (a view) into a new MLTensor of `desc` that later runs can bind as an input. */
export async function uploadTensor(context, desc, bytes) {
  const tensor = await newTensor(context, { dataType: desc.dataType, shape: desc.shape, readable: true, writable: true });
  context.writeTensor(tensor, bytes);
  counters.writes += 1;
  return tensor;
}

/** The counters as JSON text. */
export function countersJSON() {
  return JSON.stringify(counters);
}

/** A typed array of `dataType` over `bytes` (an ArrayBuffer or view); copies only when misaligned. */
export function typedView(dataType, bytes) {
  const Typed = TYPED[dataType];
  if (!Typed) throw new TypeError(`webinfer webnn: unknown data type ${dataType}`);
  const u8 = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (u8.byteLength % Typed.BYTES_PER_ELEMENT) {
    throw new RangeError(`webinfer webnn: ${u8.byteLength} bytes is not a whole number of ${dataType}`);
  }
  const aligned = u8.byteOffset % Typed.BYTES_PER_ELEMENT === 0 ? u8 : u8.slice();
  return new Typed(aligned.buffer, aligned.byteOffset, aligned.byteLength / Typed.BYTES_PER_ELEMENT);
}

function asBytes(bytes) {
  return bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Base64 text -> Uint8Array. */
export function decodeBase64(text) {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function resolve(value, operands, node) {
  if (Array.isArray(value)) return value.map((v) => resolve(v, operands, node));
  if (value !== null && typeof value === "object") {
    if ("$" in value) {
      const operand = operands.get(value.$);
      if (operand === undefined) throw new Error(`webinfer webnn: node '${node}' refers to operand ${value.$}, which is not made yet`);
      return operand;
    }
    if ("$num" in value) return Number(value.$num);
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolve(v, operands, node);
    return out;
  }
  return value;
}

/** Replay the plan on `builder`; returns {outputName: MLOperand}. Errors name the graph node. */
export function replay(builder, plan, constantBytes) {
  const operands = new Map();
  for (const inp of plan.inputs) {
    operands.set(inp.id, builder.input(inp.name, { dataType: inp.dataType, shape: inp.shape }));
  }
  for (const c of plan.constants) {
    let bytes = c.inline !== undefined ? decodeBase64(c.inline) : constantBytes(c);
    if (c.transform) bytes = TRANSFORMS[c.transform](asBytes(bytes));
    try {
      operands.set(c.id, builder.constant({ dataType: c.dataType, shape: c.shape }, typedView(c.dataType, bytes)));
    } catch (e) {
      throw new Error(`webinfer webnn: constant '${c.name}' (${c.dataType}[${c.shape}]): ${e.message ?? e}`);
    }
  }
  for (const op of plan.ops) {
    const args = resolve(op.args, operands, op.node);
    if (op.options) args.push(resolve(op.options, operands, op.node));
    let result;
    try {
      result = builder[op.op](...args);
    } catch (e) {
      throw new Error(`webinfer webnn: node '${op.node}': builder.${op.op}() failed: ${e.message ?? e}`);
    }
    if (op.multi) op.outs.forEach((id, i) => operands.set(id, result[i]));
    else operands.set(op.outs[0], result);
  }
  return Object.fromEntries(plan.outputs.map((o) => [o.name, operands.get(o.id)]));
}

/** Build the plan's MLGraph on `context`. */
export async function buildGraph(context, plan, constantBytes) {
  const builder = new MLGraphBuilder(context);
  const outputs = replay(builder, plan, constantBytes);
  try {
    const graph = await builder.build(outputs);
    counters.graphs += 1;
    counters.builds += 1;
    return graph;
  } catch (e) {
    throw new Error(`webinfer webnn: MLGraphBuilder.build() failed: ${e.message ?? e}`);
  }
}

/**
 * One built graph with its input and output MLTensors, made on first use and reused by every run (an input always
 * bound to a given MLTensor — a folded weight, a device-resident cache — never gets one of its own).
 */
export class Executor {
  constructor(context, plan, graph, buildMs) {
    this.context = context;
    this.plan = plan;
    this.graph = graph;
    this.inputs = plan.inputs.map(() => null); // [MLTensor | null] in plan.inputs order
    this.outputs = null; // [MLTensor] in plan.outputs order, made at the first run that reads them back
    this.buildMs = buildMs;
    this.destroyed = false;
  }

  /** Build the graph. `constantBytes`: (entry) => bytes, or an array indexed by entry.ref. */
  static async create(context, plan, constantBytes) {
    if (typeof plan === "string") plan = JSON.parse(plan);
    if (typeof constantBytes !== "function") {
      const views = constantBytes ?? [];
      constantBytes = (c) => views[c.ref];
    }
    const t0 = performance.now();
    const graph = await buildGraph(context, plan, constantBytes);
    return new Executor(context, plan, graph, performance.now() - t0);
  }

  get namedInputs() {
    return Object.fromEntries(this.plan.inputs.map((p, i) => [p.name, this.inputs[i]]));
  }

  get namedOutputs() {
    return Object.fromEntries(this.plan.outputs.map((p, i) => [p.name, this.outputs?.[i]]));
  }

  /**
   * Bind the inputs (in plan order: a view to write into this executor's own input tensor, copied before this
   * returns, or an MLTensor of this context to bind as it is), dispatch, then read every output — or, with
   * `keep`, hand back fresh MLTensors holding the outputs (from the context's pool: no readback, no allocation
   * in steady state; give each back with `recycle` when it is no longer needed).
   */
  run(inputData, keep = false) {
    if (this.destroyed) throw new Error("webinfer webnn: this executor was destroyed");
    if (inputData.length !== this.inputs.length) {
      throw new Error(`webinfer webnn: ${inputData.length} inputs given, the graph takes ${this.inputs.length}`);
    }
    const bound = {};
    const later = []; // [index, copied bytes] for inputs whose tensor is not made yet
    for (let i = 0; i < this.inputs.length; i++) {
      const item = inputData[i];
      const name = this.plan.inputs[i].name;
      if (isTensor(item)) {
        bound[name] = item;
        counters.bound += 1;
      } else if (this.inputs[i]) {
        this.context.writeTensor(this.inputs[i], item);
        counters.writes += 1;
        bound[name] = this.inputs[i];
      } else {
        later.push([i, asBytes(item).slice()]);
      }
    }
    if (!later.length && (keep || this.outputs)) return keep ? this.runKept(bound) : this.dispatchAndRead(bound);
    return (async () => {
      const made = await Promise.allSettled(later.map(([i]) => newTensor(this.context,
        { dataType: this.plan.inputs[i].dataType, shape: this.plan.inputs[i].shape, writable: true })));
      made.forEach((m, k) => { if (m.status === "fulfilled") this.inputs[later[k][0]] = m.value; });
      const failed = made.find((m) => m.status === "rejected");
      if (failed) throw failed.reason;
      for (const [i, bytes] of later) {
        this.context.writeTensor(this.inputs[i], bytes);
        counters.writes += 1;
        bound[this.plan.inputs[i].name] = this.inputs[i];
      }
      if (keep) return this.runKept(bound);
      if (!this.outputs) await this.makeOutputs();
      return this.dispatchAndRead(bound);
    })();
  }

  async makeOutputs() {
    const made = await Promise.allSettled(this.plan.outputs.map((p) => newTensor(this.context,
      { dataType: p.dataType, shape: p.shape, readable: true })));
    const failed = made.find((m) => m.status === "rejected");
    if (failed) {
      made.forEach((m) => dropTensor(m.value));
      throw failed.reason;
    }
    this.outputs = made.map((m) => m.value);
  }

  dispatchAndRead(bound) {
    this.context.dispatch(this.graph, bound, this.namedOutputs);
    counters.dispatches += 1;
    counters.reads += this.outputs.length;
    return Promise.all(this.outputs.map((t) => this.context.readTensor(t)));
  }

  async runKept(bound) {
    const made = await Promise.allSettled(this.plan.outputs.map((p) => takeTensor(this.context, p)));
    const failed = made.find((m) => m.status === "rejected");
    const outs = made.map((m) => m.value);
    if (failed) {
      outs.forEach((t) => t && recycle(this.context, t));
      throw failed.reason;
    }
    this.context.dispatch(this.graph, bound, Object.fromEntries(this.plan.outputs.map((p, i) => [p.name, outs[i]])));
    counters.dispatches += 1;
    return outs;
  }

  /** Run `repeat` times back to back and read the outputs once: {outputs, ms} (for timing). */
  async bench(inputData, repeat) {
    const t0 = performance.now();
    let outputs;
    for (let r = 0; r < repeat; r++) outputs = await this.run(inputData);
    return { outputs, ms: (performance.now() - t0) / repeat };
  }

  destroy() {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const t of [...this.inputs, ...(this.outputs ?? [])]) dropTensor(t);
    dropGraph(this.graph);
  }
}

/** Fetch a safetensors file; returns key -> Uint8Array view (the 8-byte header length, then JSON). */
export async function loadSafetensors(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`webinfer: fetching weights ${url} failed: HTTP ${response.status}`);
  return parseSafetensors(await response.arrayBuffer(), String(url));
}

export function parseSafetensors(buffer, where = "safetensors") {
  if (buffer.byteLength < 8) throw new Error(`webinfer: ${where} is ${buffer.byteLength} bytes, too short for a header`);
  const headerLength = Number(new DataView(buffer).getBigUint64(0, true));
  if (8 + headerLength > buffer.byteLength) throw new Error(`webinfer: ${where}: header of ${headerLength} bytes runs past the file`);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 8, headerLength)));
  const base = 8 + headerLength;
  return (key) => {
    const entry = header[key];
    if (!entry || key === "__metadata__") throw new Error(`webinfer: ${where} has no tensor '${key}'`);
    const [begin, end] = entry.data_offsets;
    if (base + end > buffer.byteLength || begin > end) throw new Error(`webinfer: ${where}: tensor '${key}' runs past the file`);
    return new Uint8Array(buffer, base + begin, end - begin);
  };
}

/** Create an MLContext from a GPUDevice or from options (Chromium's deviceType and the spec's keys). */
export async function createContext(options) {
  if (!globalThis.navigator?.ml) throw new Error("webinfer webnn: navigator.ml is missing (WebNN is not enabled in this browser)");
  const context = await navigator.ml.createContext(options);
  counters.contexts += 1;
  lostReasons.set(context, "");
  context.lost?.then((info) => lostReasons.set(context, String(info?.message || "no reason given")));
  return context;
}

/** Destroy a context made by createContext (once; later calls do nothing). */
export function destroyContext(context) {
  if (released.has(context)) return;
  drainPool(context);
  released.add(context);
  counters.contexts -= 1;
  context.destroy();
}

/** Why `context` was lost, or "" while it is fine (as of now: a loss that is still being reported shows later). */
export function contextLost(context) {
  return lostReasons.get(context) ?? "";
}

/** contextLost after one task, so a loss the browser is reporting right now (context.lost settling) is seen. */
export async function lostReason(context) {
  await new Promise((resolve) => setTimeout(resolve, 0));
  return contextLost(context);
}

/** A context's opSupportLimits() as JSON text (plain data for Python). */
export function limitsJSON(context) {
  return JSON.stringify(context.opSupportLimits());
}

/** MLContext.accelerated where the browser has it (current spec), else undefined (None in Python). */
export function contextAccelerated(context) {
  return typeof context.accelerated === "boolean" ? context.accelerated : undefined;
}

/** opSupportLimits() JSON of a fresh context made with `options` (then destroyed), or undefined if none can be made. */
export async function limitsFor(options) {
  try {
    const context = await createContext(options);
    try {
      return limitsJSON(context);
    } finally {
      destroyContext(context);
    }
  } catch (e) {
    return undefined;
  }
}

// Behaviour opSupportLimits() does not describe, found once per context: graphs the builder accepts but
// build() refuses, and ops that build but compute wrong values (checked on known inputs).
const POOL4 = { dataType: "float32", shape: [1, 4, 4, 1] };
const BUILD_PROBES = {
  "pad.edge": (b) => b.pad(b.input("x", { dataType: "float32", shape: [3, 3] }), [1, 1], [1, 1], { mode: "edge" }),
  "pad.reflection": (b) => b.pad(b.input("x", { dataType: "float32", shape: [3, 3] }), [1, 1], [1, 1], { mode: "reflection" }),
  "maxPool2d.dilations": (b) => b.maxPool2d(b.input("x", POOL4), { windowDimensions: [2, 2], dilations: [2, 2], layout: "nhwc" }),
  "averagePool2d.dilations": (b) => b.averagePool2d(b.input("x", POOL4), { windowDimensions: [2, 2], dilations: [2, 2], layout: "nhwc" }),
};
// op.dataType -> [a, b, expected op(a, b)]
const VALUE_PROBES = {
  "add.int32": [[7, -7, 6], [2, 2, -3], [9, -5, 3]],
  "sub.int32": [[7, -7, 6], [2, 2, -3], [5, -9, 9]],
  "mul.int32": [[7, -7, 6], [2, 2, -3], [14, -14, -18]],
  "max.int32": [[7, -7, 6], [2, 2, -3], [7, 2, 6]],
  "min.int32": [[7, -7, 6], [2, 2, -3], [2, -7, -3]],
  "div.int32": [[7, -7, 6], [2, 2, -3], [3, -3, -2]],
  "pow.int32": [[2, -3, 5, 1], [3, 2, 0, -1], [8, 9, 1, 1]],
};

// "sqrt.accuracy": is float32 sqrt correctly rounded, +inf included? (inputs where TFLite was seen 2 ULP off,
// and one where it is ~1.5x too large). A failure is not a refusal: the lowering then refines sqrt.
const SQRT_PROBE = [6.019316789864253e-37, 7.4744502264876236e-37, 2.685952796409094e-33, 3e38, Infinity, 2, 0];

async function sqrtProbe(context) {
  const x = new Float32Array(SQRT_PROBE);
  const want = Array.from(x, (v) => Math.fround(Math.sqrt(v)));
  const desc = { dataType: "float32", shape: [x.length] };
  const builder = new MLGraphBuilder(context);
  const graph = await builder.build({ y: builder.sqrt(builder.input("x", desc)) });
  counters.graphs += 1;
  const made = await Promise.allSettled([newTensor(context, { ...desc, writable: true }),
    newTensor(context, { ...desc, readable: true })]);
  const [tx, ty] = made.map((m) => m.value);
  try {
    const failed = made.find((m) => m.status === "rejected");
    if (failed) throw failed.reason;
    context.writeTensor(tx, x);
    context.dispatch(graph, { x: tx }, { y: ty });
    const got = Array.from(new Float32Array(await context.readTensor(ty)));
    const wrong = got.map((v, i) => [x[i], v, want[i]]).filter(([, v, w]) => !Object.is(v, w));
    if (!wrong.length) return null;
    return "sqrt(float32) is not correctly rounded here: " +
      wrong.map(([xi, v, w]) => `sqrt(${xi}) gave ${v}, not ${w}`).join("; ");
  } finally {
    for (const t of [tx, ty]) dropTensor(t);
    dropGraph(graph);
  }
}

async function valueProbe(context, name, [a, b, want]) {
  const [op, dataType] = name.split(".");
  const desc = { dataType, shape: [a.length] };
  const builder = new MLGraphBuilder(context);
  const graph = await builder.build({ y: builder[op](builder.input("a", desc), builder.input("b", desc)) });
  counters.graphs += 1;
  const made = await Promise.allSettled([
    newTensor(context, { ...desc, writable: true }), newTensor(context, { ...desc, writable: true }),
    newTensor(context, { ...desc, readable: true }),
  ]);
  const [ta, tb, ty] = made.map((m) => m.value);
  try {
    const failed = made.find((m) => m.status === "rejected");
    if (failed) throw failed.reason;
    context.writeTensor(ta, typedView(dataType, new Int32Array(a)));
    context.writeTensor(tb, typedView(dataType, new Int32Array(b)));
    context.dispatch(graph, { a: ta, b: tb }, { y: ty });
    const got = Array.from(typedView(dataType, await context.readTensor(ty)));
    if (got.join() === want.join()) return null;
    return `${op}(${dataType}) computes wrong values here: ${op}([${a}], [${b}]) gave [${got}], not [${want}]`;
  } finally {
    for (const t of [ta, tb, ty]) dropTensor(t);
    dropGraph(graph);
  }
}

/** JSON {feature: null (works) | why not} for every build and value probe (run concurrently). */
export async function probeFeatures(context) {
  const failure = (e) => `${e.name ?? "Error"}: ${e.message ?? e}`;
  const builds = Object.entries(BUILD_PROBES).map(async ([name, make]) => {
    const builder = new MLGraphBuilder(context);
    try {
      const graph = await builder.build({ y: make(builder) });
      graph.destroy();
      return [name, null];
    } catch (e) {
      return [name, failure(e)];
    }
  });
  const values = Object.entries(VALUE_PROBES).map(async ([name, probe]) => {
    try {
      return [name, await valueProbe(context, name, probe)];
    } catch (e) {
      return [name, failure(e)];
    }
  });
  const accuracy = (async () => {
    try {
      return ["sqrt.accuracy", await sqrtProbe(context)];
    } catch (e) {
      return ["sqrt.accuracy", null]; // no float32 sqrt to probe: the limits say so where it matters
    }
  })();
  return JSON.stringify(Object.fromEntries(await Promise.all([...builds, ...values, accuracy])));
}

/** A GPUDevice of the default adapter (for createContext(gpuDevice) when no WebGPU session lends one). */
export async function requestGPUDevice() {
  if (!globalThis.navigator?.gpu) throw new Error("webinfer webnn: navigator.gpu is missing (no WebGPU in this browser)");
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error("webinfer webnn: navigator.gpu.requestAdapter() gave no adapter");
  return adapter.requestDevice();
}

/**
 * Does MLTensor -> GPUBuffer export work here? Tries createExportableTensor + exportToGPU on a
 * 4-float tensor, copies the exported buffer to a mappable one and checks the values. Returns
 * {ok, reason}; the reason is the browser's own error when it fails.
 */
export async function probeInterop(context, device) {
  if (typeof context.createExportableTensor !== "function" || typeof context.exportToGPU !== "function") {
    return { ok: false, reason: "MLContext has no createExportableTensor/exportToGPU" };
  }
  let tensor = null;
  let exported = null;
  let staging = null;
  try {
    tensor = await context.createExportableTensor({ dataType: "float32", shape: [4], readable: true, writable: true }, device);
    context.writeTensor(tensor, new Float32Array([1, 2, 3, 4]));
    exported = await context.exportToGPU(tensor);
    staging = device.createBuffer({ size: 16, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
    const encoder = device.createCommandEncoder();
    encoder.copyBufferToBuffer(exported, 0, staging, 0, 16);
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const got = Array.from(new Float32Array(staging.getMappedRange().slice(0)));
    const ok = got.join() === "1,2,3,4";
    return { ok, reason: ok ? "exportToGPU works: WebGPU read the MLTensor's data" : `exportToGPU gave a buffer holding ${got}` };
  } catch (e) {
    return { ok: false, reason: `${e.name ?? "Error"}: ${e.message ?? e}` };
  } finally {
    staging?.destroy();
    exported?.destroy();
    tensor?.destroy();
  }
}
