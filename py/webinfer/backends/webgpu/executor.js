// webinfer's WebGPU executor. Python plans everything (WGSL, buffers, bindings, workgroup counts,
// uniforms); this module builds it once per plan and then runs it: one call per run, one command
// encoder, one compute pass, one queue.submit, one mapAsync for all outputs.

const STORAGE = 0x80, UNIFORM = 0x40, COPY_SRC = 0x04, COPY_DST = 0x08, MAP_READ = 0x01;

// Counters a test can read: GPU buffers alive, their bytes, submits, pipelines actually compiled, bind groups made.
export const counters = { buffers: 0, bytes: 0, submits: 0, pipelinesCompiled: 0, bindGroups: 0 };

const pipelineCache = new WeakMap(); // GPUDevice -> Map(WGSL source -> Promise<GPUComputePipeline>)

const LIMITS = [
  "maxStorageBufferBindingSize", "maxBufferSize", "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupStorageSize", "maxComputeInvocationsPerWorkgroup", "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupsPerDimension", "maxUniformBufferBindingSize", "maxUniformBuffersPerShaderStage",
];

/** Request an adapter and a device with the adapter's full limits (and shader-f16 when asked and present). */
export async function acquireDevice(powerPreference, wantF16) {
  if (!globalThis.navigator?.gpu) throw new Error("WebGPU is not available here: navigator.gpu is missing");
  const adapter = await navigator.gpu.requestAdapter({ powerPreference });
  if (!adapter) throw new Error("navigator.gpu.requestAdapter() found no WebGPU adapter");
  const requiredLimits = {};
  for (const name of LIMITS) if (adapter.limits[name] !== undefined) requiredLimits[name] = adapter.limits[name];
  const f16 = Boolean(wantF16) && adapter.features.has("shader-f16");
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures: f16 ? ["shader-f16"] : [], label: "webinfer" });
  const state = { lost: "" };
  device.lost.then((info) => { state.lost = `${info.reason || "unknown"}: ${info.message || "no message"}`; });
  const info = adapter.info || {};
  const facts = {
    adapter: { vendor: info.vendor || "", architecture: info.architecture || "", device: info.device || "",
               description: info.description || "" },
    isFallbackAdapter: Boolean(adapter.isFallbackAdapter ?? info.isFallbackAdapter),
    features: [...adapter.features].sort(),
    limits: Object.fromEntries(LIMITS.filter((n) => device.limits[n] !== undefined).map((n) => [n, device.limits[n]])),
    f16,
  };
  return { device, state, facts: JSON.stringify(facts) };
}

function makeBuffer(device, size, usage, label) {
  const buffer = device.createBuffer({ size, usage, label });
  counters.buffers += 1;
  counters.bytes += size;
  return buffer;
}

/** Destroy a buffer this module made (kept outputs come back here when their tensor is released). */
export function destroyBuffer(buffer) {
  counters.buffers -= 1;
  counters.bytes -= buffer.size;
  buffer.destroy();
}

/** Make a constant's buffer and fill it (once per session; every plan of the session binds the same one). */
export function makeConstant(device, bytes, label) {
  const buffer = makeBuffer(device, Math.max(16, Math.ceil(bytes.byteLength / 16) * 16), STORAGE | COPY_SRC | COPY_DST,
    `webinfer const ${label}`);
  device.queue.writeBuffer(buffer, 0, bytes);
  return buffer;
}

async function pipeline(device, spec, made) {
  let cache = pipelineCache.get(device);
  if (!cache) pipelineCache.set(device, (cache = new Map()));
  let p = cache.get(spec.code);
  if (!p) {
    made.count += 1;
    p = (async () => {
      const module = device.createShaderModule({ code: spec.code, label: spec.label });
      try {
        const made = await device.createComputePipelineAsync({ layout: "auto", compute: { module, entryPoint: "main" }, label: spec.label });
        counters.pipelinesCompiled += 1;
        return made;
      } catch (e) {
        const info = await module.getCompilationInfo();
        const lines = info.messages.map((m) => `  line ${m.lineNum}:${m.linePos} ${m.type}: ${m.message}`);
        throw new Error(`node ${spec.label}: the WGSL kernel did not compile: ${e.message}\n${lines.join("\n")}`);
      }
    })();
    cache.set(spec.code, p);
    p.catch(() => cache.delete(spec.code));
  }
  return p;
}

