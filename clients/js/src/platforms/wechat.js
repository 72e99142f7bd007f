// The WeChat mini-program adapter. What the platform allows shapes it:
// wx.request has PUT with an ArrayBuffer body but no PATCH; wx.uploadFile
// sends only multipart POST of a file on disk; at most 10 requests of either
// kind run at once; FileSystemManager.readFile takes position and length
// (base library 2.10.0 and later), so a file is read a slice at a time; there
// is no WebCrypto, so SHA-256 runs in WebAssembly through WXWebAssembly (base
// library 2.13.0 and later) from the sha256.wasm the package ships, and in
// this package's plain JavaScript where that cannot load. WeChat
// cuts an app's requests a few seconds after it goes to the background, so
// the adapter tells the upload when the app hides and shows again, and when
// the network goes, returns or changes.

import { Sha256 } from '../sha256.js';
import { loadWasmSha256 } from './wasm-sha256.js';

/** Requests WeChat runs at once, across wx.request, wx.uploadFile and wx.downloadFile. */
export const WECHAT_MAX_REQUESTS = 10;

/** Where WeChat's npm builder puts the package's SHA-256 module in a mini-program's code package. */
export const WECHAT_WASM_PATH = '/miniprogram_npm/@ferry/client/sha256.wasm';

/** SHA-256 in this package's plain JavaScript. */
const JAVASCRIPT_SHA256 = Object.freeze({
  name: 'javascript',
  createHasher: () => new Sha256(),
  digest: (bytes) => new Sha256().update(bytes).digest(),
});

/**
 * A platform adapter for a WeChat mini-program. A file is `{path, size, name?, type?}`,
 * as `wx.chooseMessageFile` and `wx.chooseMedia` give them.
 * @param {{wx?: object, WXWebAssembly?: object, wasmPath?: string|null, uploadFile?: boolean, maxConcurrency?: number, timeoutMs?: number}} [options]
 *   `uploadFile: true` sends each chunk with wx.uploadFile (a multipart POST of a
 *   temporary file) instead of a wx.request PUT. `wasmPath` is the SHA-256
 *   module's path in the code package (WECHAT_WASM_PATH unless the npm
 *   folder is elsewhere, as in a subpackage); null hashes in JavaScript.
 */
export function wechatPlatform({
  wx = ambientWx(),
  WXWebAssembly: wasm = ambientWasm(),
  wasmPath = WECHAT_WASM_PATH,
  uploadFile = false,
  maxConcurrency = WECHAT_MAX_REQUESTS,
  timeoutMs = 60_000,
} = {}) {
  const fs = wx.getFileSystemManager();
  const slots = new Slots(Math.min(maxConcurrency, WECHAT_MAX_REQUESTS));
  let sha256 = null;
  const hashing = () => {
    sha256 = sha256 ?? sha256Engine(wasm, wasmPath);
    return sha256;
  };
  const platform = {
    name: 'wechat',
    maxConcurrency: slots.size,
    sizeOf: (file) => file.size,
    nameOf: (file) => file.name ?? null,
    typeOf: (file) => (file.type?.includes('/') ? file.type : null),
    read: (file, start, end) =>
      new Promise((resolve, reject) => {
        if (end === start) return resolve(new Uint8Array(0));
        fs.readFile({
          filePath: file.path,
          position: start,
          length: end - start,
          success: ({ data }) => resolve(new Uint8Array(data)),
          fail: (error) => reject(new Error(error.errMsg || 'readFile failed')),
        });
      }),
    createHasher: async () => (await hashing()).createHasher(),
    digest: async (bytes) => (await hashing()).digest(bytes),
    /** 'wasm' or 'javascript': how this platform hashes. */
    hashEngine: async () => (await hashing()).name,
    fetch: (request) => slots.run(() => wxRequest(wx, request, timeoutMs)),
  };
  if (uploadFile) {
    platform.sendChunk = (request) => slots.run(() => wxUploadFile(wx, fs, request, timeoutMs));
  }
  if (typeof wx.onAppHide === 'function' || typeof wx.onNetworkStatusChange === 'function') {
    platform.onLifecycle = lifecycleOf(wx);
  }
  return platform;
}

/**
 * Tells an upload what happens to the app: `hide` and `show` as it goes to
 * the background and back, `offline` and `online` as the network goes and
 * returns, `switched` when it moves to another network (Wi-Fi to 4G). The
 * returned function unsubscribes; on base libraries without the off…
 * functions the listeners stay registered but do nothing more.
 */
