// The client against a real ferryd, through a proxy that counts requests.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { upload } from '../src/index.js';
import { nodePlatform } from '../src/platforms/node.js';
import { heldChunks, JWT_SECRET, loseChunk, mintToken, sessionOf, startFerryd } from './ferryd.js';
import { download, randomFile } from './files.js';
import { startProxy } from './proxy.js';

const CHUNK = 256 << 10;
const platform = nodePlatform();

describe('uploads to a ferryd without authentication', () => {
  let ferryd;
  before(async () => {
    ferryd = await startFerryd();
  });
  after(() => ferryd.stop());

  test('a file uploads and downloads byte-identical, with progress through each phase', async () => {
    const file = randomFile(3 * CHUNK + 12345, 'lecture.mp4');
    const phases = new Set();
    let last = null;
    const result = await upload({
      server: ferryd.url,
      file: file.path,
      platform,
      chunkSize: CHUNK,
      onProgress: (event) => {
        phases.add(event.phase);
        last = event;
      },
    }).done;
    assert.equal(result.sha256, file.sha256);
    assert.equal(result.sentBytes, file.bytes.length);
    assert.match(result.url, new RegExp(`^${ferryd.url}/v1/files/${file.sha256}/lecture.mp4`));
    assert.deepEqual(await download(result.url), file.bytes);
    assert.deepEqual([...phases], ['hashing', 'uploading', 'merging', 'done']);
    assert.equal(last.bytesDone, file.bytes.length);
    assert.equal(last.eta, 0);
  });

  test('a zero-byte file publishes', async () => {
    const file = randomFile(0, 'empty.txt');
    const result = await upload({ server: ferryd.url, file: file.path, platform }).done;
    assert.equal(result.size, 0);
    assert.deepEqual(await download(result.url), Buffer.alloc(0));
  });

  test('chunks go four at a time by default, never more', async () => {
    const file = randomFile(12 * CHUNK);
    let release;
    const allFour = new Promise((resolve) => (release = resolve));
    const proxy = await startProxy(ferryd.url, async (record, proxy) => {
      if (record.chunk === null) return;
      if (proxy.open >= 4) release();
      await allFour;
    });
    try {
      const result = await upload({ server: proxy.url, file: file.path, platform, chunkSize: CHUNK }).done;
      assert.equal(proxy.maxOpen, 4);
      assert.equal(proxy.chunkRequests().length, 12);
      assert.deepEqual(await download(`${ferryd.url}/v1/files/${result.sha256}`), file.bytes);
    } finally {
      await proxy.stop();
    }
  });

  test('after an abort, uploading the file again sends only the chunks the server lacks', async () => {
    const file = randomFile(10 * CHUNK + 1);
    const proxy = await startProxy(ferryd.url);
    try {
      const first = upload({ server: proxy.url, file: file.path, platform, chunkSize: CHUNK, parallel: 2 });
      first.onProgress((event) => {
        if (event.phase === 'uploading' && event.sentBytes >= 3 * CHUNK) first.abort();
      });
      await assert.rejects(first.done, { name: 'AbortError' });
      await proxy.whenIdle();
      const { body: session } = await sessionOf(ferryd.url, file.sha256);
      const held = heldChunks(session);
      assert.equal(session.status, 'uploading');
      assert.ok(held.length >= 3 && held.length < 11, `held ${held}`);

      proxy.requests.length = 0;
      const result = await upload({ server: proxy.url, file: file.path, platform, chunkSize: CHUNK }).done;
      const sent = proxy.chunkRequests().map((r) => r.chunk).sort((a, b) => a - b);
      const missing = [...Array(11).keys()].filter((i) => !held.includes(i));
      // A chunk cut off by the abort may still be stored after the session
      // was read: at most one per chunk request in flight (parallel: 2).
      assert.ok(sent.every((i) => missing.includes(i)), `sent ${sent}, held ${held}`);
      assert.ok(missing.length - sent.length <= 2, `sent ${sent}, held ${held}`);
      const sentBytes = sent.reduce((bytes, i) => bytes + Math.min(CHUNK, file.bytes.length - i * CHUNK), 0);
      assert.equal(result.reusedBytes, file.bytes.length - sentBytes);
      assert.deepEqual(await download(result.url), file.bytes);
    } finally {
      await proxy.stop();
    }
  });

  test('a chunk the store lost after accepting it is sent again and the file published', async () => {
    const file = randomFile(3 * CHUNK - 100);
    const created = await fetch(`${ferryd.url}/v1/uploads`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ sha256: file.sha256, size: file.bytes.length, chunk_size: CHUNK }),
    });
    assert.equal(created.status, 201);
    for (let index = 0; index < 3; index++) {
      const chunk = file.bytes.subarray(index * CHUNK, (index + 1) * CHUNK);
      const sent = await fetch(`${ferryd.url}/v1/uploads/${file.sha256}/chunks/${index}`, { method: 'PUT', body: chunk });
      assert.equal(sent.status, 200);
    }
    assert.equal(loseChunk(ferryd.folder, 1), 1);
    const proxy = await startProxy(ferryd.url);
    try {
      const result = await upload({ server: proxy.url, file: file.path, platform, chunkSize: CHUNK }).done;
      assert.deepEqual(proxy.chunkRequests().map((r) => r.chunk), [1]);
      assert.deepEqual(await download(result.url), file.bytes);
    } finally {
      await proxy.stop();
    }
  });

  test('a file the server already holds uploads instantly, sending no chunk', async () => {
    const file = randomFile(4 * CHUNK);
    await upload({ server: ferryd.url, file: file.path, platform, chunkSize: CHUNK }).done;
    const proxy = await startProxy(ferryd.url);
    try {
      const result = await upload({ server: proxy.url, file: file.path, platform, chunkSize: CHUNK }).done;
      assert.equal(proxy.chunkRequests().length, 0);
      assert.equal(result.sentBytes, 0);
      assert.deepEqual(proxy.requests.map((r) => r.method + ' ' + r.url), ['POST /v1/uploads']);
    } finally {
      await proxy.stop();
    }
  });

  test('pause stops sending and resume finishes the upload', async () => {
    const file = randomFile(8 * CHUNK);
    const proxy = await startProxy(ferryd.url);
    try {
      const task = upload({ server: proxy.url, file: file.path, platform, chunkSize: CHUNK, parallel: 1 });
      let paused;
      const pausedOnce = new Promise((resolve) => (paused = resolve));
      task.onProgress((event) => {
        if (event.phase === 'uploading' && event.sentBytes === 2 * CHUNK && !task.paused) {
          task.pause();
          paused();
        }
      });
      await pausedOnce;
      await proxy.whenIdle();
      const sentWhilePaused = proxy.chunkRequests().length;
      const { body: session } = await sessionOf(ferryd.url, file.sha256);
      assert.equal(session.received_bytes, 2 * CHUNK);
      task.resume();
      const result = await task.done;
      assert.ok(sentWhilePaused <= 3);
      assert.deepEqual(await download(result.url), file.bytes);
    } finally {
      await proxy.stop();
    }
  });

  test('transient failures are retried: 503s, cut connections and a 429 waited out for its Retry-After', async () => {
    const file = randomFile(6 * CHUNK);
    const faults = [];
    let seen = 0;
    const proxy = await startProxy(ferryd.url, (record) => {
      seen += 1;
      if (seen === 1) {
        faults.push({ kind: 'reset', record });
        return 'reset';
      }
      if (record.chunk === null) return;
      const earlier = faults.filter((fault) => fault.record.chunk === record.chunk).length;
      if (record.chunk === 0 && earlier === 0) {
        faults.push({ kind: '429', record });
        return { status: 429, headers: { 'Retry-After': '1', 'Content-Type': 'application/json' }, body: '{"code":"too-many-requests","message":"slow down"}' };
      }
      if (record.chunk % 2 === 1 && earlier < 2) {
        faults.push({ kind: earlier === 0 ? '503' : 'reset', record });
        return earlier === 0 ? { status: 503, body: '{"code":"unavailable","message":"later"}' } : 'reset';
      }
    });
    try {
      const result = await upload({ server: proxy.url, file: file.path, platform, chunkSize: CHUNK }).done;
      assert.deepEqual(await download(result.url), file.bytes);
      assert.equal(faults.length, 1 + 1 + 3 * 2);
      const refused = faults.find((fault) => fault.kind === '429').record;
      const again = proxy.requests.find((r) => r.chunk === 0 && r !== refused);
      assert.ok(again.at - refused.at >= 1000, `chunk 0 was sent again after ${again.at - refused.at} ms`);
    } finally {
      await proxy.stop();
    }
  });

  test('a request that keeps failing gives up after its attempts with the server\'s error', async () => {
    const file = randomFile(2 * CHUNK);
    const proxy = await startProxy(ferryd.url, (record) =>
      record.chunk === 1 ? { status: 503, body: '{"code":"unavailable","message":"store down"}' } : undefined,
    );
    try {
      const task = upload({ server: proxy.url, file: file.path, platform, chunkSize: CHUNK, retry: { attempts: 3, baseMs: 1 } });
      await assert.rejects(task.done, { name: 'FerryError', code: 'unavailable', status: 503 });
      assert.equal(proxy.chunkRequests().filter((r) => r.chunk === 1).length, 3);
    } finally {
      await proxy.stop();
    }
  });
});

