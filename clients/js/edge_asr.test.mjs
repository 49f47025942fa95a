// Unit tests of the shared client module: `node --test clients/js/` (run by tests/test_node_client.py).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AudioStreamRunner, EdgeAsrError, GreedyDecoder, Resampler, argmaxRows, cnnOutputLength, collapse,
  labelsText, numFrames, outputLength, parseWav, percentile, pickArtifact, resample, toInt16,
} from './edge_asr.mjs';

const LABELS = { symbols: ["'", ' ', ...'abcdefghijklmnopqrstuvwxyz'], blank: 28 };
const ids = (s) => [...s].map((c) => (c === '_' ? 28 : LABELS.symbols.indexOf(c)));

test('greedy: collapse repeats, drop blanks, tidy spaces (runtime/text.py rules)', () => {
  assert.deepEqual(collapse([28, 2, 2, 28, 2, 3, 3], 28), [2, 2, 3]);
  assert.equal(labelsText(collapse(ids('hh_e_ll_lloo'), 28), LABELS), 'hello');
  assert.equal(labelsText(collapse(ids('  h_i    _ you  '), 28), LABELS), 'hi you');
  assert.equal(labelsText(collapse(ids('___'), 28), LABELS), '');
  assert.equal(labelsText(collapse(ids("d_o_n'_t"), 28), LABELS), "don't");
  const d = new GreedyDecoder(LABELS);
  d.push(ids('hh_e')); d.push(ids('ell_lo o'));   // a repeat across two calls collapses too
  assert.equal(d.text, 'hello o');
  assert.equal(d.frames, 12);
  assert.equal(d.textOf(4), 'he');
});

test('argmax per frame takes the first of equal maxima (numpy)', () => {
  assert.deepEqual(argmaxRows(Float32Array.from([0.1, 0.7, 0.2, 0.5, 0.5, 0]), 3), [1, 0]);
});

test('frame math: cnn_output_length, output_length rule, num_frames', () => {
  assert.equal(cnnOutputLength(100, 11, 'valid', 2), 45);
  assert.equal(cnnOutputLength(5, 11, 'valid', 2), 0);
  assert.equal(cnnOutputLength(7, 3, 'same', 2), 4);
  assert.equal(cnnOutputLength(7, 3, 'full', 1, 2), 11);
  const rule = { layers: [{ kernel: 11, stride: 2, padding: 'valid', dilation: 1 }] };
  assert.equal(outputLength(rule, 100), 45);
  assert.equal(outputLength({ layers: [] }, 7), 7);
  const spec = { frame_window: 320, frame_step: 160, pad_last_frame: false };
  assert.deepEqual([0, 319, 320, 479, 480].map((n) => numFrames(spec, n)), [0, 0, 1, 1, 2]);
  const mfcc = { frame_window: 400, frame_step: 160, pad_last_frame: true };
  assert.deepEqual([0, 1, 400, 401, 560, 561].map((n) => numFrames(mfcc, n)), [0, 1, 1, 2, 2, 3]);
});

function wav({ rate = 16000, channels = 1, bits = 16, format = 1, samples = [0, 1000, -32768, 32767] } = {}) {
  const data = Buffer.alloc(samples.length * 2);
  samples.forEach((s, i) => data.writeInt16LE(s, 2 * i));
  const fmt = Buffer.alloc(24);
  fmt.write('fmt ', 0); fmt.writeUInt32LE(16, 4); fmt.writeUInt16LE(format, 8); fmt.writeUInt16LE(channels, 10);
  fmt.writeUInt32LE(rate, 12); fmt.writeUInt32LE(rate * channels * bits / 8, 16); fmt.writeUInt16LE(channels * bits / 8, 20); fmt.writeUInt16LE(bits, 22);
  const list = Buffer.from('LIST\x04\x00\x00\x00abcd', 'latin1');  // an extra chunk to skip
  const head = Buffer.alloc(12); head.write('RIFF', 0); head.writeUInt32LE(4 + fmt.length + list.length + 8 + data.length, 4); head.write('WAVE', 8);
  const dh = Buffer.alloc(8); dh.write('data', 0); dh.writeUInt32LE(data.length, 4);
  return new Uint8Array(Buffer.concat([head, fmt, list, dh, data]));
}

