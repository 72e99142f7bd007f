// tus-js-client, unmodified, against a real ferryd: every upload must end
// with the file published under the SHA-256 of the bytes sent.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import * as tus from 'tus-js-client';

import { startFerryd } from './ferryd.js';
import { download, randomFile } from './files.js';
import { startProxy } from './proxy.js';

/** Uploads `bytes` with tus-js-client; resolves with the upload once it succeeded. */
function tusUpload(bytes, options) {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(bytes, {
      retryDelays: [0, 50, 100],
      ...options,
      onSuccess: (payload) => resolve({ upload, response: payload?.lastResponse }),
      onError: reject,
    });
    upload.start();
  });
}

/** Checks that the file `file` is published, byte for byte, where the answer says. */
async function assertPublished(server, file, response) {
  assert.deepEqual(await download(`${server}/v1/files/${file.sha256}`), file.bytes);
  if (response) {
    const where = response.getHeader('Content-Location');
    assert.ok(where?.startsWith(`/v1/files/${file.sha256}`), `Content-Location ${where}`);
    const digest = Buffer.from(file.sha256, 'hex').toString('base64');
    assert.equal(response.getHeader('Repr-Digest'), `sha-256=:${digest}:`);
  }
}

describe('tus-js-client against ferryd', () => {
  let ferryd;
  let endpoint;
  before(async () => {
    ferryd = await startFerryd();
    endpoint = `${ferryd.url}/v1/tus`;
  });
  after(() => ferryd.stop());

  test('a file uploads with the defaults: one creation, one append', async () => {
    const file = randomFile((1 << 20) + 4321, 'lecture.mp4');
    const { response } = await tusUpload(file.bytes, {
      endpoint,
      metadata: { filename: 'lecture.mp4', filetype: 'video/mp4' },
    });
    await assertPublished(ferryd.url, file, response);
    assert.match(response.getHeader('Content-Location'), /\/lecture\.mp4$/);
  });

  test('a file sent in many appends publishes whole', async () => {
    const file = randomFile(5 * 65536 + 17);
    const { response } = await tusUpload(file.bytes, { endpoint, chunkSize: 65536 });
    await assertPublished(ferryd.url, file, response);
  });

  test('creation with upload sends the first bytes with the creation', async () => {
    const file = randomFile(300000);
    const proxy = await startProxy(ferryd.url);
    try {
      const { response } = await tusUpload(file.bytes, {
        endpoint: `${proxy.url}/v1/tus`,
        uploadDataDuringCreation: true,
        chunkSize: 100000,
      });
      await assertPublished(ferryd.url, file, response);
      assert.deepEqual(
        proxy.requests.map((r) => r.method),
        ['POST', 'PATCH', 'PATCH'],
      );
    } finally {
      await proxy.stop();
    }
  });

  test('a deferred length is learned with the last append', async () => {
    const file = randomFile(200000);
    const { response } = await tusUpload(file.bytes, {
      endpoint,
      uploadLengthDeferred: true,
      chunkSize: 65536,
    });
    await assertPublished(ferryd.url, file, response);
  });

  test('three partial uploads in parallel join into one published file', async () => {
    const file = randomFile(3 * 100000 + 2, 'parts.bin');
    await tusUpload(file.bytes, { endpoint, parallelUploads: 3, metadata: { filename: 'parts.bin' } });
    await assertPublished(ferryd.url, file);
  });

  test('a zero-byte file publishes at its creation', async () => {
    const file = randomFile(0);
    await tusUpload(file.bytes, { endpoint });
    await assertPublished(ferryd.url, file);
  });

  test('an aborted upload resumes from its URL where it stopped', async () => {
    const file = randomFile(8 * 65536);
    const first = await new Promise((resolve, reject) => {
      const upload = new tus.Upload(file.bytes, {
        endpoint,
        chunkSize: 65536,
        onChunkComplete: (_, sent) => {
          if (sent >= 3 * 65536) upload.abort().then(() => resolve(upload), reject);
        },
        onSuccess: () => reject(new Error('the upload was to be aborted')),
        onError: reject,
      });
      upload.start();
    });
    const proxy = await startProxy(ferryd.url);
    try {
      const resumeAt = first.url.replace(ferryd.url, proxy.url);
      const { response } = await tusUpload(file.bytes, { endpoint, uploadUrl: resumeAt, chunkSize: 65536 });
      await assertPublished(ferryd.url, file, response);
      assert.equal(proxy.requests[0].method, 'HEAD');
      assert.equal(proxy.requests.filter((r) => r.method === 'PATCH').length, 5);
    } finally {
      await proxy.stop();
    }
  });

  test('an append cut off midway is sent again from the offset ferryd kept', async () => {
    const file = randomFile(1 << 20);
    const target = new URL(ferryd.url);
    let cut = false;
    const proxy = http.createServer((req, res) => {
      const forward = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.destroy());
      let passed = 0;
      req.on('data', (piece) => {
        passed += piece.length;
        if (req.method === 'PATCH' && !cut && passed > 300000) {
          cut = true;
          forward.destroy();
          req.socket.destroy();
        }
      });
      req.pipe(forward);
    });
    await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const { response } = await tusUpload(file.bytes, {
        endpoint: `http://127.0.0.1:${proxy.address().port}/v1/tus`,
      });
      assert.ok(cut, 'the first append was cut');
      await assertPublished(ferryd.url, file, response);
    } finally {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  test('a stale upload URL is dropped and the upload starts over', async () => {
    const file = randomFile(70000);
    const stale = `${endpoint}/${randomUUID()}`;
    const { upload, response } = await tusUpload(file.bytes, { endpoint, uploadUrl: stale });
    assert.notEqual(upload.url, stale);
    assert.match(upload.url, new RegExp(`^${endpoint}/`));
    await assertPublished(ferryd.url, file, response);
  });

  for (const protocol of ['ietf-draft-03', 'ietf-draft-05']) {
    test(`the IETF draft as tus-js-client's ${protocol} speaks it`, async () => {
      const file = randomFile(3 * 65536 + 99);
      const { response } = await tusUpload(file.bytes, { endpoint, protocol, chunkSize: 65536 });
      await assertPublished(ferryd.url, file, response);
      assert.equal(response.getHeader('Upload-Complete'), '?1');
    });
  }

  test('the same bytes uploaded twice are stored once and both uploads succeed', async () => {
    const file = randomFile(123456);
    const first = await tusUpload(file.bytes, { endpoint });
    const second = await tusUpload(file.bytes, { endpoint, chunkSize: 50000 });
    assert.notEqual(first.upload.url, second.upload.url);
    await assertPublished(ferryd.url, file, second.response);
  });
});
