// The client's pure parts: SHA-256, base64, chunk plans, backoff, proof limits.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';

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
