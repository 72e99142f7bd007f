// The client's pure parts: SHA-256 (JavaScript and WebAssembly), base64,
// chunk plans, backoff, proof limits.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

import { loadWasmSha256 } from '../src/platforms/wasm-sha256.js';

import { challengeProblem, missingChunks } from '../src/plan.js';
import { parseRetryAfter, pauseBefore } from '../src/retry.js';
import { Sha256, toBase64, toHex } from '../src/sha256.js';

test('the plain JavaScript SHA-256 agrees with node:crypto at every length around a block, fed in any pieces', () => {
  for (const length of [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 1000, 100_003]) {
    const bytes = randomBytes(length);
    const hash = new Sha256();
    for (let at = 0; at < length; ) {
      const take = 1 + ((at * 7919) % 131);
      hash.update(bytes.subarray(at, at + take));
      at += take;
    }
    assert.equal(toHex(hash.digest()), createHash('sha256').update(bytes).digest('hex'), `length ${length}`);
  }
});

test('base64 matches Buffer\'s with and without padding', () => {
  for (const length of [0, 1, 2, 3, 4, 32]) {
    const bytes = randomBytes(length);
    assert.equal(toBase64(bytes), bytes.toString('base64'));
  }
});

test('the missing chunks are those outside the received ranges', () => {
  assert.deepEqual(missingChunks(13, [[0, 3], [5, 5]]), [4, 6, 7, 8, 9, 10, 11, 12]);
  assert.deepEqual(missingChunks(3, []), [0, 1, 2]);
  assert.deepEqual(missingChunks(3, [[0, 2]]), []);
  assert.deepEqual(missingChunks(0, []), []);
});

test('pauses grow exponentially under a cap, never undercut Retry-After, and end with the attempts', () => {
  const policy = { baseMs: 200, capMs: 10_000, attempts: 8 };
  assert.equal(pauseBefore(policy, 1, 0.999999) < 200, true);
  assert.equal(Math.round(pauseBefore(policy, 3, 1)), 800);
  assert.equal(pauseBefore(policy, 7, 1), 10_000);
  assert.equal(pauseBefore(policy, 8, 0.5), null);
  assert.equal(pauseBefore(policy, 1, 0, 3000), 3000);
  assert.equal(pauseBefore(policy, 1, 0, 10 * 60 * 1000), null);
  assert.equal(parseRetryAfter('2'), 2000);
  assert.equal(parseRetryAfter(new Date(Date.now() + 5000).toUTCString()) > 3000, true);
  assert.equal(parseRetryAfter('soon'), null);
});

test('a proof challenge outside the file or too large is refused', () => {
  assert.equal(challengeProblem({ ranges: [[0, 9], [3, 3]] }, 10), null);
  assert.notEqual(challengeProblem({ ranges: [[0, 10]] }, 10), null);
  assert.notEqual(challengeProblem({ ranges: [[5, 4]] }, 10), null);
  assert.notEqual(challengeProblem({ ranges: Array(65).fill([0, 0]) }, 10), null);
  assert.notEqual(challengeProblem({ ranges: [[0, 1 << 20]] }, 1 << 30), null);
  assert.notEqual(challengeProblem({}, 10), null);
});

test('without AbortController, the stand-in cuts once and tells each listener', async () => {
  const { newCutter } = await import('../src/cutter.js');
  const cutter = newCutter(null);
  let told = 0;
  cutter.signal.addEventListener('abort', () => (told += 1), { once: true });
  const removed = () => (told += 100);
  cutter.signal.addEventListener('abort', removed);
  cutter.signal.removeEventListener('abort', removed);
  cutter.abort();
  cutter.abort();
  assert.equal(cutter.signal.aborted, true);
  assert.equal(told, 1);
});

describe("the mini-program's WebAssembly SHA-256 (sha256.wasm, loaded here with Node's WebAssembly)", () => {
  const module = readFileSync(new URL('../miniprogram_dist/sha256.wasm', import.meta.url));
  const load = () => loadWasmSha256(() => WebAssembly.instantiate(module, {}));

  test('digests agree with node:crypto at every length around its 64-byte blocks and 16 KiB buffer', async () => {
    const engine = await load();
    for (const length of [0, 1, 55, 56, 63, 64, 65, 16383, 16384, 16385, 100_000]) {
      const bytes = randomBytes(length);
      const want = createHash('sha256').update(bytes).digest('hex');
      assert.equal(toHex(engine.digest(bytes)), want, `one-shot, ${length} bytes`);
      const hasher = await engine.createHasher();
      hasher.update(bytes.subarray(0, length >> 1)).update(bytes.subarray(length >> 1));
      assert.equal(toHex(hasher.digest()), want, `streamed, ${length} bytes`);
    }
  });

  test('two files hashed at once and chunk digests in between do not disturb each other', async () => {
    const engine = await load();
    const [a, b] = [randomBytes(70_000), randomBytes(50_000)];
    const [hashA, hashB] = [await engine.createHasher(), await engine.createHasher()];
    for (let offset = 0; offset < 70_000; offset += 10_000) {
      hashA.update(a.subarray(offset, offset + 10_000));
      engine.digest(randomBytes(1000));
      hashB.update(b.subarray(offset, offset + 10_000));
    }
    assert.equal(toHex(hashA.digest()), createHash('sha256').update(a).digest('hex'));
    assert.equal(toHex(hashB.digest()), createHash('sha256').update(b).digest('hex'));
  });

  test('a module that gives a wrong digest is refused', async () => {
    const lying = async () => {
      const { instance } = await WebAssembly.instantiate(module, {});
      return { instance: { exports: { ...instance.exports, Hash_Update: () => {} } } };
    };
    await assert.rejects(loadWasmSha256(lying), /wrong digest/);
  });
});