test('WAV: 16-bit PCM mono read; anything else refused with one line', () => {
  const w = parseWav(wav());
  assert.equal(w.sampleRate, 16000);
  assert.deepEqual([...w.samples], [0, 1000, -32768, 32767]);
  assert.throws(() => parseWav(new TextEncoder().encode('hello, not audio')), EdgeAsrError);
  assert.throws(() => parseWav(wav({ channels: 2 })), /mono/);
  assert.throws(() => parseWav(wav({ bits: 8 })), /16-bit PCM/);
  assert.throws(() => parseWav(wav({ format: 3 })), /16-bit PCM/);
  assert.throws(() => parseWav(wav().slice(0, 30)), /no data chunk|truncated/);
});

test('resampler: DC and a tone survive, lengths are right, blocks equal one push', () => {
  const x = new Float32Array(48000).map((_, i) => 0.5 * Math.sin(2 * Math.PI * 440 * i / 48000));
  const y = resample(x, 48000, 16000);
  assert.equal(y.length, 16000);
  let err = 0;
  for (let i = 200; i < 15800; i++) err = Math.max(err, Math.abs(y[i] - 0.5 * Math.sin(2 * Math.PI * 440 * i / 16000)));
  assert.ok(err < 2e-3, `tone error ${err}`);
  const r = new Resampler(44100, 16000);
  const parts = [];
  for (let o = 0; o < x.length; o += 128) parts.push(r.push(x.subarray(o, o + 128)));
  parts.push(r.flush());
  const joined = Float32Array.from(parts.flatMap((p) => [...p]));
  const whole = resample(x, 44100, 16000);
  assert.equal(joined.length, whole.length);
  assert.equal(joined.length, Math.ceil(48000 * 16000 / 44100));
  for (let i = 0; i < whole.length; i++) assert.ok(Math.abs(joined[i] - whole[i]) < 1e-6);
  const dc = resample(new Float32Array(4000).fill(0.25), 8000, 16000);
  assert.ok(Math.abs(dc[4000] - 0.25) < 1e-4);
  // a 7 kHz tone at 48 kHz is above the 16 kHz Nyquist: filtered out
  const hi = resample(new Float32Array(48000).map((_, i) => Math.sin(2 * Math.PI * 7000 * i / 48000)), 48000, 16000);
  assert.ok(Math.max(...hi.slice(500, 15500).map(Math.abs)) > 0.9);
  const alias = resample(new Float32Array(48000).map((_, i) => Math.sin(2 * Math.PI * 9000 * i / 48000)), 48000, 16000);
  assert.ok(Math.max(...alias.slice(500, 15500).map(Math.abs)) < 0.01);
});

test('artifact choice: smallest passing audio-in streaming ONNX, or one clear error', () => {
  const a = (name, size, extra = {}) => ({ name, size_bytes: size, format: 'onnx', streaming: true, parity: { passed: true },
    audio: { sample_rate: 16000, dtype: 'float32' }, stream: { audio: { chunk_samples: 160 } }, ...extra });
  const bundle = { artifacts: [a('onnx-fp32-audio-stream', 9), a('onnx-int8-dynamic-audio-stream', 3),
    a('onnx-fp16-audio-stream', 1, { parity: { passed: false } }), a('onnx-fp32-stream', 1, { audio: null }),
    a('tflite-fp32-audio-stream', 1, { format: 'tflite' })] };
  assert.equal(pickArtifact(bundle).name, 'onnx-int8-dynamic-audio-stream');
  assert.equal(pickArtifact(bundle, 'onnx-fp32-audio-stream').name, 'onnx-fp32-audio-stream');
  assert.throws(() => pickArtifact(bundle, 'onnx-fp32-stream'), /not a usable audio-in streaming/);
  assert.throws(() => pickArtifact(bundle, 'nope'), /no artifact nope/);
  assert.throws(() => pickArtifact({ artifacts: [a('x', 1, { audio: null })] }), /no audio-in streaming ONNX/);
});

