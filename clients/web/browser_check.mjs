#!/usr/bin/env node
// Drive the exported page in headless Debian Chromium (playwright-core, no browser download).
// One JSON line per transcription on stdout. Used by tests/test_web.py.
//   node browser_check.mjs URL mic WAV [--captured OUT.f32] [--screenshot OUT.png]
//       the WAV plays through Chromium's fake microphone; Start, wait, Stop, read #final
//       (--captured PREFIX with URL?record=1: the samples the microphone gave and the model heard)
//   node browser_check.mjs URL file WAV...   each WAV through the #file picker
//   node browser_check.mjs URL deny          microphone permission refused: the page's message
//   node browser_check.mjs URL badfile FILE  a non-WAV file through the picker: the page's message
import { readFileSync, writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { parseWav } from '../js/edge_asr.mjs';

const [url, mode, ...rest] = process.argv.slice(2);
const opt = (k) => { const i = rest.indexOf(k); return i < 0 ? undefined : rest.splice(i, 2)[1]; };
const captured = opt('--captured'), screenshot = opt('--screenshot');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run', '--autoplay-policy=no-user-gesture-required'];
if (mode === 'mic') {
  args.push('--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${rest[0]}%noloop`);
} else if (mode === 'deny') {
  args.push('--use-fake-device-for-media-stream', '--deny-permission-prompts');
}
const wavSeconds = (f) => { const w = parseWav(readFileSync(f)); return w.samples.length / w.sampleRate; };
const external = [];  // requests that leave the site (a CDN): must stay empty
const out = (o) => console.log(JSON.stringify({ ...o, external }));

const browser = await chromium.launch({ executablePath, args, headless: true, timeout: 60000 });
try {
  const page = await browser.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  const origin = new URL(url).origin;
  page.on('request', (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) external.push(r.url()); });
  await page.goto(url);
  await page.waitForFunction(() => window.edgeAsr?.ready || window.edgeAsr?.error, null, { timeout: 60000 });
  const error = await page.evaluate(() => window.edgeAsr.error);
  if (error) throw new Error(`page failed to load: ${error}\n${logs.join('\n')}`);
  const done = async () => {
    await page.waitForSelector('#final[data-done="1"]', { timeout: 120000 });
    return page.evaluate(() => ({ final: document.querySelector('#final').textContent, ...window.edgeAsr.last, chunk_ms: undefined, chunk_list: window.edgeAsr.last.chunk_ms }));
  };
  if (mode === 'mic') {
    const seconds = wavSeconds(rest[0]);
    const t0 = Date.now();
    await page.click('#start');
    await page.waitForFunction(() => document.querySelector('#start').textContent === 'Stop', null, { timeout: 20000 });
    // the whole file plus a margin: the fake device plays it once (%noloop), then silence
    await page.waitForFunction((s) => (window.edgeAsr.live?.audio_s ?? 0) >= s, seconds + 0.6, { timeout: 1000 * (seconds + 30) });
    const live = await page.evaluate(() => window.edgeAsr.live);
    await page.click('#start');
    const r = await done();
    const partialSeen = await page.evaluate(() => document.querySelector('#partial').textContent);
    out({ mode, wav: rest[0], ...r, live_rtf: live.rtf, partial: partialSeen, wall_s: (Date.now() - t0) / 1e3 });
    if (captured) {  // needs URL?record=1: PREFIX.raw.f32 (microphone, input_rate), PREFIX.f32 (model input)
      for (const [key, file] of [['capturedRaw', `${captured}.raw.f32`], ['captured', `${captured}.f32`]]) {
        const b64 = await page.evaluate((k) => {
          const u8 = new Uint8Array(window.edgeAsr[k].buffer);
          let s = '';
          for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode(...u8.subarray(i, i + 0x8000));
          return btoa(s);
        }, key);
        writeFileSync(file, Buffer.from(b64, 'base64'));
      }
    }
  } else if (mode === 'file') {
    for (const wav of rest) {
      await page.setInputFiles('#file', wav);
      out({ mode, wav, ...(await done()) });
      await page.evaluate(() => document.querySelector('#final').removeAttribute('data-done'));
    }
  } else if (mode === 'deny') {
    await page.click('#start');
    await page.waitForFunction(() => document.querySelector('#message').textContent.length > 0, null, { timeout: 20000 });
    out({ mode, message: await page.textContent('#message'), visible: await page.isVisible('#message') });
  } else if (mode === 'badfile') {
    await page.setInputFiles('#file', rest[0]);
    await page.waitForFunction(() => document.querySelector('#message').textContent.length > 0, null, { timeout: 20000 });
    out({ mode, message: await page.textContent('#message'), visible: await page.isVisible('#message'),
          done: await page.getAttribute('#final', 'data-done') });
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
} finally {
  await browser.close();
}
