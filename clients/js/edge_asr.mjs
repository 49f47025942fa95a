// edge-asr client core: the one JS copy of the runtime's rules for audio-in streaming artifacts
// (docs/formats.md, "Audio-in artifacts"), shared by the Node client (clients/node) and the web
// page (clients/web). No dependencies: the caller passes its onnxruntime module (`ort`:
// onnxruntime-node or onnxruntime-web), which both expose `Tensor` and `InferenceSession`.
//
// Rules, the same as runtime/decoding.py + runtime/text.py (greedy CTC):
//   per frame take the best label; collapse repeats; drop the blank; map ids to symbols;
//   tidy spaces: single spaces, none at either end.
// Stream loop, as runtime/recognizer.py runs an audio-in streaming artifact:
//   feed chunks of `stream.audio.chunk_samples` samples (the last one zero-padded) with every
//   state of `stream.states` (zeros at the start, each call's outputs fed back); drop the output
//   frames of the first `warmup_calls` calls; after the audio ends feed zero chunks until there
//   are output_length(num_frames(N)) frames, and keep exactly those.

export class EdgeAsrError extends Error {}

// ------------------------------------------------------------------------------------ text
/** Greedy CTC: collapse repeats, drop blanks (ids of one whole utterance, one per frame). */
export function collapse(bestIds, blank, previous = -1) {
  const out = [];
  for (const id of bestIds) {
    if (id !== previous && id !== blank) out.push(id);
    previous = id;
  }
  return out;
}

/** Label ids (blanks skipped) to text: single spaces, none at either end. */
export function labelsText(ids, labels) {
  let s = '';
  for (const id of ids) if (id !== labels.blank) s += labels.symbols[id];
  return s.split(/\s+/).filter(Boolean).join(' ');
}

/** Index of the largest value in each row of a (frames, classes) row-major array. */
export function argmaxRows(data, classes) {
  const frames = Math.floor(data.length / classes);
  const best = new Array(frames);
  for (let t = 0; t < frames; t++) {
    let k = 0;
    let v = data[t * classes];
    for (let c = 1; c < classes; c++) {
      const x = data[t * classes + c];
      if (x > v) { v = x; k = c; }
    }
    best[t] = k;
  }
  return best;
}

/** Incremental greedy decoder: push per-frame best ids, read `text` at any time. */
export class GreedyDecoder {
  constructor(labels) { this.labels = labels; this.reset(); }
  reset() { this.ids = []; this.previous = -1; this.best = []; }
  push(bestIds) {
    for (const id of bestIds) {
      this.best.push(id);
      if (id !== this.previous && id !== this.labels.blank) this.ids.push(id);
      this.previous = id;
    }
  }
  get frames() { return this.best.length; }
  get text() { return labelsText(this.ids, this.labels); }
  /** Text of the first `n` frames only. */
  textOf(n) { return labelsText(collapse(this.best.slice(0, n), this.labels.blank), this.labels); }
}

// ------------------------------------------------------------------------------------ frame math
/** One convolution's output length (runtime/lengths.py cnn_output_length). */
export function cnnOutputLength(n, kernel, padding, stride, dilation = 1) {
  const dilated = kernel + (kernel - 1) * (dilation - 1);
  let length;
  if (padding === 'same' || padding === 'causal') length = n;
  else if (padding === 'valid') length = n - dilated + 1;
  else if (padding === 'full') length = n + dilated - 1;
  else throw new EdgeAsrError(`unknown padding ${padding}`);
  return Math.max(0, Math.floor((length + stride - 1) / stride));
}

/** Model frames from `n` feature frames (the bundle's `output_length` rule). */
export function outputLength(rule, n) {
  for (const l of rule.layers || []) n = cnnOutputLength(n, l.kernel, l.padding, l.stride, l.dilation ?? 1);
  return n;
}

/** Feature frames of `n` samples (`stream.audio`: frame_window, frame_step, pad_last_frame). */
export function numFrames(audio, n) {
  const w = audio.frame_window, h = audio.frame_step;
  if (audio.pad_last_frame) return n <= 0 ? 0 : 1 + Math.max(0, Math.ceil((n - w) / h));
  return n < w ? 0 : Math.floor((n - w) / h) + 1;
}

