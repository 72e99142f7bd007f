// The caller's files from the client: an upload reaches the app's webhook
// signed, lists, and is let go with deleteFile; other owners see none of it.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { deleteFile, listFiles, upload } from '../src/index.js';
import { nodePlatform } from '../src/platforms/node.js';
import { JWT_SECRET, mintToken, startFerryd } from './ferryd.js';
import { randomFile } from './files.js';
import { WEBHOOK_SECRET, startReceiver } from './receiver.js';

const CHUNK = 256 << 10;
const platform = nodePlatform();

describe("an owner's files", () => {
  let ferryd;
  let receiver;
  before(async () => {
    receiver = await startReceiver();
    ferryd = await startFerryd({
      FERRY_JWT_SECRET: JWT_SECRET,
      FERRY_WEBHOOK_URL: receiver.url,
      FERRY_WEBHOOK_SECRET: WEBHOOK_SECRET,
      FERRY_DELETE_GRACE: '0s',
    });
  });
  after(async () => {
    await ferryd.stop();
    await receiver.close();
  });

  const as = (sub) => {
    const token = mintToken(sub);
    return { server: ferryd.url, platform, token: () => token };
  };

  test('an upload is announced once, signed, then listed and let go', async () => {
    const alice = as('alice');
    const file = randomFile(2 * CHUNK + 99, 'clip.mp4');
    const started = Date.now();
    const result = await upload({ ...alice, file: file.path, chunkSize: CHUNK }).done;
    const isCompleted = (entry) => entry.event.type === 'upload.completed' && entry.event.data.sha256 === file.sha256;
    await receiver.waitFor((events) => events.some(isCompleted));
    const announced = receiver.events.filter(isCompleted);
    assert.equal(announced.length, 1);
    assert.ok(announced[0].verified, 'the signature verifies');
    assert.equal(announced[0].event.data.owner, 'alice');
    assert.equal(announced[0].event.data.filename, 'clip.mp4');
    assert.equal(announced[0].event.data.url, `/v1/files/${file.sha256}/clip.mp4`);
    console.log(`upload.completed arrived ${Date.now() - started} ms after the upload started`);

    const page = await listFiles({ ...alice, limit: 10 });
    assert.deepEqual(page.files.map((f) => f.sha256), [result.sha256]);
    assert.equal(page.files[0].filename, 'clip.mp4');
    assert.equal(page.nextCursor, null);

    const bob = as('bob');
    assert.deepEqual((await listFiles(bob)).files, []);
    await assert.rejects(deleteFile(file.sha256, bob), (error) => error.code === 'file-not-found');

    await deleteFile(file.sha256, alice);
    assert.deepEqual((await listFiles(alice)).files, []);
    const isDeleted = (entry) => entry.event.type === 'file.deleted' && entry.event.data.sha256 === file.sha256;
    await receiver.waitFor((events) => events.some(isDeleted));
    const gone = await fetch(`${ferryd.url}/v1/files/${file.sha256}`);
    assert.equal(gone.status, 404);
  });

  test('a bad sha256 or limit is refused with its code', async () => {
    const alice = as('alice');
    await assert.rejects(deleteFile('nothex', alice), (error) => error.code === 'invalid-request');
    await assert.rejects(listFiles({ ...alice, limit: 5000 }), (error) => error.code === 'invalid-request');
  });
});
