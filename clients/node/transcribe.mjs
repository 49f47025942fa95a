#!/usr/bin/env node
// Transcribe 16-bit PCM mono WAVs with an edge-asr bundle's audio-in streaming ONNX artifact
// under onnxruntime-node, chunk by chunk with the states carried (the loop in docs/deploying.md).
//   node clients/node/transcribe.mjs BUNDLE FILE.wav... [--artifact NAME] [--json]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { AudioStreamRunner, EdgeAsrError, int16ToFloat, parseWav, percentile, pickArtifact } from '../js/edge_asr.mjs';

const args = process.argv.slice(2);
const opt = (k) => { const i = args.indexOf(k); return i < 0 ? undefined : args.splice(i, 2)[1]; };
const fail = (msg) => { console.error(`edge-asr-node: error: ${msg}`); process.exit(2); };
const artifactName = opt('--artifact'), json = args.includes('--json') && args.splice(args.indexOf('--json'), 1);
const [bundleDir, ...wavs] = args;
if (!bundleDir || !wavs.length) fail('usage: transcribe.mjs BUNDLE FILE.wav... [--artifact NAME] [--json]');
try {
  const bundle = JSON.parse(readFileSync(join(bundleDir, 'bundle.json'), 'utf8'));
  const artifact = pickArtifact(bundle, artifactName);
  const session = await ort.InferenceSession.create(join(bundleDir, artifact.file), { intraOpNumThreads: 1 });
  const stream = new AudioStreamRunner(ort, session, bundle, artifact);
  for (const file of wavs) {
    const wav = parseWav(readFileSync(file));
    if (wav.sampleRate !== artifact.audio.sample_rate) throw new EdgeAsrError(`${file}: ${wav.sampleRate} Hz, the bundle needs ${artifact.audio.sample_rate} Hz`);
    const x = int16ToFloat(wav.samples), n = artifact.stream.audio.chunk_samples, t0 = performance.now();
    for (let o = 0; o < x.length; o += n) await stream.acceptWaveform(x.subarray(o, o + n)); // as a live source would
    const { text, chunkMs } = await stream.finish();
    const rtf = (performance.now() - t0) / 1e3 / (wav.samples.length / wav.sampleRate);
    if (!json) console.log(text);
    else console.log(JSON.stringify({ file, text, artifact: artifact.name, rtf, chunks: chunkMs.length, chunk_p50_ms: percentile(chunkMs, 50), chunk_p95_ms: percentile(chunkMs, 95) }));
  }
} catch (e) {
  fail(e instanceof EdgeAsrError || e.code === 'ENOENT' ? e.message : String(e?.message ?? e).split('\n')[0]);
}
