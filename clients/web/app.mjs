// The page: onnxruntime-web (WASM) runs the bundle's audio-in streaming artifact on microphone
// chunks (capture-worklet.mjs) or on a WAV file; decoding and the stream loop are edge_asr.mjs.
// Interface kept for outside checks: #start, #file, #partial, #final (data-done="1" when a
// transcription ends); window.edgeAsr.last holds the last result with its timings.
import * as ort from './ort/ort.wasm.min.mjs';
import { AudioStreamRunner, int16ToFloat, parseWav, percentile, resample } from './edge_asr.mjs';

const $ = (id) => document.getElementById(id);
const ui = { start: $('start'), file: $('file'), partial: $('partial'), final: $('final'),
             message: $('message'), status: $('status'), model: $('model'), stats: $('stats') };
const state = { runner: null, mic: null, work: Promise.resolve(), t: null };
// ?record=1: keep what the microphone delivered (window.edgeAsr.capturedRaw, at the context's
// rate) and what the model heard (window.edgeAsr.captured, at the bundle's rate) for checks.
const RECORD = new URLSearchParams(location.search).get('record') === '1';
window.edgeAsr = { ready: false, last: null, error: null };

function message(text) { ui.message.textContent = text || ''; if (text) window.edgeAsr.error = text; }

function showStats(s, live) {
  const rows = [
    ['real-time factor', `${s.rtf.toFixed(3)}${live ? ' (live)' : ''}${s.rtf < 1 ? ' — keeps up' : ' — too slow'}`],
    ['chunk latency p50 / p95 / max', `${s.chunk_p50_ms.toFixed(2)} / ${s.chunk_p95_ms.toFixed(2)} / ${s.chunk_max_ms.toFixed(2)} ms`],
    ['chunks', `${s.chunks} of ${(1e3 * s.chunk_s).toFixed(0)} ms`],
    ['audio', `${s.audio_s.toFixed(2)} s`],
  ];
  if (s.delay_p95_ms !== undefined) rows.push(['chunk arrival -> text p95', `${s.delay_p95_ms.toFixed(2)} ms`]);
  ui.stats.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', k), el('dd', v)]));
  for (const [k, v] of Object.entries(s)) if (typeof v === 'number') ui.stats.dataset[k.replace(/_(\w)/g, (_, c) => c.toUpperCase())] = String(v);
}

function concat(parts) {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

function el(tag, text) { const e = document.createElement(tag); e.textContent = text; return e; }

// ---------------------------------------------------------------------------------- one transcription
function begin(mode) {
  state.t = { mode, samples: 0, busyMs: 0, delays: [], captured: [], raw: [], t0: performance.now() };
  state.runner.reset();
  ui.partial.textContent = '';
  ui.final.textContent = '';
  ui.final.removeAttribute('data-done');
  message('');
}

function stats(chunkMs, live) {
  const t = state.t, audio_s = t.samples / state.rate;
  // RTF: the page's processing time (model calls, argmax, decoding, UI) over the audio's length
  return { rtf: audio_s ? t.busyMs / 1e3 / audio_s : 0, audio_s, chunks: chunkMs.length,
           model_ms: chunkMs.reduce((a, b) => a + b, 0),
           chunk_s: state.chunk / state.rate, chunk_p50_ms: percentile(chunkMs, 50),
           chunk_p95_ms: percentile(chunkMs, 95), chunk_max_ms: chunkMs.length ? Math.max(...chunkMs) : 0,
           ...(t.delays.length ? { delay_p50_ms: percentile(t.delays, 50), delay_p95_ms: percentile(t.delays, 95) } : {}),
           wall_s: (performance.now() - t.t0) / 1e3 };
}

async function feed(samples, arrived) {
  const t0 = performance.now();
  state.t.samples += samples.length;
  if (RECORD && state.t.mode === 'mic') state.t.captured.push(samples.slice());
  const before = ui.partial.textContent;
  const text = await state.runner.acceptWaveform(samples);
  if (text !== before) ui.partial.textContent = text;
  if (arrived !== undefined) state.t.delays.push(performance.now() - arrived);
  state.t.busyMs += performance.now() - t0;
  window.edgeAsr.live = stats(state.runner.chunkMs, true);
  showStats(window.edgeAsr.live, true);
}

async function end() {
  const t0 = performance.now();
  const { text, frames, chunkMs } = await state.runner.finish();
  state.t.busyMs += performance.now() - t0;
  const s = stats(chunkMs, false);
  ui.partial.textContent = text;
  ui.final.textContent = text;
  ui.final.setAttribute('data-done', '1');
  showStats(s, false);
  window.edgeAsr.last = { mode: state.t.mode, text, frames, ...s, chunk_ms: chunkMs, input_rate: state.t.inputRate ?? state.rate };
  if (RECORD) {
    window.edgeAsr.captured = concat(state.t.captured);
    window.edgeAsr.capturedRaw = concat(state.t.raw);
  }
  ui.status.textContent = 'ready';
}

// ---------------------------------------------------------------------------------- microphone
async function startMic() {
  if (!navigator.mediaDevices?.getUserMedia) {
    message('No microphone API here: browsers allow it only on secure pages (https, or http on localhost).');
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
  } catch (e) {
    const denied = e && (e.name === 'NotAllowedError' || e.name === 'SecurityError');
    message(denied ? 'Microphone permission was denied: allow the microphone for this page and press Start again.'
                   : `No microphone: ${e?.message || e}`);
    return;
  }
  const ctx = new AudioContext();
  await ctx.audioWorklet.addModule(new URL('./capture-worklet.mjs', import.meta.url));
  const node = new AudioWorkletNode(ctx, 'edge-asr-capture', {
    numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1],
    processorOptions: { rate: state.rate, chunk: state.chunk, record: RECORD },
  });
  begin('mic');
  state.t.inputRate = ctx.sampleRate;
  const done = new Promise((resolve) => {
    node.port.onmessage = (e) => {
      if (e.data.raw) state.t.raw.push(e.data.raw);
      if (e.data.done) { resolve(); return; }
      const arrived = performance.now();
      state.work = state.work.then(() => feed(e.data.samples, arrived)).catch(fail);
    };
  });
  ctx.createMediaStreamSource(stream).connect(node);
  node.connect(ctx.destination);  // keeps the node pulled; it outputs silence
  state.mic = { stream, ctx, node, done };
  ui.start.textContent = 'Stop';
  ui.start.classList.add('recording');
  ui.file.disabled = true;
  ui.status.textContent = `listening (${ctx.sampleRate} Hz -> ${state.rate} Hz)`;
}

