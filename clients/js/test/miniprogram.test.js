// The package as a WeChat mini-program gets it: packed by npm, installed into
// a mini-program project, built by miniprogram-ci's npm builder (the one the
// WeChat developer tools run), and loaded from the built miniprogram_npm
// folder into a node:vm context that holds only what the mini-program runtime
// has: `wx`, the timers, `console` and the language's own built-ins up to
// ES2017, as an older phone's engine has them. No fetch, URL, TextEncoder,
// AbortController, crypto, Buffer or process, no globalThis or
// Object.fromEntries, and no Node modules to require. The `wx` behaves as the
// platform does (no PATCH, the 11th request at once fails) and uploads to a
// real ferryd.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { after, before, describe, test } from 'node:test';

import { heldChunks, JWT_SECRET, mintToken, sessionOf, startFerryd } from './ferryd.js';
import { download, randomFile } from './files.js';
import { startProxy } from './proxy.js';
import { createWx } from './wx-shim.js';

const CHUNK = 256 << 10;
const PACKAGE = join(dirname(fileURLToPath(import.meta.url)), '..');
const requireHere = createRequire(import.meta.url);

/** Globals of browsers and Node that a mini-program's JavaScript runtime lacks. */
const ABSENT = ['fetch', 'URL', 'TextEncoder', 'TextDecoder', 'AbortController', 'crypto', 'Blob', 'Buffer', 'process', 'require', 'queueMicrotask', 'setImmediate'];

/** Built-ins newer than ES2017, which older phones' engines lack: taken out of the runtime. */
const NEWER_THAN_ES2017 = [
  'globalThis',
  'Object.fromEntries',
  'Array.prototype.flat',
  'Array.prototype.flatMap',
  'Array.prototype.at',
  'String.prototype.matchAll',
  'String.prototype.replaceAll',
  'String.prototype.trimStart',
  'String.prototype.trimEnd',
  'Promise.prototype.finally',
  'Promise.allSettled',
  'Promise.any',
  'Object.hasOwn',
];

/**
 * Packs the package, installs the tarball into a new mini-program project and
 * runs WeChat's npm builder over it: the project's folder and what the
 * builder reported.
 */
async function buildMiniProgramProject() {
  const project = mkdtempSync(join(tmpdir(), 'ferry-miniprogram-'));
  const npm = (args, cwd) => execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, stdio: 'pipe' });
  npm(['pack', '--pack-destination', project], PACKAGE);
  const tarball = readdirSync(project).find((name) => name.endsWith('.tgz'));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'ferry-in-a-mini-program', version: '1.0.0', private: true }));
  writeFileSync(join(project, 'app.json'), JSON.stringify({ pages: ['pages/index/index'] }));
  writeFileSync(
    join(project, 'project.config.json'),
    JSON.stringify({ appid: 'touristappid', compileType: 'miniprogram', miniprogramRoot: './', setting: { packNpmManually: true } }),
  );
  npm(['install', '--offline', `./${tarball}`], project);
  const ci = requireHere('miniprogram-ci');
  const report = await ci.packNpmManually({ packageJsonPath: join(project, 'package.json'), miniprogramNpmDistDir: project });
  return { project, report, miniprogramNpm: join(project, 'miniprogram_npm') };
}

/**
 * A new mini-program runtime holding `wx`: `require(name)` loads a package
 * from `miniprogramNpm` as the mini-program's own CommonJS loader does,
 * resolving relative paths inside that folder and nothing else.
 */