// ------------------------------------------------------------------------------------ WAV
/** 16-bit PCM mono WAV bytes (Uint8Array/ArrayBuffer) -> {sampleRate, samples: Int16Array}.
 * Anything else (not RIFF/WAVE, another encoding, stereo, 8/24/32-bit) throws EdgeAsrError. */
export function parseWav(bytes) {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const tag = (o) => String.fromCharCode(u8[o], u8[o + 1], u8[o + 2], u8[o + 3]);
  if (u8.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new EdgeAsrError('not a WAV file (no RIFF/WAVE header)');
  let fmt = null;
  for (let o = 12; o + 8 <= u8.length;) {
    const id = tag(o), size = dv.getUint32(o + 4, true), body = o + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > u8.length) throw new EdgeAsrError('WAV fmt chunk is truncated');
      fmt = { format: dv.getUint16(body, true), channels: dv.getUint16(body + 2, true),
              rate: dv.getUint32(body + 4, true), bits: dv.getUint16(body + 14, true) };
      if (fmt.format === 0xfffe && size >= 40) fmt.format = dv.getUint16(body + 24, true);
    } else if (id === 'data') {
      if (!fmt) throw new EdgeAsrError('WAV data chunk before its fmt chunk');
      if (fmt.format !== 1 || fmt.bits !== 16) throw new EdgeAsrError(`WAV must be 16-bit PCM, got format ${fmt.format} with ${fmt.bits} bits`);
      if (fmt.channels !== 1) throw new EdgeAsrError(`WAV must be mono, got ${fmt.channels} channels`);
      const n = Math.floor(Math.min(size, u8.length - body) / 2);
      const samples = new Int16Array(n);
      for (let i = 0; i < n; i++) samples[i] = dv.getInt16(body + 2 * i, true);
      return { sampleRate: fmt.rate, samples };
    }
    o = body + size + (size & 1);
  }
  throw new EdgeAsrError('WAV has no data chunk');
}

/** int16 PCM -> float32 in [-1, 1) (divided by 32768, as runtime/recognizer.py does). */
export function int16ToFloat(x) {
  const y = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] / 32768;
  return y;
}

// ------------------------------------------------------------------------------------ bundle
/** The usable audio-in streaming ONNX artifacts of a bundle.json, smallest first. */
export function audioStreamArtifacts(bundle) {
  return (bundle.artifacts || [])
    .filter((a) => a.format === 'onnx' && a.streaming && a.audio && a.stream?.audio && a.parity?.passed)
    .sort((a, b) => a.size_bytes - b.size_bytes || a.name.localeCompare(b.name));
}

/** The artifact `name` (or the smallest usable audio-in streaming ONNX one), or an error. */
export function pickArtifact(bundle, name) {
  const ok = audioStreamArtifacts(bundle);
  if (name) {
    const a = (bundle.artifacts || []).find((x) => x.name === name);
    if (!a) throw new EdgeAsrError(`no artifact ${name} in the bundle`);
    if (!ok.includes(a)) throw new EdgeAsrError(`artifact ${name} is not a usable audio-in streaming ONNX artifact`);
    return a;
  }
  if (!ok.length) throw new EdgeAsrError('the bundle has no audio-in streaming ONNX artifact that passed the gate');
  return ok[0];
}

/** Float samples as int16 PCM, as runtime/streaming.py as_pcm: round half to even, then clip. */
export function toInt16(x) {
  return Int16Array.from(x, (v) => {
    const y = v * 32768;
    let r = Math.round(y);
    if (r - y === 0.5 && r % 2 !== 0) r -= 1;  // Math.round rounds halves up; numpy to even
    return Math.max(-32768, Math.min(32767, r));
  });
}

const TYPED = { float32: Float32Array, int32: Int32Array, int64: BigInt64Array, int16: Int16Array,
                int8: Int8Array, uint8: Uint8Array, bool: Uint8Array, float64: Float64Array };