async function stopMic() {
  const { stream, ctx, node, done } = state.mic;
  state.mic = null;
  ui.start.disabled = true;
  node.port.postMessage('flush');
  await done;
  for (const track of stream.getTracks()) track.stop();
  await ctx.close();
  await state.work;
  await end();
  ui.start.textContent = 'Start';
  ui.start.classList.remove('recording');
  ui.start.disabled = false;
  ui.file.disabled = false;
}

// ---------------------------------------------------------------------------------- WAV file
async function transcribeFile(file) {
  let wav;
  try {
    wav = parseWav(await file.arrayBuffer());
  } catch (e) {
    message(`${file.name}: ${e.message} (the page reads 16-bit PCM mono WAV files)`);
    return;
  }
  ui.start.disabled = true;
  ui.file.disabled = true;
  ui.status.textContent = `transcribing ${file.name}`;
  begin('file');
  const x = resample(int16ToFloat(wav.samples), wav.sampleRate, state.rate);
  for (let o = 0; o < x.length; o += state.chunk) await feed(x.subarray(o, o + state.chunk));
  await end();
  ui.start.disabled = false;
  ui.file.disabled = false;
}

function fail(e) {
  console.error(e);
  message(`Error: ${e?.message || e}`);
  ui.status.textContent = 'error';
}

// ---------------------------------------------------------------------------------- start-up
async function main() {
  const config = await (await fetch('./config.json')).json();
  const { bundle, artifact } = config;
  ort.env.wasm.wasmPaths = new URL('./ort/', import.meta.url).href;
  ort.env.wasm.numThreads = 1;  // no cross-origin isolation needed (plain `python -m http.server`)
  const session = await ort.InferenceSession.create(new URL(config.model_file, import.meta.url).href,
    { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  state.runner = new AudioStreamRunner(ort, session, bundle, artifact);
  state.rate = artifact.audio.sample_rate;
  state.chunk = artifact.stream.audio.chunk_samples;
  await state.runner.warmup();  // the first run initializes WASM kernels: not on a live chunk
  const feats = bundle.features ? `${bundle.features.kind}, ${bundle.features.dim} per frame, computed in the graph` : 'in the graph';
  const rows = [['model', bundle.model.name], ['features', feats],
    ['artifact', artifact.name], ['precision', artifact.precision],
    ['size', `${(artifact.size_bytes / 1024).toFixed(1)} KiB`],
    ['input', `${artifact.audio.dtype} PCM at ${state.rate} Hz, ${state.chunk} samples (${(1e3 * state.chunk / state.rate).toFixed(0)} ms) per call`],
    ['runtime', `onnxruntime-web ${ort.env.versions?.web ?? ''} (WASM, 1 thread)`]];
  ui.model.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', k), el('dd', v)]));
  ui.start.addEventListener('click', () => (state.mic ? stopMic() : startMic()).catch(fail));
  ui.file.addEventListener('change', () => {
    const f = ui.file.files[0];
    if (f) transcribeFile(f).catch(fail).finally(() => { ui.file.value = ''; });
  });
  ui.start.disabled = false;
  ui.file.disabled = false;
  ui.status.textContent = 'ready';
  window.edgeAsr.ready = true;
}

main().catch(fail);
