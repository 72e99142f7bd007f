// A real ferryd for the tests: the binary scripts/test.sh builds, started on
// a free loopback port with its own SQLite database and object folder.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The ferryd binary: FERRY_TEST_FERRYD, or the workspace's debug build. */
export const FERRYD = process.env.FERRY_TEST_FERRYD ?? resolve(here, '../../../target/debug/ferryd');

/** An HS256 secret for tests that turn authentication on. */
export const JWT_SECRET = 'a-test-secret-that-is-long-enough-for-hs256';

/**
 * Starts ferryd with `env` added to its settings; resolves once it listens.
 * `folder` holds its database and, under `objects`, its object store.
 * @returns {Promise<{url: string, folder: string, stop: () => Promise<void>}>}
 */
export async function startFerryd(env = {}) {
  const folder = mkdtempSync(join(tmpdir(), 'ferry-js-'));
  const child = spawn(FERRYD, [], {
    env: {
      PATH: process.env.PATH,
      FERRY_BIND: '127.0.0.1:0',
      FERRY_LOG_FORMAT: 'json',
      RUST_LOG: 'info',
      DATABASE_URL: `sqlite://${folder}/ferry.db`,
      FERRY_STORE: `${folder}/objects`,
      FERRY_OWNER_RATE: '10000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const url = await new Promise((resolvePromise, reject) => {
    const look = (chunk) => {
      log += chunk;
      const match = /ferryd listening.*?(http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (match) resolvePromise(match[1]);
    };
    child.stdout.on('data', look);
    child.stderr.on('data', look);
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`ferryd (${FERRYD}) exited with ${code} before listening:\n${log}`)));
  });
  return {
    url,
    folder,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(folder, { recursive: true, force: true });
    },
  };
}

/** A token for `sub`, minted by `ferryd token` with JWT_SECRET. */
export function mintToken(sub, ttl = '1h') {
  return execFileSync(FERRYD, ['token', '--sub', sub, '--ttl', ttl], {
    env: { PATH: process.env.PATH, FERRY_JWT_SECRET: JWT_SECRET },
    encoding: 'utf8',
  }).trim();
}

/** The server's view of an upload: GET /v1/uploads/{sha256}. */
export async function sessionOf(server, sha256, token) {
  const response = await fetch(`${server}/v1/uploads/${sha256}`, {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  return { status: response.status, body: await response.json() };
}

/** Deletes the staged copies of chunk `index` from the object folder under `folder`. */
export function loseChunk(folder, index) {
  const chunks = join(folder, 'objects', 'chunks');
  let lost = 0;
  for (const session of readdirSync(chunks)) {
    for (const copy of readdirSync(join(chunks, session))) {
      if (copy.startsWith(`${index}.`)) {
        rmSync(join(chunks, session, copy));
        lost += 1;
      }
    }
  }
  return lost;
}

/** Indices of the chunks a session holds. */
export function heldChunks(session) {
  const held = [];
  for (const [first, last] of session.received_chunks) for (let i = first; i <= last; i++) held.push(i);
  return held;
}