function zeros(ort, dtype, shape) {
  const T = TYPED[dtype];
  if (!T) throw new EdgeAsrError(`state dtype ${dtype} is not supported`);
  return new ort.Tensor(dtype, new T(shape.reduce((a, b) => a * b, 1)), shape);
}

// ------------------------------------------------------------------------------------ stream
/** One utterance stream over an `ort.InferenceSession` of an audio-in streaming artifact. */
export class AudioStreamRunner {
  constructor(ort, session, bundle, artifact) {
    this.ort = ort;
    this.session = session;
    this.artifact = artifact;
    this.labels = bundle.labels;
    this.rule = bundle.output_length;
    this.spec = artifact.stream;
    this.audio = artifact.stream.audio;
    this.dtype = artifact.audio.dtype; // 'float32' in [-1, 1) or 'int16'
    this.input = artifact.inputs[0].name;
    this.probs = artifact.outputs[0].name;
    this.classes = artifact.outputs[0].shape.at(-1);
    this.decoder = new GreedyDecoder(this.labels);
    this.reset();
  }

  reset() {
    this.states = Object.fromEntries(this.spec.states.map((s) => [s.input, zeros(this.ort, s.dtype, s.shape)]));
    this.pending = new Float32Array(0); // samples not yet sent
    this.samplesIn = 0;                   // real samples accepted
    this.last = 0;                        // the last real sample (end padding)
    this.calls = 0;
    this.chunkMs = [];                    // time of each call
    this.decoder.reset();
  }

  /** One call on silence with fresh states, results discarded (first-run initialization). */
  async warmup() {
    const n = this.audio.chunk_samples;
    const data = this.dtype === 'int16' ? new Int16Array(n) : new Float32Array(n);
    const states = Object.fromEntries(this.spec.states.map((s) => [s.input, zeros(this.ort, s.dtype, s.shape)]));
    await this.session.run({ [this.input]: new this.ort.Tensor(this.dtype, data, [1, n]), ...states });
  }

  get partial() { return this.decoder.text; }
  get frames() { return this.decoder.frames; }

  async call(chunk, keep = Infinity) {
    const n = this.audio.chunk_samples;
    const data = this.dtype === 'int16' ? toInt16(chunk) : chunk;
    const feeds = { [this.input]: new this.ort.Tensor(this.dtype, data, [1, n]), ...this.states };
    const t0 = performance.now();
    const out = await this.session.run(feeds);
    this.chunkMs.push(performance.now() - t0);
    for (const s of this.spec.states) this.states[s.input] = out[s.output];
    if (this.calls++ < this.audio.warmup_calls) return;
    const best = argmaxRows(out[this.probs].data, this.classes);
    this.decoder.push(best.slice(0, Math.max(0, keep - this.frames)));
  }

  /** Add samples at the bundle's rate (float in [-1, 1]); runs every full chunk. */
  async acceptWaveform(samples) {
    const n = this.audio.chunk_samples;
    const buf = new Float32Array(this.pending.length + samples.length);
    buf.set(this.pending);
    buf.set(samples, this.pending.length);
    this.samplesIn += samples.length;
    if (samples.length) this.last = samples[samples.length - 1];
    let o = 0;
    for (; o + n <= buf.length; o += n) await this.call(buf.subarray(o, o + n));
    this.pending = buf.slice(o);
    return this.partial;
  }

  /** End of the audio: pad, run until output_length(num_frames(N)) frames, return the text.
   * Padding sample j (0, 1, ...) after the last real sample x is x * c^(j+1), c =
   * stream.audio.pad_preemphasis (zeros when c is 0): zero after the graph's pre-emphasis. */
  async finish() {
    const n = this.audio.chunk_samples, c = this.audio.pad_preemphasis ?? 0;
    const need = outputLength(this.rule, numFrames(this.audio, this.samplesIn));
    const limit = this.calls + this.audio.warmup_calls + need + 1; // a graph that emits no frames
    let buf = this.pending, padded = 0;
    while (this.frames < need && this.calls < limit) {
      const chunk = new Float32Array(n);
      chunk.set(buf);
      if (c && this.last) for (let i = buf.length; i < n; i++) chunk[i] = this.last * c ** (++padded);
      else padded += n - buf.length;
      buf = buf.subarray(0, 0);
      await this.call(chunk, need);
    }
    const frames = Math.min(need, this.frames);
    const text = this.decoder.textOf(frames);
    const chunkMs = this.chunkMs;
    this.reset();
    return { text, frames, chunkMs };
  }
}

