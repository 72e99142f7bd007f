// A stand-in for the WeChat mini-program `wx` object, behaving as the
// platform does where the client depends on it, backed by real HTTP and a
// real folder:
// - wx.request knows no PATCH, takes string or ArrayBuffer bodies (a typed
//   array would be sent as a JSON object, so it is refused here), times out
//   after 60 s unless told otherwise;
// - at most 10 wx.request/wx.uploadFile calls run at once; the 11th fails;
// - wx.uploadFile sends a file on disk as multipart/form-data POST;
// - FileSystemManager.readFile reads `length` bytes at `position` and gives an
//   ArrayBuffer;
// - wx.onAppHide/onAppShow and wx.onNetworkStatusChange (and their off…)
//   take listeners, which the test fires with `life.hide()`, `life.show()`,
//   `life.offline()`, `life.online()` and `life.switchTo(type)`: a hidden or
//   offline app's requests fail ('request:fail interrupted', 'request:fail'),
//   those in flight too; after a switch the requests in flight on the old
//   network never answer and fail at their timeout; wx.getNetworkType tells
//   the network of the moment;
// - `life.stall(test)` leaves requests matching `test` unanswered, so they
//   fail with 'request:fail timeout' after their `timeout`; `life.kill()`
//   ends the app: nothing it started answers any more.
// ArrayBuffers are recognised whatever realm made them, so a client running in
// a node:vm context (test/miniprogram.test.js) is served the same way.

