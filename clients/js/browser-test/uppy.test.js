// Uppy with @uppy/tus, unmodified, in headless Chromium on a page of
// another origin than ferryd's: an upload, a reload in the middle, the
// same file picked again and resumed to the end; the file is published
// under the SHA-256 of its bytes.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';

import { build } from 'esbuild';
import { chromium } from 'playwright-core';

import { startFerryd } from '../test/ferryd.js';
import { download, randomFile } from '../test/files.js';
import { startProxy } from '../test/proxy.js';

/** Chromium: FERRY_TEST_CHROMIUM, or Debian's. */
const CHROMIUM = process.env.FERRY_TEST_CHROMIUM ?? '/usr/bin/chromium';
const CHUNK = 1 << 20;
const SIZE = 12 * CHUNK + 777;
/** Appends the first visit may make before the rest are held back. */
const FIRST_VISIT = 4;

/** Uppy and its tus plugin, bundled for the page as `globalThis.Uppy` and `globalThis.Tus`. */
async function bundle() {
  const result = await build({
    stdin: {
      contents: "import Uppy from '@uppy/core'; import Tus from '@uppy/tus'; globalThis.Uppy = Uppy; globalThis.Tus = Tus;",
      resolveDir: new URL('.', import.meta.url).pathname,
    },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

/** The page: a file input whose file Uppy uploads to `endpoint`; the outcome lands in `window.outcome`. */
function page(endpoint) {
  return `<!doctype html><meta charset="utf-8"><input type="file" id="pick">
<script src="/uppy.js"></script>
<script>
  const uppy = new Uppy({ autoProceed: true }).use(Tus, { endpoint: ${JSON.stringify(endpoint)}, chunkSize: ${CHUNK}, retryDelays: [0, 100] });
  uppy.on('complete', (result) => {
    window.outcome = {
      successful: result.successful.map((file) => file.response.uploadURL),
      failed: result.failed.map((file) => String(file.error)),
    };
  });
  document.getElementById('pick').addEventListener('change', (event) => {
    for (const file of event.target.files) uppy.addFile({ name: file.name, type: file.type, data: file });
  });
</script>`;
}

let ferryd;
let browser;
let site;
let siteUrl;
let script;
before(async () => {
  site = http.createServer((request, response) => {
    if (request.url === '/uppy.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    } else {
      response.writeHead(200, { 'content-type': 'text/html' }).end(page(site.endpoint));
    }
  });
  await new Promise((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteUrl = `http://localhost:${site.address().port}`;
  ferryd = await startFerryd({ FERRY_CORS_ORIGINS: siteUrl });
  script = await bundle();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});
after(async () => {
  await browser?.close();
  await ferryd?.stop();
  site?.closeAllConnections();
  await new Promise((resolve) => (site ? site.close(resolve) : resolve()));
});

test('Uppy uploads from another origin, resumes after a reload, and the file is published', async () => {
  const file = randomFile(SIZE, 'talk.webm');
  let visit = 1;
  let releaseHeld;
  const held = new Promise((resolve) => (releaseHeld = resolve));
  const proxy = await startProxy(ferryd.url, async (record, proxy) => {
    if (visit !== 1 || record.method !== 'PATCH') return undefined;
    const earlier = proxy.requests.filter((r) => r.method === 'PATCH').indexOf(record);
    if (earlier >= FIRST_VISIT) {
      await held;
      return 'reset';
    }
    return undefined;
  });
  site.endpoint = `${proxy.url}/v1/tus`;
  const tab = await browser.newPage();
  try {
    await tab.goto(`${siteUrl}/`);
    await tab.setInputFiles('#pick', file.path);
    await proxy.until((p) => p.requests.filter((r) => r.method === 'PATCH' && r.status === 204).length >= FIRST_VISIT);
    await tab.reload();
    visit = 2;
    releaseHeld();
    await proxy.whenIdle();

    const before = proxy.requests.length;
    await tab.setInputFiles('#pick', file.path);
    await tab.waitForFunction(() => window.outcome, null, { timeout: 120_000 });
    const outcome = await tab.evaluate(() => window.outcome);
    assert.deepEqual(outcome.failed, []);
    assert.equal(outcome.successful.length, 1);

    const second = proxy.requests.slice(before);
    assert.equal(second[0].method, 'HEAD', 'the second visit resumed the upload');
    assert.ok(!second.some((r) => r.method === 'POST'), 'no new upload was created');
    const patches = second.filter((r) => r.method === 'PATCH').length;
    assert.equal(patches, Math.ceil(SIZE / CHUNK) - FIRST_VISIT);

    assert.deepEqual(await download(`${ferryd.url}/v1/files/${file.sha256}/talk.webm`), file.bytes);
  } finally {
    await tab.close();
    await proxy.stop();
  }
});
