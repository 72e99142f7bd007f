// A Web Worker that hashes one Blob a slice at a time: hash-wasm's
// WebAssembly SHA-256 when the page may compile WebAssembly, this package's
// plain JavaScript one otherwise. It posts {progress} as it goes, then {sha256, engine}.

import './vendor/hash-wasm-sha256.umd.min.js';
import { Sha256 } from './sha256.js';

const SLICE = 4 << 20;

async function hasher() {
  try {
    const wasm = await globalThis.hashwasm.createSHA256();
    wasm.init();
    return { engine: 'wasm', update: (bytes) => wasm.update(bytes), hex: () => wasm.digest('hex') };
  } catch {
    const js = new Sha256();
    return { engine: 'js', update: (bytes) => js.update(bytes), hex: () => js.hex() };
  }
}

self.onmessage = async ({ data: { blob } }) => {
  try {
    const hash = await hasher();
    for (let start = 0; start < blob.size; start += SLICE) {
      const end = Math.min(blob.size, start + SLICE);
      hash.update(new Uint8Array(await blob.slice(start, end).arrayBuffer()));
      self.postMessage({ progress: end });
    }
    self.postMessage({ sha256: hash.hex(), engine: hash.engine });
  } catch (error) {
    self.postMessage({ error: String(error?.message ?? error) });
  }
};
