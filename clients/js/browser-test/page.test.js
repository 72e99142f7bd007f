// The upload page in headless Chromium against a real ferryd: a 104 MiB
// file, a reload half-way, the same file picked again, and only the missing
// chunks sent; the link it shows serves the same bytes.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { heldChunks, sessionOf, startFerryd } from '../test/ferryd.js';
import { randomFile } from '../test/files.js';
import { startProxy } from '../test/proxy.js';

/** Chromium: FERRY_TEST_CHROMIUM, or Debian's. */
const CHROMIUM = process.env.FERRY_TEST_CHROMIUM ?? '/usr/bin/chromium';
const SIZE = 104 << 20;
const CHUNK = 4 << 20;
const CHUNKS = SIZE / CHUNK;
/** Chunks the first visit may store before every later chunk is held back. */
const FIRST_VISIT = 6;

let ferryd;
let browser;
before(async () => {
  ferryd = await startFerryd({ FERRY_DEFAULT_CHUNK_SIZE: '4MiB' });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});
after(async () => {
  await browser?.close();
  await ferryd?.stop();
});

test('a reload half-way and the same file picked again sends only the missing chunks', async () => {
  const file = randomFile(SIZE, 'lecture.mp4');
  let visit = 1;
  let releaseHeld;
  const held = new Promise((resolve) => (releaseHeld = resolve));
  const proxy = await startProxy(ferryd.url, async (record) => {
    if (visit === 1 && record.chunk !== null && record.method === 'PUT') {
      const earlier = record.chunk !== null && proxy.chunkRequests().indexOf(record) >= FIRST_VISIT;
      if (earlier) {
        await held;
        return 'reset';
      }
    }
  });
  const page = await browser.newPage({ viewport: { width: 900, height: 520 } });
  try {
    await page.goto(`${proxy.url}/`);
    await page.setInputFiles('#pick', file.path);
    await proxy.until((p) => p.storedChunks.length >= FIRST_VISIT);
    await page.reload();
    visit = 2;
    releaseHeld();
    await proxy.whenIdle();

    const { body: session } = await sessionOf(ferryd.url, file.sha256);
    assert.equal(session.status, 'uploading');
    const kept = heldChunks(session);
    assert.ok(kept.length >= FIRST_VISIT && kept.length < CHUNKS, `the server kept ${kept.length} chunks`);

    const before = proxy.requests.length;
    await page.setInputFiles('#pick', file.path);
    const link = page.locator('.upload.done .url');
    await link.waitFor({ timeout: 120_000 });
    const url = await link.inputValue();

    const resent = proxy.requests.slice(before).filter((r) => r.chunk !== null).map((r) => r.chunk).sort((a, b) => a - b);
    const missing = [...Array(CHUNKS).keys()].filter((i) => !kept.includes(i));
    assert.deepEqual(resent, missing);
    assert.match(await page.locator('.upload.done .phase').textContent(), /were already there/);

    assert.equal(url, `${proxy.url}/v1/files/${file.sha256}/lecture.mp4`);
    const response = await fetch(url);
    assert.equal(response.status, 200);
    const hash = createHash('sha256');
    for await (const piece of response.body) hash.update(piece);
    assert.equal(hash.digest('hex'), file.sha256);

    const shot = process.env.FERRY_SCREENSHOT ?? join(mkdtempSync(join(tmpdir(), 'ferry-page-')), 'upload-page.png');
    await page.screenshot({ path: shot });
  } finally {
    await page.close();
    await proxy.stop();
  }
});