async function scoped(device, what, fn) {
  device.pushErrorScope("out-of-memory");
  device.pushErrorScope("validation");
  let value, thrown;
  try { value = fn(); } catch (e) { thrown = e; }
  const validation = await device.popErrorScope();
  const oom = await device.popErrorScope();
  if (thrown) throw thrown;
  const err = validation || oom;
  if (err) throw new Error(`${what}: ${oom && !validation ? "out of GPU memory: " : ""}${err.message}`);
  return value;
}

class Executor {
  constructor(device, state, spec, consts) {
    this.device = device;
    this.state = state;
    this.spec = spec;
    this.consts = consts; // the session's constant buffers, by plan buffer index (not this executor's to free)
    this.buffers = [];
    this.made = { count: 0 }; // pipelines this build compiled (the rest came from the page's cache)
    this.staging = []; // free readback buffers (more than one only while runs overlap)
    this.submits = 0;
    this.closed = false;
    this.last = { encodeMs: 0, gpuMs: 0, readMs: 0, totalMs: 0 };
  }

  async build(uniforms) {
    const d = this.device, spec = this.spec;
    await scoped(d, "creating GPU buffers", () => {
      spec.buffers.forEach((b, i) => {
        if (b.kind === "const") {
          if (!this.consts[i]) throw new Error(`constant ${b.name} has no buffer`);
          this.buffers.push(this.consts[i]);
        } else if (b.kind === "inout") {
          this.buffers.push(null); // made only when a run needs the plan's own copy (see run)
        } else {
          this.buffers.push(makeBuffer(d, b.size, STORAGE | COPY_SRC | COPY_DST, `webinfer ${b.kind} ${i}`));
        }
      });
      this.uniform = makeBuffer(d, uniforms.byteLength, UNIFORM | COPY_DST, "webinfer uniforms");
      d.queue.writeBuffer(this.uniform, 0, uniforms);
    });
    const pipelines = await Promise.all(spec.pipelines.map((p) => pipeline(d, p, this.made)));
    this.passes = [];
    for (const x of spec.dispatches) {
      const p = pipelines[x.pipeline];
      const inout = x.bindings.some((b) => spec.buffers[b].kind === "inout");
      const pass = { pipeline: p, group: null, grid: x.grid, spec: x, inout, key: null };
      if (!inout) pass.group = await scoped(d, `node ${x.label}: binding its buffers`, () => this.bindGroup(pass, this.buffers));
      this.passes.push(pass);
    }
  }

  bindGroup(pass, bufs) {
    const x = pass.spec;
    const entries = [{ binding: 0, resource: { buffer: this.uniform, offset: x.uniform[0], size: x.uniform[1] } }];
    x.bindings.forEach((b, i) => entries.push({ binding: i + 1, resource: { buffer: bufs[b] } }));
    counters.bindGroups += 1;
    this.bindGroups = (this.bindGroups || 0) + 1;
    return this.device.createBindGroup({ label: x.label, layout: pass.pipeline.getBindGroupLayout(0), entries });
  }

  /** The plan's own buffer for an in-place input (made on first use). */
  own(i) {
    if (!this.buffers[i]) {
      this.buffers[i] = makeBuffer(this.device, this.spec.buffers[i].size, STORAGE | COPY_SRC | COPY_DST, `webinfer inout ${i}`);
    }
    return this.buffers[i];
  }

  /** Bind groups of the passes that touch in-place buffers, for this run's buffers (kept while they stay the same:
   *  steady decode feeds the same donated cache buffers every step, so it makes none). */
  bindInout(bufs) {
    for (const pass of this.passes) {
      if (!pass.inout) continue;
      const key = pass.spec.bindings.map((b) => bufs[b]);
      if (pass.key && pass.key.every((b, i) => b === key[i])) continue;
      pass.group = this.bindGroup(pass, bufs);
      pass.key = key;
    }
  }

