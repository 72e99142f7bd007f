// A stand-in for the WeChat mini-program `wx` object, behaving as the
// platform does where the client depends on it, backed by real HTTP and a
// real folder:
// - wx.request knows no PATCH, takes string or ArrayBuffer bodies (a typed
//   array would be sent as a JSON object, so it is refused here), times out
//   after 60 s unless told otherwise;
// - at most 10 wx.request/wx.uploadFile calls run at once; the 11th fails;
// - wx.uploadFile sends a file on disk as multipart/form-data POST;
// - FileSystemManager.readFile reads `length` bytes at `position` and gives an
//   ArrayBuffer.
// ArrayBuffers are recognised whatever realm made them, so a client running in
// a node:vm context (test/miniprogram.test.js) is served the same way.

import { readFileSync, writeFileSync, rmSync, openSync, readSync, closeSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const METHODS = new Set(['OPTIONS', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'TRACE', 'CONNECT']);
const MAX_TASKS = 10;

/** A new `wx` and what it saw: the most requests at once, every read's length, refusals. */
export function createWx() {
  const seen = { running: 0, maxRunning: 0, refused: [], reads: [], requests: [], uploads: 0 };
  const userData = mkdtempSync(join(tmpdir(), 'ferry-wx-'));

  function task(options, send) {
    if (seen.running >= MAX_TASKS) {
      seen.refused.push(options.url);
      queueMicrotask(() => options.fail?.({ errMsg: 'request:fail exceed max task count' }));
      return { abort() {} };
    }
    seen.running += 1;
    seen.maxRunning = Math.max(seen.maxRunning, seen.running);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), options.timeout ?? 60_000);
    send(controller.signal)
      .then(
        async (response) => {
          const header = Object.fromEntries(response.headers.entries());
          const data = options.responseType === 'arraybuffer' ? await response.arrayBuffer() : await response.text();
          return { statusCode: response.status, header, data: options.dataType === 'json' ? tryJson(data) : data };
        },
      )
      .then(
        (res) => finish(() => options.success?.(res)),
        (error) => finish(() => options.fail?.({ errMsg: `request:fail ${controller.signal.aborted ? 'abort' : error.message}` })),
      );
    function finish(callback) {
      clearTimeout(timer);
      seen.running -= 1;
      callback();
      options.complete?.();
    }
    return { abort: () => controller.abort() };
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
      seen.requests.push({ method, url: options.url });
      return task(options, (signal) =>
        fetch(options.url, { method, headers: options.header, body: isArrayBuffer(data) ? new Uint8Array(data) : data, signal }),
      );
    },
    uploadFile(options) {
      seen.uploads += 1;
      return task(options, (signal) => {
        const form = new FormData();
        for (const [key, value] of Object.entries(options.formData ?? {})) form.append(key, value);
        form.append(options.name, new Blob([readFileSync(options.filePath)]), 'chunk');
        return fetch(options.url, { method: 'POST', headers: options.header, body: form, signal });
      });
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
  return { wx, seen, userData };
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
