// Hashing speed of each SHA-256 the client ships, in Node and in Chromium:
// 256 MiB fed 4 MiB at a time, as the client reads files. Prints MiB/s
// (in Node the median of 5 rounds taken in turn, with their spread).
// The mini-program's WebAssembly is its sha256.wasm (built by
// `npm run build:miniprogram`) driven by the same code the WeChat platform
// runs, loaded with Node's WebAssembly in place of WXWebAssembly.
//   node bench/hash-speed.js        (FERRY_TEST_FERRYD and FERRY_TEST_CHROMIUM as for the tests)
//   node bench/hash-speed.js node   (Node only)

import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { chromium } from 'playwright-core';

import '../src/vendor/hash-wasm-sha256.umd.min.js';
import { Sha256 } from '../src/sha256.js';
import { loadWasmSha256 } from '../src/platforms/wasm-sha256.js';
import { startFerryd } from '../test/ferryd.js';

const SLICE = 4 << 20;
const TOTAL = 256 << 20;

/** Rounds of every Node hash in turn, so that a busy machine slows each alike; the median is printed. */
const ROUNDS = 5;

/** MiB/s of one run of `hashSlices` over TOTAL bytes. */
function rate(slice, hashSlices) {
  const started = performance.now();
  hashSlices(slice, TOTAL / SLICE);
  return TOTAL / (1 << 20) / ((performance.now() - started) / 1000);
}

const wasm = await globalThis.hashwasm.createSHA256();
const module = readFileSync(new URL('../miniprogram_dist/sha256.wasm', import.meta.url));
const miniProgramHasher = await (await loadWasmSha256(() => WebAssembly.instantiate(module, {}))).createHasher();
const nodeHashes = {
  'plain JavaScript (src/sha256.js)': (slice, n) => {
    const hash = new Sha256();
    for (let i = 0; i < n; i++) hash.update(slice);
    hash.digest();
  },
  'WebAssembly (hash-wasm)': (slice, n) => {
    wasm.init();
    for (let i = 0; i < n; i++) wasm.update(slice);
    wasm.digest('hex');
  },
  'mini-program WebAssembly (sha256.wasm)': (slice, n) => {
    const hash = miniProgramHasher.init();
    for (let i = 0; i < n; i++) hash.update(slice);
    hash.digest();
  },
  'node:crypto': (slice, n) => {
    const hash = createHash('sha256');
    for (let i = 0; i < n; i++) hash.update(slice);
    hash.digest();
  },
};
const slice = randomBytes(SLICE);
const rates = Object.fromEntries(Object.keys(nodeHashes).map((name) => [name, []]));
for (const hashSlices of Object.values(nodeHashes)) hashSlices(slice, 4);
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, hashSlices] of Object.entries(nodeHashes)) rates[name].push(rate(slice, hashSlices));
}
for (const [name, runs] of Object.entries(rates)) {
  const sorted = [...runs].sort((a, b) => a - b);
  const spread = `${sorted[0].toFixed(0)} to ${sorted[sorted.length - 1].toFixed(0)}`;
  console.log(`node      ${name.padEnd(40)} ${sorted[ROUNDS >> 1].toFixed(0)} MiB/s (${spread} over ${ROUNDS} rounds)`);
}

if (process.argv[2] === 'node') process.exit(0);

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
    console.log(`chromium  ${name.padEnd(40)} ${value.toFixed(0)} MiB/s`);
  }
} finally {
  await browser.close();
  await ferryd.stop();
}
