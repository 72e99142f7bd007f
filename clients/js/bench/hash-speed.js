// Hashing speed of each SHA-256 the client ships, in Node and in Chromium:
// 256 MiB fed 4 MiB at a time, as the client reads files. Prints MiB/s.
//   node bench/hash-speed.js      (FERRY_TEST_FERRYD and FERRY_TEST_CHROMIUM as for the tests)

import { createHash, randomBytes } from 'node:crypto';

import { chromium } from 'playwright-core';

import '../src/vendor/hash-wasm-sha256.umd.min.js';
import { Sha256 } from '../src/sha256.js';
import { startFerryd } from '../test/ferryd.js';

const SLICE = 4 << 20;
const TOTAL = 256 << 20;

function measure(name, hashSlices) {
  const slice = randomBytes(SLICE);
  hashSlices(slice, 4);
  const started = performance.now();
  hashSlices(slice, TOTAL / SLICE);
  const seconds = (performance.now() - started) / 1000;
  console.log(`node      ${name.padEnd(34)} ${(TOTAL / (1 << 20) / seconds).toFixed(0)} MiB/s`);
}

measure('plain JavaScript (src/sha256.js)', (slice, n) => {
  const hash = new Sha256();
  for (let i = 0; i < n; i++) hash.update(slice);
  hash.digest();
});
const wasm = await globalThis.hashwasm.createSHA256();
measure('WebAssembly (hash-wasm)', (slice, n) => {
  wasm.init();
  for (let i = 0; i < n; i++) wasm.update(slice);
  wasm.digest('hex');
});
measure('node:crypto', (slice, n) => {
  const hash = createHash('sha256');
  for (let i = 0; i < n; i++) hash.update(slice);
  hash.digest();
});

const ferryd = await startFerryd();
const browser = await chromium.launch({
  executablePath: process.env.FERRY_TEST_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
try {
  const page = await browser.newPage();
  await page.goto(`${ferryd.url}/`);
  const results = await page.evaluate(
    async ({ SLICE, TOTAL }) => {
      const { Sha256 } = await import('/ui/client/sha256.js');
      await import('/ui/client/vendor/hash-wasm-sha256.umd.min.js');
      const slice = new Uint8Array(SLICE);
      for (let i = 0; i < SLICE; i += 65536) crypto.getRandomValues(slice.subarray(i, i + 65536));
      const rate = async (run) => {
        await run(4);
        const started = performance.now();
        await run(TOTAL / SLICE);
        return TOTAL / (1 << 20) / ((performance.now() - started) / 1000);
      };
      const wasm = await globalThis.hashwasm.createSHA256();
      return {
        'plain JavaScript (src/sha256.js)': await rate(async (n) => {
          const hash = new Sha256();
          for (let i = 0; i < n; i++) hash.update(slice);
          hash.digest();
        }),
        'WebAssembly (hash-wasm)': await rate(async (n) => {
          wasm.init();
          for (let i = 0; i < n; i++) wasm.update(slice);
          wasm.digest('hex');
        }),
        'WebCrypto, one 4 MiB chunk per call': await rate(async (n) => {
          for (let i = 0; i < n; i++) await crypto.subtle.digest('SHA-256', slice);
        }),
      };
    },
    { SLICE, TOTAL },
  );
  for (const [name, value] of Object.entries(results)) {
    console.log(`chromium  ${name.padEnd(34)} ${value.toFixed(0)} MiB/s`);
  }
} finally {
  await browser.close();
  await ferryd.stop();
}
