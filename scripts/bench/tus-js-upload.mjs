// Sends one file with tus-js-client (clients/js's devDependency), unmodified:
// a creation, then PATCHes of PATCH_MIB each from a file stream, as a Node
// app would. Prints nothing; exits non-zero on error.
//   node tus-js-upload.mjs ENDPOINT FILE [PATCH_MIB=8]
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createRequire } from "node:module";

const require = createRequire(new URL("../../clients/js/package.json", import.meta.url));
const tus = require("tus-js-client");

const [endpoint, path, patchMib = "8"] = process.argv.slice(2);
const size = (await stat(path)).size;
await new Promise((resolve, reject) => {
  const upload = new tus.Upload(createReadStream(path), {
    endpoint,
    uploadSize: size,
    chunkSize: Number(patchMib) << 20,
    retryDelays: [],
    metadata: { filename: "file.bin" },
    onSuccess: resolve,
    onError: reject,
  });
  upload.start();
});
