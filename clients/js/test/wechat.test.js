// The WeChat adapter against a `wx` that behaves as the platform does,
// backed by real HTTP to a real ferryd.

import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { upload } from '../src/index.js';
import { wechatPlatform } from '../src/platforms/wechat.js';
import { startFerryd } from './ferryd.js';
import { download, randomFile } from './files.js';
import { startProxy } from './proxy.js';
import { createWx } from './wx-shim.js';

const CHUNK = 256 << 10;

describe('the WeChat adapter', () => {
  let ferryd;
  before(async () => {
    ferryd = await startFerryd();
  });
  after(() => ferryd.stop());

  const tempFile = (file) => ({ path: file.path, size: file.bytes.length, name: 'clip.mp4', type: 'video' });

  test('PUTs ArrayBuffer chunks, reads by position and length, and stays within 10 requests when asked for 16', async () => {
    const { wx, seen } = createWx();
    const file = randomFile(24 * CHUNK + 99);
    let release;
    const tenOpen = new Promise((resolve) => (release = resolve));
    const proxy = await startProxy(ferryd.url, async (record, proxy) => {
      if (record.chunk === null) return;
      if (proxy.open >= 10) release();
      await tenOpen;
    });
    try {
      const result = await upload({
        server: proxy.url,
        file: tempFile(file),
        platform: wechatPlatform({ wx }),
        chunkSize: CHUNK,
        parallel: 16,
      }).done;
      assert.deepEqual(await download(`${ferryd.url}/v1/files/${result.sha256}`), file.bytes);
    } finally {
      await proxy.stop();
    }
    assert.equal(seen.refused.length, 0);
    assert.equal(seen.maxRunning, 10);
    assert.equal(seen.requests.filter((r) => r.method === 'PUT').length, 25);
    assert.ok(Math.max(...seen.reads) <= 4 << 20, `largest read ${Math.max(...seen.reads)} bytes`);
    assert.equal(seen.reads.reduce((a, b) => a + b, 0), 2 * file.bytes.length);
  });

  test('sends chunks with wx.uploadFile as multipart POSTs and removes its temporary files', async () => {
    const { wx, seen, userData } = createWx();
    const file = randomFile(6 * CHUNK + 1);
    const result = await upload({
      server: ferryd.url,
      file: tempFile(file),
      platform: wechatPlatform({ wx, uploadFile: true }),
      chunkSize: CHUNK,
    }).done;
    assert.deepEqual(await download(result.url), file.bytes);
    assert.equal(seen.uploads, 7);
    assert.equal(seen.requests.filter((r) => r.method === 'PUT').length, 0);
    assert.deepEqual(readdirSync(userData), []);
  });

  test('a wx whose other requests hold slots still never sees an 11th request', async () => {
    const { wx, seen } = createWx();
    const platform = wechatPlatform({ wx });
    const file = randomFile(12 * CHUNK);
    const app = Array.from({ length: 4 }, () => platform.fetch({ method: 'GET', url: `${ferryd.url}/healthz`, headers: {} }));
    const result = await upload({ server: ferryd.url, file: tempFile(file), platform, chunkSize: CHUNK, parallel: 10 }).done;
    await Promise.all(app);
    assert.deepEqual(await download(result.url), file.bytes);
    assert.equal(seen.refused.length, 0);
    assert.ok(seen.maxRunning <= 10);
  });

  test("the app's background and its user's pause() are separate holds: each waits for its own end", async () => {
    const { wx, seen, life } = createWx();
    const platform = wechatPlatform({ wx });
    const file = randomFile(6 * CHUNK);
    let userPaused = false;
    const sentWhileUserPaused = [];
    const request = wx.request;
    wx.request = (options) => {
      if (userPaused) sentWhileUserPaused.push(options.url);
      return request(options);
    };
    /** A round trip to ferryd: time enough for an upload released by mistake to send. */
    const roundTrip = () => fetch(`${ferryd.url}/healthz`);
    const stored = () => seen.requests.filter((r) => r.method === 'PUT' && r.status === 200).length;

    const task = upload({ server: ferryd.url, file: tempFile(file), platform, chunkSize: CHUNK, parallel: 1, retry: { attempts: 1 } });
    await life.until(() => stored() >= 1);
    task.pause();
    userPaused = true;
    life.hide();
    life.show();
    await roundTrip();
    assert.deepEqual(sentWhileUserPaused, [], 'still paused by its user after the app came back');

    life.hide();
    userPaused = false;
    task.resume();
    await roundTrip();
    life.show();
    const result = await task.done;
    assert.ok(seen.requests.every((r) => !r.hidden), 'nothing sent while hidden, resume() or not');
    assert.deepEqual(await download(result.url), file.bytes);
    assert.equal(life.listeners.hide.size + life.listeners.show.size, 0);
  });
});