  check() {
    if (this.state.lost) throw new Error(`webinfer: the GPU device was lost (${this.state.lost})`);
    if (this.closed) throw new Error("webinfer: this executor was destroyed");
  }

  /** Upload a constant's bytes (once, at compile). */
  writeConstant(buffer, bytes) {
    this.device.queue.writeBuffer(this.buffers[buffer], 0, bytes);
  }

  /** One run: inputs are Uint8Arrays (written now, synchronously) or GPUBuffers (copied on the GPU).
   *  Resolves to one Uint8Array of every output (at the plan's offsets), or with `keep` to new GPUBuffers.
   *  An input the plan updates in place (a KV cache) is, with `keep`, written into a fresh buffer that becomes
   *  the output (one copy, no copy back); where `donate[i]`, the GPUBuffer given for it is that output itself,
   *  updated in place (no copy at all: the caller gives it up). */
  run(inputs, keep, donate) {
    this.check();
    const t0 = performance.now();
    const d = this.device, q = d.queue, spec = this.spec;
    d.pushErrorScope("validation");
    const enc = d.createCommandEncoder({ label: "webinfer run" });
    const bufs = this.buffers.slice();
    const fresh = []; // buffers made for this run's in-place outputs (freed if the run fails)
    spec.inputs.forEach((slot, i) => {
      const x = inputs[i];
      let dst;
      if (slot.output === undefined) dst = bufs[slot.buffer];
      else if (!keep) dst = this.own(slot.buffer);
      else if (donate && donate[i] && x instanceof GPUBuffer) { bufs[slot.buffer] = x; return; }
      else fresh.push((dst = makeBuffer(d, spec.buffers[slot.buffer].size, STORAGE | COPY_SRC | COPY_DST, "webinfer kept output")));
      bufs[slot.buffer] = dst;
      if (x instanceof GPUBuffer) enc.copyBufferToBuffer(x, 0, dst, 0, slot.bytes);
      else q.writeBuffer(dst, 0, x);
    });
    this.bindInout(bufs);
    const pass = enc.beginComputePass({ label: "webinfer" });
    for (const x of this.passes) {
      pass.setPipeline(x.pipeline);
      pass.setBindGroup(0, x.group);
      pass.dispatchWorkgroups(x.grid[0], x.grid[1], x.grid[2]);
    }
    pass.end();
    let staging = null, kept = null;
    if (keep) {
      kept = spec.outputs.map((o) => {
        if (o.input !== undefined) return bufs[o.buffer]; // updated in place: already the output's own buffer
        const b = makeBuffer(d, Math.max(o.bytes, 4), STORAGE | COPY_SRC | COPY_DST, "webinfer kept output");
        fresh.push(b);
        enc.copyBufferToBuffer(bufs[o.buffer], 0, b, 0, o.bytes);
        return b;
      });
    } else {
      staging = this.staging.pop() || makeBuffer(d, spec.staging, MAP_READ | COPY_DST, "webinfer readback");
      for (const o of spec.outputs) enc.copyBufferToBuffer(bufs[o.buffer], 0, staging, o.offset, o.bytes);
    }
    q.submit([enc.finish()]);
    this.submits += 1;
    counters.submits += 1;
    const errors = d.popErrorScope();
    const t1 = performance.now();
    return (async () => {
      const err = await errors;
      if (err) {
        if (staging) this.staging.push(staging);
        fresh.forEach(destroyBuffer);
        throw new Error(`validation error while running the plan: ${err.message}`);
      }
      let out = kept;
      if (keep) {
        try {
          await q.onSubmittedWorkDone();
        } catch (e) {
          fresh.forEach(destroyBuffer);
          this.check();
          throw e;
        }
      } else {
        try {
          await staging.mapAsync(MAP_READ);
        } catch (e) { // e.g. the device was lost: the readback buffer goes back to the pool (or is freed)
          if (this.closed) destroyBuffer(staging);
          else this.staging.push(staging);
          this.check();
          throw e;
        }
        const t2 = performance.now();
        out = new Uint8Array(staging.getMappedRange(0, spec.staging)).slice();
        staging.unmap();
        this.staging.push(staging);
        this.last.readMs = performance.now() - t2;
      }
      const t3 = performance.now();
      this.last.encodeMs = t1 - t0;
      this.last.gpuMs = t3 - t1 - (keep ? 0 : this.last.readMs);
      this.last.totalMs = t3 - t0;
      return out;
    })();
  }

