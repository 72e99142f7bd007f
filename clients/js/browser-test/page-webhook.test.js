// The upload page in headless Chromium against a ferryd with a webhook: a
// file the page uploads reaches the app once, as a signed upload.completed.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { startFerryd } from '../test/ferryd.js';
import { randomFile } from '../test/files.js';
import { WEBHOOK_SECRET, startReceiver } from '../test/receiver.js';

/** Chromium: FERRY_TEST_CHROMIUM, or Debian's. */
const CHROMIUM = process.env.FERRY_TEST_CHROMIUM ?? '/usr/bin/chromium';

let ferryd;
let receiver;
let browser;
before(async () => {
  receiver = await startReceiver();
  ferryd = await startFerryd({ FERRY_WEBHOOK_URL: receiver.url, FERRY_WEBHOOK_SECRET: WEBHOOK_SECRET });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});
after(async () => {
  await browser?.close();
  await ferryd?.stop();
  await receiver?.close();
});

test('a file uploaded with the page is announced once, signed', async () => {
  const file = randomFile(3 << 20, 'poster.png');
  const page = await browser.newPage();
  try {
    await page.goto(`${ferryd.url}/`);
    await page.setInputFiles('#pick', file.path);
    await page.locator('.upload.done .url').waitFor({ timeout: 120_000 });
  } finally {
    await page.close();
  }
  const isCompleted = (entry) => entry.event.type === 'upload.completed' && entry.event.data.sha256 === file.sha256;
  await receiver.waitFor((events) => events.some(isCompleted));
  const announced = receiver.events.filter(isCompleted);
  assert.equal(announced.length, 1);
  assert.ok(announced[0].verified, 'the signature verifies');
  assert.equal(announced[0].event.data.filename, 'poster.png');
  assert.equal(announced[0].event.data.size, file.bytes.length);
});