describe('uploads to a ferryd that answers complete before merging', () => {
  let ferryd;
  before(async () => {
    ferryd = await startFerryd({ FERRY_MERGE_WAIT: '0s' });
  });
  after(() => ferryd.stop());

  test('a 202 while merging is waited out until the file is published', async () => {
    const file = randomFile(8 * CHUNK);
    const proxy = await startProxy(ferryd.url);
    try {
      const phases = [];
      const result = await upload({
        server: proxy.url,
        file: file.path,
        platform,
        chunkSize: CHUNK,
        onProgress: ({ phase }) => phases.push(phase),
      }).done;
      const completes = proxy.requests.filter((r) => r.url.endsWith('/complete')).map((r) => r.status);
      assert.equal(completes[0], 202);
      assert.equal(completes.at(-1), 200);
      assert.ok(phases.includes('merging'));
      assert.deepEqual(await download(result.url), file.bytes);
    } finally {
      await proxy.stop();
    }
  });
});

describe('uploads to a ferryd that requires tokens and proof of possession', () => {
  let ferryd;
  before(async () => {
    ferryd = await startFerryd({
      FERRY_JWT_SECRET: JWT_SECRET,
      FERRY_INSTANT_UPLOAD: 'proof',
      FERRY_PROOF_KEY: 'a-proof-key-for-the-tests-0123456789',
    });
  });
  after(() => ferryd.stop());

  test('a 401 asks the token provider for a new token and the upload goes on', async () => {
    const file = randomFile(2 * CHUNK);
    const asked = [];
    const token = async ({ refresh }) => {
      asked.push(refresh);
      return refresh ? mintToken('alice') : 'an-expired-or-forged-token';
    };
    const result = await upload({ server: ferryd.url, file: file.path, platform, chunkSize: CHUNK, token }).done;
    assert.deepEqual(asked, [false, true]);
    assert.deepEqual(await download(result.url), file.bytes);
  });

  test('without a token the upload fails with unauthorized', async () => {
    const file = randomFile(CHUNK);
    await assert.rejects(upload({ server: ferryd.url, file: file.path, platform }).done, { code: 'unauthorized', status: 401 });
  });

  test('another owner holding the same file answers the proof challenge and sends no chunk', async () => {
    const file = randomFile(5 * CHUNK + 7);
    const alice = mintToken('alice');
    await upload({ server: ferryd.url, file: file.path, platform, chunkSize: CHUNK, token: () => alice }).done;
    const bob = mintToken('bob');
    const proxy = await startProxy(ferryd.url);
    try {
      const result = await upload({ server: proxy.url, file: file.path, platform, chunkSize: CHUNK, token: () => bob }).done;
      assert.equal(proxy.chunkRequests().length, 0);
      assert.deepEqual(proxy.requests.map((r) => r.method + ' ' + r.url), ['POST /v1/uploads', 'POST /v1/uploads']);
      assert.equal(result.sentBytes, 0);
      assert.deepEqual(await download(result.url), file.bytes);
    } finally {
      await proxy.stop();
    }
  });
});