/** Percentile of a list of numbers (linear interpolation, as numpy's default). */
export function percentile(xs, p) {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * p / 100, lo = Math.floor(i), hi = Math.ceil(i);
  return s[lo] + (s[hi] - s[lo]) * (i - lo);
}

// ------------------------------------------------------------------------------------ resampling
// A port of runtime/audio.py's Resampler (same kernels, same alignment, same streaming rule), so
// the page resamples the microphone exactly as the Python runtime would (within float rounding).
// Polyphase for the common ratios (48k, 44.1k, 22.05k, 8k -> 16k): a Kaiser-windowed sinc, 60 dB
// stopband from the lower Nyquist, passband flat to 90% of it. Direct (co-prime pairs such as
// 44101 -> 16000): the same sinc at each output instant, each row of weights normalized to 1.
const ATTEN = 60, KAISER_BETA = 0.1102 * (ATTEN - 8.7), MAX_MATRIX = 4000000;

function sinc(x) { const y = Math.PI * (x === 0 ? 1e-20 : x); return Math.sin(y) / y; }

/** Modified Bessel function of order 0 (power series; float64-accurate for these betas). */
export function besselI0(x) {
  let sum = 1, term = 1;
  for (let k = 1; k < 500; k++) { term *= (x / (2 * k)) ** 2; sum += term; if (term < 1e-17 * sum) break; }
  return sum;
}

function gcd(a, b) { while (b) [a, b] = [b, a % b]; return a; }

/** The polyphase matrix of runtime/audio.py, stored per phase: y[q*up + r] = sum over its
 * non-zero taps s of x[q*down + s0 + s] * G[s][r]. Returns {rows, s0, phases: [{lo, taps}]}. */
function polyphase(up, down) {
  const maxRate = Math.max(up, down), cutoff = 0.95 / maxRate, transition = 0.1 / maxRate;
  const half = Math.ceil((ATTEN - 7.95) / (2.285 * Math.PI * transition) / 2);
  const len = 2 * half + 1, alpha = (len - 1) / 2, i0b = besselI0(KAISER_BETA);
  const h = new Float64Array(len);
  let sum = 0;
  for (let i = 0; i < len; i++) {
    const m = i - half, n = (i - alpha) / alpha;
    h[i] = cutoff * sinc(cutoff * m) * (besselI0(KAISER_BETA * Math.sqrt(1 - n * n)) / i0b);
    sum += h[i];
  }
  for (let i = 0; i < len; i++) h[i] *= up / sum;
  const s0 = -Math.floor(half / up), sMax = Math.floor(((up - 1) * down + half) / up);
  const phases = [];
  for (let r = 0; r < up; r++) {
    const taps = [];
    let lo = -1;
    for (let s = s0; s <= sMax; s++) {
      const idx = r * down + half - s * up;
      if (idx >= 0 && idx < len) { if (lo < 0) lo = s - s0; taps.push(h[idx]); }
    }
    phases.push({ lo, taps: Float32Array.from(taps) });
  }
  return { rows: sMax - s0 + 1, s0, phases };
}

/** Streaming band-limited rational resampler: push blocks of any size, then flush once; the
 * outputs of any chunking, concatenated, equal `resample` of the whole signal. */
export class Resampler {
  constructor(src, dst) {
    if (!Number.isInteger(src) || !Number.isInteger(dst) || src < 1 || dst < 1) throw new EdgeAsrError(`invalid resampling rates ${src} -> ${dst}`);
    this.src = src; this.dst = dst;
    const g = gcd(src, dst);
    this.up = dst / g; this.down = src / g;
    this.direct = this.up * this.down + 72 * Math.max(this.up, this.down) > MAX_MATRIX;
    if (this.direct) {
      const ratio = Math.min(1, dst / src);
      this.half = Math.ceil((ATTEN - 7.95) / (2.285 * Math.PI * 0.1 * ratio) / 2);
      this.cutoff = 0.95 * ratio;
      this.i0b = besselI0(KAISER_BETA);
    } else if (this.up !== this.down) {
      this.poly = polyphase(this.up, this.down);
      this.lo = -this.poly.s0;
    }
    this.reset();
  }

