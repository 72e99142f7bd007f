// The Node adapter: files by path, node:crypto for hashing, the global fetch.

import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';

import { fetchAnswer } from './fetch.js';

/** A platform adapter for Node 18 and later; a file is its path. */
export function nodePlatform({ fetch = globalThis.fetch, maxConcurrency = 16 } = {}) {
  return {
    name: 'node',
    maxConcurrency,
    sizeOf: (path) => statSync(path).size,
    nameOf: (path) => basename(path),
    typeOf: () => null,
    async read(path, start, end) {
      const handle = await open(path, 'r');
      try {
        const bytes = new Uint8Array(end - start);
        let done = 0;
        while (done < bytes.length) {
          const { bytesRead } = await handle.read(bytes, done, bytes.length - done, start + done);
          if (bytesRead === 0) throw new Error(`${path} is shorter than it was`);
          done += bytesRead;
        }
        return bytes;
      } finally {
        await handle.close();
      }
    },
    createHasher() {
      const hash = createHash('sha256');
      return { update: (bytes) => hash.update(bytes), digest: () => new Uint8Array(hash.digest()) };
    },
    digest: async (bytes) => new Uint8Array(createHash('sha256').update(bytes).digest()),
    fetch: (request) => fetchAnswer(fetch, request),
  };
}