test('int16 PCM like numpy: round half to even, clip', () => {
  const x = Float32Array.from([0, 0.5 / 32768, 1.5 / 32768, -0.5 / 32768, -2.5 / 32768, 1, -1, 0.25]);
  assert.deepEqual([...toInt16(x)], [0, 0, 2, 0, -2, 32767, -32768, 8192]);
});

test('percentile interpolates like numpy', () => {
  assert.equal(percentile([1, 2, 3, 4], 50), 2.5);
  assert.equal(percentile([5], 95), 5);
  assert.equal(percentile([], 50), 0);
});

// A fake session: 4-sample chunks, 2 frames per call, state = calls so far; warm-up drops call 0.
class Tensor { constructor(type, data, dims) { Object.assign(this, { type, data, dims }); } }
function fakeSession(log) {
  return {
    async run(feeds) {
      const calls = Number(feeds.calls_in.data[0]);
      log.push({ calls, audio: [...feeds.audio.data] });
      const probs = new Float32Array(2 * 3);
      const label = feeds.audio.data.some((x) => x !== 0) ? calls % 2 : 2;  // blank (2) on silence
      probs[label] = 1; probs[3 + label] = 1;
      return { probs: new Tensor('float32', probs, [1, 2, 3]), calls_out: new Tensor('int64', BigInt64Array.from([BigInt(calls + 1)]), [1]) };
    },
  };
}

test('stream loop: chunking, state carried, warm-up dropped, padded tail, exact frame count', async () => {
  const bundle = { labels: { symbols: ['a', 'b'], blank: 2 }, output_length: { layers: [] } };
  const artifact = { inputs: [{ name: 'audio' }], outputs: [{ name: 'probs', shape: [1, 2, 3] }], audio: { dtype: 'float32' },
    stream: { states: [{ input: 'calls_in', output: 'calls_out', shape: [1], dtype: 'int64' }],
              audio: { chunk_samples: 4, warmup_calls: 1, frame_window: 2, frame_step: 2, pad_last_frame: false } } };
  const log = [];
  const r = new AudioStreamRunner({ Tensor }, fakeSession(log), bundle, artifact);
  await r.acceptWaveform(Float32Array.from([1, 1, 1]));
  assert.equal(log.length, 0);
  await r.acceptWaveform(Float32Array.from([1, 1, 1, 1, 1, 1, 1]));   // 10 samples: 2 calls
  assert.deepEqual(log.map((c) => c.calls), [0, 1]);
  assert.equal(r.partial, 'b');                                        // call 0 dropped, call 1 -> 'b b'
  const { text, frames, chunkMs } = await r.finish();                   // 10 samples -> 5 frames
  assert.equal(frames, 5);
  assert.deepEqual(log.at(2).audio, [1, 1, 0, 0]);                      // the last chunk zero-padded
  assert.equal(log.length, 4);                                          // + one zero chunk: 2+2+2 >= 5
  assert.equal(text, 'ba');
  assert.equal(chunkMs.length, 4);
  assert.equal(r.frames, 0);                                            // reset for the next utterance

  // pad_preemphasis c: the padding after the last sample x is x*c, x*c^2, ... across chunks
  artifact.stream.audio.pad_preemphasis = 0.5;
  log.length = 0;
  const p = new AudioStreamRunner({ Tensor }, fakeSession(log), bundle, artifact);
  await p.acceptWaveform(Float32Array.from([1, 1, 1, 1, 1, 0.5]));        // 6 samples -> 3 frames
  await p.finish();
  assert.deepEqual(log.map((c) => c.audio), [[1, 1, 1, 1], [1, 0.5, 0.25, 0.125], [0.0625, 0.03125, 0.015625, 0.0078125]]);
});