function miniProgramRuntime(miniprogramNpm, wx, globals = {}) {
  const context = vm.createContext({ wx, setTimeout, clearTimeout, setInterval, clearInterval, console, ...globals });
  vm.runInContext([...NEWER_THAN_ES2017, 'WebAssembly'].map((path) => `delete ${path};`).join('\n'), context);
  const modules = new Map();
  const load = (file) => {
    if (!modules.has(file)) {
      const module = { exports: {} };
      modules.set(file, module);
      const source = readFileSync(file, 'utf8');
      const wrapped = vm.runInContext(`(function (require, module, exports) {${source}\n})`, context, { filename: file });
      wrapped.call(module.exports, (request) => load(resolveInside(miniprogramNpm, dirname(file), request)), module, module.exports);
    }
    return modules.get(file).exports;
  };
  return {
    evaluate: (code) => vm.runInContext(code, context),
    require: (name) => load(resolveInside(miniprogramNpm, miniprogramNpm, `./${name}`)),
  };
}

/** The file `request` names from `from`, which must lie inside `root`. */
function resolveInside(root, from, request) {
  if (!request.startsWith('./') && !request.startsWith('../')) {
    throw new Error(`a mini-program's package cannot require '${request}'`);
  }
  const path = resolve(from, request);
  for (const candidate of [path, `${path}.js`, join(path, 'index.js')]) {
    if (candidate.startsWith(root + sep) && existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  throw new Error(`'${request}' from ${from} is no file inside ${root}`);
}

/**
 * WeChat's WXWebAssembly over the built project: `instantiate(path)` loads
 * a .wasm file of the code package, as the base library does from 2.13.0.
 */
function wxWebAssembly(project) {
  const loaded = [];
  return {
    loaded,
    WXWebAssembly: {
      instantiate(path, imports) {
        loaded.push(path);
        if (!path.startsWith('/') || !/\.wasm$/.test(path)) return Promise.reject(new Error(`not a code package path: ${path}`));
        return WebAssembly.instantiate(readFileSync(join(project, path)), imports);
      },
    },
  };
}

/** A token for `sub` signed with JWT_SECRET that expired an hour ago. */
function expiredToken(sub) {
  const now = Math.floor(Date.now() / 1000);
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub, iat: now - 7200, exp: now - 3600 })}`;
  return `${unsigned}.${createHmac('sha256', JWT_SECRET).update(unsigned).digest('base64url')}`;
}

/** Resolves once `holds()` is true, looked at every few milliseconds. */
async function until(holds) {
  while (!holds()) await new Promise((resolve) => setTimeout(resolve, 5));
}

/**
 * Asserts that the chunks sent through `proxy` are among those of
 * `chunkCount` that the server did not hold when read (`held`), short by at
 * most one per chunk in flight (2): a chunk whose body reached ferryd before
 * an abort or a kill may be stored after the session was read.
 */
function assertSentOnlyWhatWasMissing(proxy, held, chunkCount) {
  const sent = proxy.chunkRequests().map((r) => r.chunk).sort((a, b) => a - b);
  const missing = [...Array(chunkCount).keys()].filter((i) => !held.includes(i));
  assert.ok(sent.every((i) => missing.includes(i)), `sent ${sent}, held ${held}`);
  assert.ok(missing.length - sent.length <= 2, `sent ${sent}, held ${held}`);
}

/** `file` as wx.chooseMessageFile gives it. */
const chosen = (file, name = 'clip.mp4') => ({ path: file.path, size: file.bytes.length, name });

describe('the package in a WeChat mini-program', () => {
  let built;
  before(async () => {
    built = await buildMiniProgramProject();
  });
  after(() => rmSync(built.project, { recursive: true, force: true }));

  /**
   * The client as `require('@ferry/client')` gives it in a runtime whose
   * `wx` behaves as WeChat's, with WXWebAssembly unless `baseLibraryBefore213`.
   */
  const ferryClient = ({ baseLibraryBefore213 = false } = {}) => {
    const { wx, seen, life } = createWx();
    const wasm = wxWebAssembly(built.project);
    const runtime = miniProgramRuntime(built.miniprogramNpm, wx, baseLibraryBefore213 ? {} : { WXWebAssembly: wasm.WXWebAssembly });
    return { client: runtime.require('@ferry/client'), seen, life, runtime, wasmLoaded: wasm.loaded };
  };

  test("WeChat's npm builder copies the package's mini-program files without a warning, at ES2015 syntax", () => {
    assert.deepEqual(built.report, { miniProgramPackNum: 1, otherNpmPackNum: 0, warnList: [] });
    assert.deepEqual(readdirSync(join(built.miniprogramNpm, '@ferry/client')).sort(), ['index.js', 'sha256.wasm']);
    const acorn = createRequire(requireHere.resolve('miniprogram-ci'))('acorn');
    const source = readFileSync(join(built.miniprogramNpm, '@ferry/client/index.js'), 'utf8');
    assert.doesNotThrow(() => acorn.parse(source, { ecmaVersion: 2015, sourceType: 'script' }));
  });

  test("one require gives upload, the WeChat platform and the errors, in a runtime without the web's or Node's globals or built-ins newer than ES2017", () => {
    const { client, runtime } = ferryClient();
    for (const name of [...ABSENT, ...NEWER_THAN_ES2017, 'WebAssembly']) assert.equal(runtime.evaluate(`typeof ${name}`), 'undefined', `${name} is absent`);
    assert.equal(typeof client.upload, 'function');
    assert.equal(typeof client.wechatPlatform, 'function');
    assert.equal(client.WECHAT_MAX_REQUESTS, 10);
    assert.equal(new client.FerryError('refused', { code: 'x', status: 400 }).code, 'x');
    assert.equal(new client.AbortedError().name, 'AbortError');
  });

  describe('uploading to a ferryd without authentication', () => {
    let ferryd;
    before(async () => {
      ferryd = await startFerryd();
    });
    after(() => ferryd.stop());

    test('a file is published under its SHA-256 and downloads byte-identical, never more than 10 requests at once', async () => {
      const { client, seen } = ferryClient();
      const file = randomFile(24 * CHUNK + 99);
      const result = await client.upload({
        server: ferryd.url,
        file: chosen(file),
        platform: client.wechatPlatform(),
        chunkSize: CHUNK,
        parallel: 16,
      }).done;
      assert.equal(result.sha256, file.sha256);
      assert.match(result.url, new RegExp(`/v1/files/${file.sha256}/clip.mp4`));
      assert.deepEqual(await download(result.url), file.bytes);
      assert.equal(seen.requests.filter((r) => r.method === 'PUT').length, 25);
      assert.deepEqual(seen.refused, []);
      assert.ok(seen.maxRunning <= 10, `${seen.maxRunning} requests at once`);
      assert.ok(seen.requests.every((r) => r.timeout === 60_000), 'every request times out after 60 s');
    });

    test("the file is hashed in WebAssembly, from the sha256.wasm WeChat's npm builder put in the code package", async () => {
      const { client, wasmLoaded } = ferryClient();
      const platform = client.wechatPlatform();
      assert.equal(await platform.hashEngine(), 'wasm');
      const file = randomFile(3 * CHUNK + 17);
      const result = await client.upload({ server: ferryd.url, file: chosen(file), platform, chunkSize: CHUNK }).done;
      assert.equal(result.sha256, file.sha256);
      assert.deepEqual(await download(result.url), file.bytes);
      assert.ok(wasmLoaded.length >= 2, `${wasmLoaded.length} instances`);
      assert.ok(wasmLoaded.every((path) => path === '/miniprogram_npm/@ferry/client/sha256.wasm'), wasmLoaded.join());
    });

    test('before base library 2.13.0 (no WXWebAssembly), or where the module cannot load, the file is hashed in JavaScript and published the same', async () => {
      const file = randomFile(2 * CHUNK + 3);
      const older = ferryClient({ baseLibraryBefore213: true }).client;
      const olderPlatform = older.wechatPlatform();
      assert.equal(await olderPlatform.hashEngine(), 'javascript');
      const first = await older.upload({ server: ferryd.url, file: chosen(file), platform: olderPlatform, chunkSize: CHUNK }).done;
      assert.equal(first.sha256, file.sha256);

      const { client, wasmLoaded } = ferryClient();
      const misplaced = client.wechatPlatform({ wasmPath: '/subpackage/miniprogram_npm/@ferry/client/sha256.wasm' });
      assert.equal(await misplaced.hashEngine(), 'javascript');
      assert.deepEqual(wasmLoaded, ['/subpackage/miniprogram_npm/@ferry/client/sha256.wasm']);
      const again = randomFile(2 * CHUNK + 4);
      const second = await client.upload({ server: ferryd.url, file: chosen(again), platform: misplaced, chunkSize: CHUNK }).done;
      assert.equal(second.sha256, again.sha256);
      assert.deepEqual(await download(second.url), again.bytes);
    });

    test('an upload aborted midway, uploaded again, sends only the chunks the server lacks', async () => {
      const file = randomFile(10 * CHUNK + 1);
      const proxy = await startProxy(ferryd.url);
      try {
        const first = ferryClient().client;
        const task = first.upload({ server: proxy.url, file: chosen(file), platform: first.wechatPlatform(), chunkSize: CHUNK, parallel: 2 });
        task.onProgress((event) => {
          if (event.phase === 'uploading' && event.sentBytes >= 3 * CHUNK) task.abort();
        });
        await assert.rejects(task.done, { name: 'AbortError' });
        await proxy.whenIdle();
        const { body: session } = await sessionOf(ferryd.url, file.sha256);
        const held = heldChunks(session);
        assert.equal(session.status, 'uploading');
        assert.ok(held.length >= 3 && held.length < 11, `held ${held}`);

        proxy.requests.length = 0;
        const again = ferryClient().client;
        const result = await again.upload({ server: proxy.url, file: chosen(file), platform: again.wechatPlatform(), chunkSize: CHUNK }).done;
        assertSentOnlyWhatWasMissing(proxy, held, 11);
        assert.deepEqual(await download(result.url), file.bytes);
      } finally {
        await proxy.stop();
      }
    });
  });

  describe('what a mini-program lives through', () => {
    let ferryd;
    before(async () => {
      ferryd = await startFerryd();
    });
    after(() => ferryd.stop());

    const puts = (seen) => seen.requests.filter((r) => r.method === 'PUT');
    const stored = (seen) => puts(seen).filter((r) => r.status === 200);
    const inFlight = (seen) => puts(seen).filter((r) => r.status === undefined && r.errMsg === undefined);

    /**
     * Starts an upload of `file` that may not count a single failure (one
     * attempt), 2 chunks at a time, and waits until `storedAtLeast` chunks are
     * stored and another is in flight.
     */
    const uploadUntilMidway = async ({ client, life }, file, storedAtLeast, options = {}) => {
      const task = client.upload({
        server: ferryd.url,
        file: chosen(file),
        platform: client.wechatPlatform(),
        chunkSize: CHUNK,
        parallel: 2,
        retry: { attempts: 1 },
        ...options,
      });
      await life.until((s) => stored(s).length >= storedAtLeast && inFlight(s).length > 0);
      return task;
    };

    test('sent to the background, the upload holds its requests without counting the cut ones as failures, and back in the foreground sends only the chunks the server lacks', async () => {
      const app = ferryClient();
      const { seen, life } = app;
      const file = randomFile(12 * CHUNK + 5);
      const task = await uploadUntilMidway(app, file, 3);
      life.hide();
      const storedBeforeHide = new Set(stored(seen).map((r) => r.url));
      await life.until((s) => s.running === 0);
      const shownAt = seen.requests.length;
      life.show();
      const result = await task.done;

      assert.ok(puts(seen).some((r) => /^request:fail (abort|interrupted)$/.test(r.errMsg)), 'a chunk was cut');
      assert.ok(seen.requests.every((r) => !r.hidden), 'no request while hidden');
      const resent = puts({ requests: seen.requests.slice(shownAt) }).filter((r) => storedBeforeHide.has(r.url));
      assert.deepEqual(resent, []);
      assert.equal(new Set(stored(seen).map((r) => r.url)).size, 13);
      assert.equal(result.sentBytes, file.bytes.length);
      assert.deepEqual(await download(result.url), file.bytes);
      assert.equal(life.listeners.hide.size + life.listeners.show.size, 0, 'the upload unsubscribed');
    });

    test('killed midway and launched again, the same file is hashed again and only the chunks the server lacks are sent', async () => {
      const file = randomFile(10 * CHUNK + 1);
      const proxy = await startProxy(ferryd.url);
      try {
        const killed = ferryClient();
        killed.client.upload({ server: proxy.url, file: chosen(file), platform: killed.client.wechatPlatform(), chunkSize: CHUNK, parallel: 2 });
        await killed.life.until((s) => stored(s).length >= 3);
        killed.life.kill();
        await proxy.whenIdle();
        const { body: session } = await sessionOf(ferryd.url, file.sha256);
        const held = heldChunks(session);
        assert.equal(session.status, 'uploading');
        assert.ok(held.length >= 3 && held.length < 11, `held ${held}`);

        proxy.requests.length = 0;
        const relaunched = ferryClient();
        const hashed = [];
        const task = relaunched.client.upload({ server: proxy.url, file: chosen(file), platform: relaunched.client.wechatPlatform(), chunkSize: CHUNK });
        task.onProgress((event) => event.phase === 'hashing' && hashed.push(event.bytesDone));
        const result = await task.done;
        assert.equal(hashed[hashed.length - 1], file.bytes.length);
        assertSentOnlyWhatWasMissing(proxy, held, 11);
        assert.deepEqual(await download(result.url), file.bytes);
      } finally {
        await proxy.stop();
      }
    });

    test('while the network is gone the upload sends nothing and counts no failure, and it goes on once the network returns', async () => {
      const app = ferryClient();
      const { seen, life } = app;
      const file = randomFile(8 * CHUNK);
      const waits = [];
      const task = await uploadUntilMidway(app, file, 2, { onProgress: (event) => waits.push(event.waitingFor.join()) });
      life.offline();
      await life.until((s) => s.running === 0);
      const offlineAt = seen.requests.length;
      await until(() => waits.includes('offline'));
      life.online();
      const result = await task.done;

      assert.ok(puts(seen).some((r) => r.errMsg === 'request:fail abort' || r.errMsg === 'request:fail'), 'a chunk was cut');
      assert.ok(seen.requests.every((r) => !r.offline), 'no request while offline');
      assert.ok(seen.requests.length > offlineAt, 'the upload went on');
      assert.ok(waits.includes('offline'), 'progress told the page the upload waits for the network');
      assert.equal(waits[waits.length - 1], '');
      assert.deepEqual(await download(result.url), file.bytes);
      assert.equal(life.listeners.network.size, 0, 'the upload unsubscribed');
    });

    test('an upload started without a network waits for one before its first request', async () => {
      const { client, seen, life } = ferryClient();
      const file = randomFile(2 * CHUNK);
      life.offline();
      const waits = [];
      const task = client.upload({
        server: ferryd.url,
        file: chosen(file),
        platform: client.wechatPlatform(),
        chunkSize: CHUNK,
        retry: { attempts: 1 },
        onProgress: (event) => waits.push(`${event.phase}:${event.waitingFor.join()}`),
      });
      await until(() => waits.includes('hashing:offline'));
      assert.equal(seen.requests.length, 0);
      life.online();
      const result = await task.done;
      assert.ok(seen.requests.every((r) => !r.offline));
      assert.deepEqual(await download(result.url), file.bytes);
    });

    test('moved to another network, the requests in flight on the old one are sent again at once, not after their 60 s timeout', { timeout: 30_000 }, async () => {
      const app = ferryClient();
      const { seen, life } = app;
      const file = randomFile(8 * CHUNK);
      const task = await uploadUntilMidway(app, file, 2);
      const stranded = inFlight(seen);
      life.switchTo('4g');
      const result = await task.done;
      assert.ok(stranded.every((r) => r.errMsg === 'request:fail abort'), stranded.map((r) => r.errMsg).join());
      assert.ok(stranded.every((r) => stored(seen).some((s) => s.url === r.url)), 'every stranded chunk was sent again');
      assert.deepEqual(await download(result.url), file.bytes);
    });

    test('a request left unanswered fails after timeoutMs and is tried again', async () => {
      const { client, seen, life } = ferryClient();
      const file = randomFile(4 * CHUNK);
      let stalls = 0;
      life.stall((r) => r.method === 'PUT' && r.url.endsWith('/chunks/2') && stalls++ === 0);
      const result = await client.upload({
        server: ferryd.url,
        file: chosen(file),
        platform: client.wechatPlatform({ timeoutMs: 300 }),
        chunkSize: CHUNK,
      }).done;
      const chunk2 = seen.requests.filter((r) => r.url.endsWith('/chunks/2'));
      assert.deepEqual(chunk2.map((r) => r.errMsg ?? r.status), ['request:fail timeout', 200]);
      assert.ok(seen.requests.every((r) => r.timeout === 300));
      assert.deepEqual(await download(result.url), file.bytes);
    });
  });

  describe('uploading to a ferryd with tokens and signed downloads', () => {
    let ferryd;
    before(async () => {
      ferryd = await startFerryd({
        FERRY_JWT_SECRET: JWT_SECRET,
        FERRY_DOWNLOADS: 'signed',
        FERRY_DOWNLOAD_KEY: 'a-download-key-for-the-tests-0123456789',
      });
    });
    after(() => ferryd.stop());

    test('a second owner of the same file answers the proof challenge and publishes without sending a chunk', async () => {
      const file = randomFile(5 * CHUNK + 7);
      const alice = mintToken('alice');
      const first = ferryClient().client;
      await first.upload({ server: ferryd.url, file: chosen(file), platform: first.wechatPlatform(), chunkSize: CHUNK, token: () => alice }).done;

      const bob = mintToken('bob');
      const proxy = await startProxy(ferryd.url);
      try {
        const second = ferryClient().client;
        const result = await second.upload({ server: proxy.url, file: chosen(file), platform: second.wechatPlatform(), chunkSize: CHUNK, token: () => bob }).done;
        assert.equal(proxy.chunkRequests().length, 0);
        assert.deepEqual(proxy.requests.map((r) => `${r.method} ${r.url} ${r.status}`), ['POST /v1/uploads 201', 'POST /v1/uploads 200']);
        assert.equal(result.sentBytes, 0);
        assert.deepEqual(await download(result.url), file.bytes);
      } finally {
        await proxy.stop();
      }
    });

    test('a 401 after an expired token asks the token provider for a fresh one and the upload goes on', async () => {
      const file = randomFile(2 * CHUNK);
      const asked = [];
      const token = async ({ refresh }) => {
        asked.push(refresh);
        return refresh ? mintToken('carol') : expiredToken('carol');
      };
      const proxy = await startProxy(ferryd.url);
      try {
        const { client } = ferryClient();
        const result = await client.upload({ server: proxy.url, file: chosen(file), platform: client.wechatPlatform(), chunkSize: CHUNK, token }).done;
        assert.deepEqual(asked, [false, true]);
        assert.equal(proxy.requests[0].status, 401);
        assert.deepEqual(await download(result.url), file.bytes);
      } finally {
        await proxy.stop();
      }
    });

    test('without a token the upload fails with the bundle\'s FerryError', async () => {
      const { client } = ferryClient();
      const task = client.upload({ server: ferryd.url, file: chosen(randomFile(CHUNK)), platform: client.wechatPlatform() });
      await assert.rejects(task.done, (error) => error instanceof client.FerryError && error.code === 'unauthorized' && error.status === 401);
    });
  });
});