import { readFileSync, writeFileSync, rmSync, openSync, readSync, closeSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const METHODS = new Set(['OPTIONS', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'TRACE', 'CONNECT']);
const MAX_TASKS = 10;

/**
 * A new `wx`, what it saw (the most requests at once, every request and how it
 * ended, every read's length, refusals) and `life`, which steers the app's
 * lifecycle and network.
 */
export function createWx() {
  const seen = { running: 0, maxRunning: 0, refused: [], reads: [], requests: [], uploads: 0 };
  const userData = mkdtempSync(join(tmpdir(), 'ferry-wx-'));
  const listeners = { hide: new Set(), show: new Set(), network: new Set() };
  const inFlight = new Set();
  const watchers = [];
  const state = { hidden: false, offline: false, network: 'wifi', killed: false, stalls: [] };
  const check = () => {
    for (const watcher of [...watchers]) {
      if (watcher.holds(seen)) {
        watchers.splice(watchers.indexOf(watcher), 1);
        watcher.resolve();
      }
    }
  };
  const failAll = (errMsg) => {
    for (const running of [...inFlight]) running.fail(errMsg);
  };
  const life = {
    listeners,
    /** The app goes to the background: hide listeners run, then WeChat cuts the requests. */
    hide() {
      state.hidden = true;
      for (const listener of [...listeners.hide]) listener({});
      failAll('request:fail interrupted');
    },
    show() {
      state.hidden = false;
      for (const listener of [...listeners.show]) listener({ scene: 1001 });
    },
    offline() {
      state.offline = true;
      for (const listener of [...listeners.network]) listener({ isConnected: false, networkType: 'none' });
      failAll('request:fail');
    },
    online() {
      state.offline = false;
      for (const listener of [...listeners.network]) listener({ isConnected: true, networkType: state.network });
    },
    /** The phone moves to network `type`: requests in flight on the old one are stranded. */
    switchTo(type) {
      state.network = type;
      for (const running of [...inFlight]) running.strand();
      for (const listener of [...listeners.network]) listener({ isConnected: true, networkType: type });
    },
    /** Leaves requests for which `test(request)` holds without an answer. */
    stall(test) {
      state.stalls.push(test);
    },
    /** The app is killed: nothing it started answers any more. */
    kill() {
      state.killed = true;
      for (const running of [...inFlight]) running.drop();
    },
    /** Resolves once `holds(seen)` is true, checked whenever a request starts or ends. */
    until: (holds) => (holds(seen) ? Promise.resolve() : new Promise((resolve) => watchers.push({ holds, resolve }))),
  };

  function task(options, record, send) {
    seen.requests.push(record);
    const refuse = (errMsg) => {
      record.errMsg = errMsg;
      setTimeout(() => {
        options.fail?.({ errMsg });
        check();
      });
      return { abort() {} };
    };
    if (state.killed) return { abort() {} };
    if (state.hidden) return refuse('request:fail interrupted');
    if (state.offline) return refuse('request:fail');
    if (seen.running >= MAX_TASKS) {
      seen.refused.push(options.url);
      return refuse('request:fail exceed max task count');
    }
    seen.running += 1;
    seen.maxRunning = Math.max(seen.maxRunning, seen.running);
    const controller = new AbortController();
    let why = 'abort';
    let settled = false;
    let stranded = false;
    const running = {
      fail(errMsg) {
        why = errMsg.replace(/^request:fail ?/, '');
        controller.abort();
        if (stranded) {
          record.errMsg = errMsg;
          finish(() => options.fail?.({ errMsg }));
        }
      },
      strand() {
        stranded = true;
      },
      drop() {
        settled = true;
        clearTimeout(timer);
        controller.abort();
        inFlight.delete(running);
      },
    };
    inFlight.add(running);
    const timer = setTimeout(() => running.fail('request:fail timeout'), options.timeout ?? 60_000);
    const stalled = state.stalls.some((test) => test(record));
    const sent = stalled
      ? new Promise((resolve, reject) => controller.signal.addEventListener('abort', () => reject(new Error(why))))
      : send(controller.signal);
    sent
      .then(async (response) => {
        const header = Object.fromEntries(response.headers.entries());
        const data = options.responseType === 'arraybuffer' ? await response.arrayBuffer() : await response.text();
        return { statusCode: response.status, header, data: options.dataType === 'json' ? tryJson(data) : data };
      })
      .then(
        (res) => {
          if (stranded) return;
          record.status = res.statusCode;
          finish(() => options.success?.(res));
        },
        (error) => {
          if (stranded) return;
          record.errMsg = `request:fail ${controller.signal.aborted ? why : error.message}`.trimEnd();
          finish(() => options.fail?.({ errMsg: record.errMsg }));
        },
      );
    function finish(callback) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      inFlight.delete(running);
      seen.running -= 1;
      callback();
      options.complete?.();
      check();
    }
    check();
    return { abort: () => running.fail('request:fail abort') };
  }

  const wx = {
    env: { USER_DATA_PATH: userData },
    request(options) {
      const method = (options.method ?? 'GET').toUpperCase();
      if (!METHODS.has(method)) {
        queueMicrotask(() => options.fail?.({ errMsg: `request:fail invalid method ${method}` }));
        return { abort() {} };
      }
      const data = options.data;
      if (ArrayBuffer.isView(data)) throw new TypeError('wx.request sends an ArrayBuffer, not a typed array');
      if (data !== undefined && typeof data !== 'string' && !isArrayBuffer(data)) {
        throw new TypeError('this shim takes string and ArrayBuffer bodies only');
      }
      const record = { method, url: options.url, timeout: options.timeout, hidden: state.hidden, offline: state.offline };
      return task(options, record, (signal) =>
        fetch(options.url, { method, headers: options.header, body: isArrayBuffer(data) ? new Uint8Array(data) : data, signal }),
      );
    },
    uploadFile(options) {
      seen.uploads += 1;
      const record = { method: 'UPLOAD', url: options.url, timeout: options.timeout, hidden: state.hidden, offline: state.offline };
      return task(options, record, (signal) => {
        const form = new FormData();
        for (const [key, value] of Object.entries(options.formData ?? {})) form.append(key, value);
        form.append(options.name, new Blob([readFileSync(options.filePath)]), 'chunk');
        return fetch(options.url, { method: 'POST', headers: options.header, body: form, signal });
      });
    },
    onAppHide: (listener) => listeners.hide.add(listener),
    offAppHide: (listener) => listeners.hide.delete(listener),
    onAppShow: (listener) => listeners.show.add(listener),
    offAppShow: (listener) => listeners.show.delete(listener),
    onNetworkStatusChange: (listener) => listeners.network.add(listener),
    offNetworkStatusChange: (listener) => listeners.network.delete(listener),
    getNetworkType({ success }) {
      const networkType = state.offline ? 'none' : state.network;
      setTimeout(() => success?.({ networkType }));
    },
    getFileSystemManager() {
      return {
        readFile({ filePath, position = 0, length, success, fail }) {
          try {
            const fd = openSync(filePath, 'r');
            const bytes = new Uint8Array(length);
            const read = readSync(fd, bytes, 0, length, position);
            closeSync(fd);
            seen.reads.push(length);
            setImmediate(() => success({ data: bytes.buffer.slice(0, read) }));
          } catch (error) {
            setImmediate(() => fail?.({ errMsg: `readFile:fail ${error.message}` }));
          }
        },
        writeFile({ filePath, data, success, fail }) {
          try {
            if (!isArrayBuffer(data) && typeof data !== 'string') throw new TypeError('data must be an ArrayBuffer or a string');
            writeFileSync(filePath, typeof data === 'string' ? data : new Uint8Array(data));
            setImmediate(() => success?.({}));
          } catch (error) {
            setImmediate(() => fail?.({ errMsg: `writeFile:fail ${error.message}` }));
          }
        },
        unlink({ filePath, success, fail }) {
          try {
            rmSync(filePath);
            setImmediate(() => success?.({}));
          } catch (error) {
            setImmediate(() => fail?.({ errMsg: `unlink:fail ${error.message}` }));
          }
        },
      };
    },
  };
  return { wx, seen, userData, life };
}

function isArrayBuffer(value) {
  return Object.prototype.toString.call(value) === '[object ArrayBuffer]';
}

function tryJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
