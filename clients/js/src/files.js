// The caller's files on a ferry server: list them page by page, and let one
// go (its bytes are deleted once no owner holds it).

import { FerryError } from './errors.js';

/** Most files one page lists. */
export const MAX_LIST_LIMIT = 1000;

/**
 * One page of the caller's files, newest first; pass its `nextCursor` as
 * `cursor` for the next page (it is null on the last).
 * @param {{server?: string, platform: object, token?: Function, cursor?: string|null, limit?: number}} options
 */
export async function listFiles({ server = '', platform, token, cursor = null, limit } = {}) {
  const query = new URLSearchParams();
  if (limit !== undefined) query.set('limit', String(limit));
  if (cursor) query.set('cursor', cursor);
  const search = query.toString();
  const response = await send({ server, platform, token }, 'GET', `/v1/files${search ? `?${search}` : ''}`);
  if (response.status !== 200) throw refusal(response);
  const page = JSON.parse(response.body);
  return { files: page.files, nextCursor: page.next_cursor ?? null };
}

/**
 * Lets the caller's file `sha256` go: it leaves their listing at once.
 * Rejects with a FerryError whose `code` is `file-not-found` when the caller
 * holds no such file.
 * @param {string} sha256
 * @param {{server?: string, platform: object, token?: Function}} options
 */
export async function deleteFile(sha256, { server = '', platform, token } = {}) {
  if (!/^[0-9a-fA-F]{64}$/.test(sha256 ?? '')) {
    throw new FerryError('a sha256 is 64 hex digits', { code: 'invalid-request' });
  }
  const response = await send({ server, platform, token }, 'DELETE', `/v1/files/${sha256.toLowerCase()}`);
  if (response.status !== 204) throw refusal(response);
}

/** One request, with the token, and once more with a fresh token after a 401. */
async function send({ server, platform, token }, method, path) {
  if (!platform) throw new TypeError('listing and deleting files need a platform adapter');
  const url = server.replace(/\/+$/, '') + path;
  let refresh = false;
  for (;;) {
    const bearer = token ? await token({ refresh }) : null;
    const headers = bearer ? { Authorization: `Bearer ${bearer}` } : {};
    const response = await platform.fetch({ method, url, headers });
    if (response.status === 401 && token && !refresh) {
      refresh = true;
      continue;
    }
    return response;
  }
}

/** The server's JSON error as a FerryError. */
function refusal(response) {
  let body = null;
  try {
    body = JSON.parse(response.body);
  } catch {
    body = null;
  }
  return new FerryError(body?.message ?? `the server answered ${response.status}`, {
    status: response.status,
    code: body?.code ?? `http-${response.status}`,
    body,
  });
}
