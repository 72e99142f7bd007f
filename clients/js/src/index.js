// ferry's JavaScript client: resumable, content-addressed uploads from
// mini-programs, browsers and Node.

import { Upload } from './upload.js';

export { Upload } from './upload.js';
export { FerryError, AbortedError } from './errors.js';
export { listFiles, deleteFile, MAX_LIST_LIMIT } from './files.js';
export { Sha256, sha256, toHex, toBase64 } from './sha256.js';
export { wechatPlatform, WECHAT_MAX_REQUESTS, WECHAT_WASM_PATH } from './platforms/wechat.js';

/** Starts uploading `options.file`; the returned Upload's `done` settles with the published file. */
export function upload(options) {
  const task = new Upload(options);
  task.done = task.start();
  return task;
}
