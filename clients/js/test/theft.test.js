// A client that lies about its file: it claims the SHA-256 of a file another
// owner published while it sends its own bytes of the same size, through the
// client's own code and each way of sending chunks. The server hashes what it
// received, refuses to complete, and never hands out the published file.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { upload } from '../src/index.js';
import { nodePlatform } from '../src/platforms/node.js';
import { wechatPlatform } from '../src/platforms/wechat.js';
import { JWT_SECRET, mintToken, sessionOf, startFerryd } from './ferryd.js';
import { download, randomFile } from './files.js';
import { createWx } from './wx-shim.js';

const CHUNK = 256 << 10;
/** Four chunks, the last one short. */
const SIZE = 3 * CHUNK + 4321;

/**
 * `platform` that reports `claimed` as its file's SHA-256 while it reads and
 * sends the file's own bytes; every request it sends is kept in `exchanges`
 * with the answer it got.
 */
function lyingAbout(claimed, platform) {
  const exchanges = [];
  const witnessed = (send) => async (request) => {
    const exchange = { request, answer: null };
    exchanges.push(exchange);
    exchange.answer = await send(request);
    return exchange.answer;
  };
  const liar = { ...platform, hashFile: async () => claimed, fetch: witnessed(platform.fetch) };
  if (platform.sendChunk) liar.sendChunk = witnessed(platform.sendChunk);
  return { platform: liar, exchanges };
}

/**
 * The ways a client sends chunks: the platform and file to upload with, and
 * a check that the chunks went that way.
 */
const clients = [
  {
    name: 'the Node platform (PUT)',
    open: (file) => ({
      platform: nodePlatform(),
      file: file.path,
      sentItsWay: (chunks) => assert.ok(chunks.every((r) => r.method === 'PUT'), 'every chunk went as a raw PUT'),
    }),
  },
  {
    name: 'the WeChat platform (wx.uploadFile POST)',
    open: (file) => {
      const { wx, seen } = createWx();
      return {
        platform: wechatPlatform({ wx, uploadFile: true }),
        file: { path: file.path, size: file.bytes.length, name: 'clip.mp4' },
        sentItsWay: (chunks) => {
          assert.equal(seen.uploads, chunks.length, 'every chunk went by wx.uploadFile');
          assert.equal(seen.requests.filter((r) => r.method === 'PUT').length, 0, 'none by wx.request');
        },
      };
    },
  },
];

const instantUploads = [
  { mode: 'proof, the default with signed downloads', env: {}, challenged: true },
  { mode: 'off', env: { FERRY_INSTANT_UPLOAD: 'off' }, challenged: false },
];

for (const { mode, env, challenged } of instantUploads) {
  describe(`a ferryd with tokens, signed downloads and instant upload ${mode}`, () => {
    let ferryd;
    before(async () => {
      ferryd = await startFerryd({
        FERRY_JWT_SECRET: JWT_SECRET,
        FERRY_DOWNLOADS: 'signed',
        FERRY_DOWNLOAD_KEY: 'a-download-key-for-the-tests-0123456789',
        ...env,
      });
    });
    after(() => ferryd.stop());

    for (const client of clients) {
      test(`a client that claims a published file's hash and sends other bytes by ${client.name} is refused with hash-mismatch and gets no URL`, async () => {
        const alice = mintToken('alice');
        const victim = randomFile(SIZE, 'published.bin');
        const published = await upload({ server: ferryd.url, file: victim.path, platform: nodePlatform(), chunkSize: CHUNK, token: () => alice }).done;
        const own = randomFile(SIZE, 'other.bin');
        assert.notEqual(own.sha256, victim.sha256);

        const mallory = mintToken('mallory');
        const chosen = client.open(own);
        const liar = lyingAbout(victim.sha256, chosen.platform);
        const theft = upload({ server: ferryd.url, file: chosen.file, platform: liar.platform, chunkSize: CHUNK, token: () => mallory });

        await assert.rejects(theft.done, { name: 'FerryError', code: 'hash-mismatch', status: 422 });
        const sent = (matches) => liar.exchanges.filter(({ request }) => matches(request));
        const creates = sent((r) => r.method === 'POST' && r.url.endsWith('/v1/uploads'));
        for (const { request } of creates) assert.equal(JSON.parse(request.body).sha256, victim.sha256, 'the claimed hash was sent');
        if (challenged) {
          assert.equal(creates.length, 2, 'a create for the challenge, one with the proof');
          assert.ok(JSON.parse(creates[0].answer.body).proof_challenge, 'the server asked for proof of possession');
          assert.match(JSON.parse(creates[1].request.body).proof, /^[0-9a-f]{64}$/, 'the client answered it from its own bytes');
          assert.equal(JSON.parse(creates[1].answer.body).status, 'uploading', 'the proof did not pass');
        } else {
          assert.equal(creates.length, 1);
          assert.equal(JSON.parse(creates[0].answer.body).proof_challenge ?? null, null, 'no proof was asked for');
        }
        const chunks = sent((r) => r.url.includes(`/v1/uploads/${victim.sha256}/chunks/`));
        assert.equal(chunks.length, 4, 'every chunk was sent, none reused');
        chosen.sentItsWay(chunks.map(({ request }) => request));
        const completes = sent((r) => r.url.endsWith(`/v1/uploads/${victim.sha256}/complete`));
        assert.deepEqual(completes.map(({ answer }) => answer.status), [422], 'complete refused the session');
        for (const { answer } of liar.exchanges) {
          assert.doesNotMatch(answer.body, /\/v1\/files\//, 'no answer to the client names a file URL');
        }

        const { body: session } = await sessionOf(ferryd.url, victim.sha256, mallory);
        assert.equal(session.status, 'failed');
        assert.equal(session.file, null);
        assert.deepEqual(await download(published.url), victim.bytes, "the published file is still the owner's bytes");
      });
    }
  });
}
