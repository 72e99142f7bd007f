// SHA-256 in WebAssembly: hash-wasm's SHA-256 module (vendored, see
// src/vendor/README.md), driven through its exports. A mini-program loads
// the module with WXWebAssembly from the .wasm file the package ships beside
// its bundle; Node's benchmark loads the same bytes with WebAssembly.

import { toHex } from '../sha256.js';

/** Bytes the module's input buffer takes per update. */
const BUFFER_BYTES = 16384;
/** SHA-256("abc"), checked once after loading, before the module is trusted. */
const ABC_DIGEST = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';

/**
 * Loads the module with `instantiate()` (which resolves to what
 * WebAssembly.instantiate gives, `{instance}`, or to the instance) and checks it on a known
 * answer; resolves to `{name, createHasher, digest}` or rejects.
 * Every streaming hasher gets an instance of its own, since an instance
 * holds one hash state; one-shot digests share one, as they run start to
 * end without yielding.
 */
export async function loadWasmSha256(instantiate) {
  const load = async () => {
    const loaded = await instantiate();
    return new WasmSha256((loaded.instance ?? loaded).exports);
  };
  const shared = await load();
  const abc = shared.init().update(new Uint8Array([0x61, 0x62, 0x63])).digest();
  if (toHex(abc) !== ABC_DIGEST) throw new Error('the SHA-256 module gave a wrong digest');
  return {
    name: 'wasm',
    createHasher: async () => (await load()).init(),
    digest: (bytes) => shared.init().update(bytes).digest(),
  };
}

/** A hash state inside one module instance: `init`, `update` as often as needed, `digest` once. */
class WasmSha256 {
  constructor(exports) {
    this.exports = exports;
  }

  init() {
    this.exports.Hash_Init(256);
    return this;
  }

  /** Feeds `bytes` (a Uint8Array or ArrayBuffer); returns this hasher. */
  update(bytes) {
    const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    for (let offset = 0; offset < data.length; offset += BUFFER_BYTES) {
      const piece = data.subarray(offset, offset + BUFFER_BYTES);
      this.buffer(piece.length).set(piece);
      this.exports.Hash_Update(piece.length);
    }
    return this;
  }

  /** The 32-byte digest of everything fed. */
  digest() {
    this.exports.Hash_Final();
    return this.buffer(32).slice();
  }

  /** The module's input and output buffer; made anew each time, as memory may have been replaced. */
  buffer(length) {
    return new Uint8Array(this.exports.memory.buffer, this.exports.Hash_GetBuffer(), length);
  }
}