  /** Debug: time each dispatch alone (after one full run has filled every buffer), `repeats` times; the
   *  median ms per dispatch, as JSON [{label, ms}]. Each timing is one dispatch in its own submit, waited
   *  with onSubmittedWorkDone, so it includes a fixed submit cost (measured with an empty submit, subtracted). */
  async profile(inputs, repeats) {
    await this.run(inputs, false);
    const q = this.device.queue;
    const once = async (x) => {
      const enc = this.device.createCommandEncoder();
      if (x) {
        const pass = enc.beginComputePass();
        pass.setPipeline(x.pipeline);
        pass.setBindGroup(0, x.group);
        pass.dispatchWorkgroups(x.grid[0], x.grid[1], x.grid[2]);
        pass.end();
      }
      const t = performance.now();
      q.submit([enc.finish()]);
      await q.onSubmittedWorkDone();
      return performance.now() - t;
    };
    const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const empty = [];
    for (let r = 0; r < Math.max(3, repeats); r++) empty.push(await once(null));
    const base = median(empty);
    const out = [];
    for (let i = 0; i < this.passes.length; i++) {
      const ts = [];
      for (let r = 0; r < repeats; r++) ts.push(await once(this.passes[i]));
      const x = this.spec.dispatches[i];
      out.push({ label: x.label, kind: x.kind, ms: Math.max(0, median(ts) - base), grid: x.grid });
    }
    return JSON.stringify(out);
  }

  /** Timings of the last run in ms: [encode, gpu (submit to mapped), read, total]. */
  timings() {
    return [this.last.encodeMs, this.last.gpuMs, this.last.readMs, this.last.totalMs];
  }

  stats() {
    const own = this.buffers.filter((b, i) => b && this.spec.buffers[i].kind !== "const");
    return JSON.stringify({ submits: this.submits, buffers: own.length + 1 + this.staging.length,
                            pipelines_created: this.made.count, bind_groups: this.bindGroups || 0 });
  }

  destroy() {
    if (this.closed) return;
    this.closed = true;
    this.buffers.forEach((b, i) => { if (b && this.spec.buffers[i].kind !== "const") destroyBuffer(b); });
    for (const b of this.staging) destroyBuffer(b);
    if (this.uniform) destroyBuffer(this.uniform);
    this.buffers = [];
    this.staging = [];
  }
}

/** Build an executor for a plan: buffers, uniforms, pipelines (async, cached by source), bind groups. */
export async function createExecutor(device, state, specJson, uniforms, consts) {
  const ex = new Executor(device, state, JSON.parse(specJson), consts);
  if (state.lost) throw new Error(`webinfer: the GPU device was lost (${state.lost})`);
  try {
    await ex.build(uniforms);
  } catch (e) {
    ex.destroy();
    throw e;
  }
  return ex;
}

/** Read a kept output buffer back (one submit of its own). */
export async function readBuffer(device, buffer, size) {
  const staging = makeBuffer(device, Math.max(4, size), MAP_READ | COPY_DST, "webinfer read");
  try {
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(buffer, 0, staging, 0, size);
    device.queue.submit([enc.finish()]);
    counters.submits += 1;
    await staging.mapAsync(MAP_READ);
    const out = new Uint8Array(staging.getMappedRange(0, size)).slice();
    staging.unmap();
    return out;
  } finally {
    destroyBuffer(staging);
  }
}

export function countersJSON() {
  return JSON.stringify(counters);
}
