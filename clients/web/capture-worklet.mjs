// AudioWorklet: microphone (the AudioContext's rate) -> mono -> the bundle's rate -> chunks of
// exactly `chunk` samples (the artifact's stream.audio.chunk_samples), posted to the page.
// Message 'flush' posts what is left (resampler tail included) and then {done: true}. With
// `record`, each message also carries the raw mono input since the last one (`raw`, at the
// context's rate): what the microphone delivered, for checks against the Python runtime.
import { Resampler } from './edge_asr.mjs';

class EdgeAsrCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { rate, chunk, record } = options.processorOptions;
    this.record = record ? [] : null;
    this.resampler = sampleRate === rate ? null : new Resampler(sampleRate, rate);
    this.chunk = new Float32Array(chunk);
    this.fill = 0;
    this.open = true;
    this.port.onmessage = (e) => {
      if (e.data !== 'flush' || !this.open) return;
      this.open = false;
      if (this.resampler) this.add(this.resampler.flush());
      if (this.fill) this.port.postMessage({ samples: this.chunk.slice(0, this.fill), raw: this.takeRaw() });
      this.port.postMessage({ done: true, raw: this.takeRaw() });
    };
  }

  takeRaw() {
    if (!this.record) return undefined;
    const n = this.record.reduce((a, b) => a + b.length, 0), out = new Float32Array(n);
    let o = 0;
    for (const b of this.record) { out.set(b, o); o += b.length; }
    this.record = [];
    return out;
  }

  add(x) {
    for (let i = 0; i < x.length;) {
      const n = Math.min(x.length - i, this.chunk.length - this.fill);
      this.chunk.set(x.subarray(i, i + n), this.fill);
      this.fill += n; i += n;
      if (this.fill === this.chunk.length) {
        const out = this.chunk; this.chunk = new Float32Array(out.length); this.fill = 0;
        this.port.postMessage({ samples: out, raw: this.takeRaw() }, [out.buffer]);
      }
    }
  }

  process(inputs) {
    const chans = inputs[0];
    if (!this.open || !chans || !chans.length) return this.open;
    let x = chans[0];
    if (chans.length > 1) {  // downmix: the mean of the channels
      x = new Float32Array(x.length);
      for (const c of chans) for (let i = 0; i < x.length; i++) x[i] += c[i] / chans.length;
    }
    if (this.record) this.record.push(Float32Array.from(x));
    this.add(this.resampler ? this.resampler.push(x) : x);
    return true;
  }
}

registerProcessor('edge-asr-capture', EdgeAsrCapture);