  reset() { this.buf = new Float32Array(0); this.origin = 0; this.nIn = 0; this.next = 0; this.done = 0; }

  span(unit) {  // input samples [first, stop) that `unit` reads
    if (this.direct) { const base = Math.floor(unit * this.src / this.dst); return [base - this.half + 1, base + this.half + 1]; }
    const first = unit * this.down - this.lo;
    return [first, first + this.poly.rows];
  }

  readyUnits() {
    if (this.direct) {
      const m = this.nIn - this.half - 1;
      return m >= 0 ? Math.floor((m * this.dst + this.dst - 1) / this.src) + 1 : 0;
    }
    const room = this.nIn + this.lo - this.poly.rows;
    return room >= 0 ? Math.floor(room / this.down) + 1 : 0;
  }

  x(i) { const j = i - this.origin; return j >= 0 && j < this.buf.length ? this.buf[j] : 0; }

  compute(u0, u1) {
    if (this.direct) {
      const out = new Float32Array(Math.max(0, u1 - u0));
      for (let n = u0; n < u1; n++) {
        const t = n * (this.src / this.dst), base = Math.floor(n * this.src / this.dst);
        let acc = 0, wsum = 0;
        for (let o = -this.half + 1; o <= this.half; o++) {
          const k = base + o, tau = t - k, edge = Math.max(0, 1 - (tau / this.half) ** 2);
          const w = sinc(this.cutoff * tau) * besselI0(KAISER_BETA * Math.sqrt(edge)) / this.i0b;
          acc += w * this.x(k); wsum += w;
        }
        out[n - u0] = acc / wsum;
      }
      return out;
    }
    const { up, down } = this, out = new Float32Array(Math.max(0, u1 - u0) * up);
    for (let q = u0; q < u1; q++) {
      const first = q * down - this.lo;
      for (let r = 0; r < up; r++) {
        const { lo, taps } = this.poly.phases[r];
        let acc = 0;
        for (let s = 0; s < taps.length; s++) acc += this.x(first + lo + s) * taps[s];
        out[(q - u0) * up + r] = acc;
      }
    }
    return out;
  }

  release(units, nOut) {
    const out = units > this.next ? this.compute(this.next, units) : new Float32Array(0);
    const firstSample = this.next * (this.direct ? 1 : this.up);
    this.next = Math.max(this.next, units);
    const keep = out.slice(Math.max(0, this.done - firstSample), Math.max(0, nOut - firstSample));
    this.done += keep.length;
    const drop = this.span(this.next)[0] - this.origin;  // inputs no later unit reads
    if (drop > 0) { this.buf = this.buf.slice(Math.min(drop, this.buf.length)); this.origin += drop; }
    return keep;
  }

  /** Add input samples; return the output samples they complete. */
  push(samples) {
    if (this.up === this.down) { this.done += samples.length; return Float32Array.from(samples); }
    const b = new Float32Array(this.buf.length + samples.length);
    b.set(this.buf); b.set(samples, this.buf.length);
    this.buf = b; this.nIn += samples.length;
    return this.release(this.readyUnits(), Math.ceil(this.nIn * this.up / this.down));
  }

  /** The remaining outputs (the signal is zero past its end); ready for a new stream. */
  flush() {
    if (this.up === this.down) return new Float32Array(0);
    const nOut = Math.ceil(this.nIn * this.up / this.down);
    const out = this.release(this.direct ? nOut : Math.ceil(nOut / this.up), nOut);
    this.reset();
    return out;
  }
}

/** Resample a whole signal (float32) from `src` to `dst` Hz. */
export function resample(x, src, dst) {
  if (src === dst) return x;
  const r = new Resampler(src, dst);
  const a = r.push(x), b = r.flush();
  const y = new Float32Array(a.length + b.length);
  y.set(a); y.set(b, a.length);
  return y;
}