function lifecycleOf(wx) {
  return (listeners) => {
    let live = true;
    let heard = false;
    let network = { connected: true, type: null };
    const onHide = () => live && listeners.hide();
    const onShow = () => live && listeners.show();
    const toNetwork = (connected, type) => {
      const before = network;
      network = { connected, type };
      if (!live) return;
      if (!connected && before.connected) listeners.offline();
      else if (connected && !before.connected) listeners.online();
      else if (connected && before.type !== null && type !== before.type) listeners.switched();
    };
    const onNetwork = ({ isConnected, networkType }) => {
      heard = true;
      toNetwork(Boolean(isConnected) && networkType !== 'none', networkType);
    };
    call(wx, 'onAppHide', onHide);
    call(wx, 'onAppShow', onShow);
    call(wx, 'onNetworkStatusChange', onNetwork);
    call(wx, 'getNetworkType', {
      success: ({ networkType }) => {
        if (!heard) toNetwork(networkType !== 'none', networkType);
      },
    });
    return () => {
      live = false;
      call(wx, 'offAppHide', onHide);
      call(wx, 'offAppShow', onShow);
      call(wx, 'offNetworkStatusChange', onNetwork);
    };
  };
}

/** Calls `wx[name](argument)` where this base library has it. */
function call(wx, name, argument) {
  if (typeof wx[name] === 'function') wx[name](argument);
}

/** The WebAssembly SHA-256 where WXWebAssembly loads it, else the JavaScript one. */
function sha256Engine(wasm, path) {
  if (!wasm || typeof wasm.instantiate !== 'function' || !path) return Promise.resolve(JAVASCRIPT_SHA256);
  return loadWasmSha256(() => wasm.instantiate(path, {})).catch(() => JAVASCRIPT_SHA256);
}

/** The mini-program's global `wx`, if any (older engines have no globalThis to find it on). */
function ambientWx() {
  return typeof wx === 'undefined' ? undefined : wx;
}

/** The mini-program's global WXWebAssembly (base library 2.13.0 and later), if any. */
function ambientWasm() {
  return typeof WXWebAssembly === 'undefined' ? undefined : WXWebAssembly;
}

/** Hands out at most `size` slots; the rest wait their turn. */
class Slots {
  constructor(size) {
    this.size = size;
    this.busy = 0;
    this.waiting = [];
  }

  async run(operation) {
    if (this.busy >= this.size) await new Promise((resolve) => this.waiting.push(resolve));
    else this.busy += 1;
    try {
      return await operation();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.busy -= 1;
    }
  }
}

function wxRequest(wx, { method, url, headers, body, signal }, timeoutMs) {
  return new Promise((resolve, reject) => {
    const task = wx.request({
      url,
      method,
      header: headers,
      data: body instanceof Uint8Array ? arrayBufferOf(body) : body,
      dataType: 'text',
      responseType: 'text',
      timeout: timeoutMs,
      success: (res) => resolve(answer(res.statusCode, res.header, res.data)),
      fail: (error) => reject(new Error(error.errMsg || 'wx.request failed')),
    });
    cutOn(signal, task, reject);
  });
}

async function wxUploadFile(wx, fs, { url, headers, chunk, signal }, timeoutMs) {
  const path = `${wx.env.USER_DATA_PATH}/ferry-chunk-${chunk.index}-${Math.random().toString(36).slice(2)}`;
  await new Promise((resolve, reject) =>
    fs.writeFile({ filePath: path, data: arrayBufferOf(chunk.bytes), success: resolve, fail: (e) => reject(new Error(e.errMsg)) }),
  );
  try {
    const header = { ...headers };
    delete header['Content-Type'];
    delete header['Content-Digest'];
    return await new Promise((resolve, reject) => {
      const task = wx.uploadFile({
        url,
        filePath: path,
        name: 'file',
        header,
        formData: { sha256: chunk.sha256 },
        timeout: timeoutMs,
        success: (res) => resolve(answer(res.statusCode, res.header ?? {}, res.data)),
        fail: (error) => reject(new Error(error.errMsg || 'wx.uploadFile failed')),
      });
      cutOn(signal, task, reject);
    });
  } finally {
    fs.unlink({ filePath: path, fail: () => {} });
  }
}

function cutOn(signal, task, reject) {
  if (signal?.aborted) {
    task.abort();
    return reject(new Error('request cut'));
  }
  signal?.addEventListener(
    'abort',
    () => {
      task.abort();
      reject(new Error('request cut'));
    },
    { once: true },
  );
}

function answer(status, header, data) {
  const headers = {};
  for (const [name, value] of Object.entries(header ?? {})) headers[name.toLowerCase()] = String(value);
  return { status, header: (name) => headers[name.toLowerCase()] ?? null, body: typeof data === 'string' ? data : JSON.stringify(data) };
}

function arrayBufferOf(bytes) {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? bytes.buffer
    : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}
