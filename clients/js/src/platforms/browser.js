// The browser adapter: File and Blob slices, fetch, and hashing in a Web
// Worker (WebAssembly there, plain JavaScript where WebAssembly is refused).

import { Sha256 } from '../sha256.js';
import { fetchAnswer } from './fetch.js';

/** A platform adapter for browsers; a file is a File or Blob. */
export function browserPlatform({ fetch = globalThis.fetch.bind(globalThis), maxConcurrency = 6 } = {}) {
  const subtle = globalThis.crypto?.subtle;
  return {
    name: 'browser',
    maxConcurrency,
    sizeOf: (blob) => blob.size,
    nameOf: (blob) => blob.name || null,
    typeOf: (blob) => blob.type || null,
    read: async (blob, start, end) => new Uint8Array(await blob.slice(start, end).arrayBuffer()),
    createHasher: () => new Sha256(),
    digest: async (bytes) => (subtle ? new Uint8Array(await subtle.digest('SHA-256', bytes)) : new Sha256().update(bytes).digest()),
    fetch: (request) => fetchAnswer(fetch, request),
    hashFile: typeof Worker === 'undefined' ? undefined : hashInWorker,
  };
}

/** The SHA-256 of `blob`, computed by a worker that reads it a slice at a time. */
function hashInWorker(blob, { onProgress, signal }) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('../hash-worker.js', import.meta.url), { type: 'module' });
    const stop = () => {
      worker.terminate();
      reject(new DOMException('hashing was stopped', 'AbortError'));
    };
    signal?.addEventListener('abort', stop, { once: true });
    worker.onmessage = ({ data }) => {
      if (data.progress !== undefined) return onProgress?.(data.progress);
      signal?.removeEventListener('abort', stop);
      worker.terminate();
      if (data.error) reject(new Error(data.error));
      else resolve(data.sha256);
    };
    worker.onerror = (event) => {
      signal?.removeEventListener('abort', stop);
      worker.terminate();
      reject(new Error(event.message || 'the hashing worker failed'));
    };
    worker.postMessage({ blob });
  });
}
