// One file's upload: hash it, create or resume its session (proving it holds
// the file when the server asks), send only the chunks the server lacks, a
// few at a time, then complete and wait out the merge. The server's session,
// keyed by the file's SHA-256, is the only state: after a crash or a reload,
// uploading the same file again resumes it.

import { AbortedError, FerryError } from './errors.js';
import { DEFAULT_RETRY, isTransientStatus, parseRetryAfter, pauseBefore } from './retry.js';
import { RateMeter, secondsLeft } from './progress.js';
import { challengeProblem, chunkSpan, layoutProblem, missingChunks } from './plan.js';
import { toBase64, toHex } from './sha256.js';
import { newCutter } from './cutter.js';

/** Bytes read at a time while hashing the whole file. */
const HASH_SLICE = 4 << 20;
/** Rounds of create-send-complete before giving up on a session that keeps losing chunks. */
const MAX_ROUNDS = 5;
/** Chunks in flight at once unless told otherwise. */
const DEFAULT_PARALLEL = 4;

/** What a request cut on purpose (a pause, the background, a network switch) rejects with. */
const CUT = Object.freeze({ cut: true });

/** An upload of one file; `start()` runs it, `pause()`, `resume()` and `abort()` steer it. */
export class Upload {
  /** @param {import('./index.js').UploadOptions} options */
  constructor(options) {
    if (!options?.platform) throw new TypeError('an upload needs a platform adapter');
    this.platform = options.platform;
    this.file = options.file;
    this.server = (options.server ?? '').replace(/\/+$/, '');
    this.tokenProvider = options.token ?? null;
    this.parallel = Math.max(1, Math.min(options.parallel ?? DEFAULT_PARALLEL, this.platform.maxConcurrency ?? Infinity));
    this.chunkSize = options.chunkSize ?? null;
    this.filename = options.filename ?? this.platform.nameOf(this.file) ?? null;
    this.contentType = options.contentType ?? this.platform.typeOf(this.file) ?? null;
    this.retry = { ...DEFAULT_RETRY, ...(options.retry ?? {}) };
    this.mergePatienceMs = options.mergePatienceMs ?? 10 * 60 * 1000;
    this.listeners = options.onProgress ? [options.onProgress] : [];
    this.size = this.platform.sizeOf(this.file);
    this.token = null;
    this.paused = null;
    this.holds = new Set();
    this.aborted = false;
    this.controllers = new Set();
    this.sentBytes = 0;
    this.heldBytes = 0;
    this.meter = new RateMeter();
  }

  /** Calls `listener` with every progress event. */
  onProgress(listener) {
    this.listeners.push(listener);
    return this;
  }

  /** Runs the upload; resolves with the published file once it is verified. */
  async start() {
    const unsubscribe = this.platform.onLifecycle?.({
      hide: () => this.hold('background'),
      show: () => this.release('background'),
      offline: () => this.hold('offline'),
      online: () => this.release('offline'),
      switched: () => this.sendAgain(),
    });
    try {
      return await this.run();
    } finally {
      unsubscribe?.();
    }
  }

  async run() {
    const started = Date.now();
    this.emit('hashing', 0);
    this.sha256 = await this.hash();
    const upload = await this.publish();
    const file = upload.file;
    if (!file || file.sha256 !== this.sha256 || file.size !== this.size) {
      throw new FerryError(`the server reported ${this.sha256} complete without the matching file`);
    }
    this.emit('done', this.size);
    return {
      sha256: this.sha256,
      size: this.size,
      url: absolute(this.server, file.url),
      file,
      sentBytes: this.sentBytes,
      reusedBytes: this.size - this.sentBytes,
      seconds: (Date.now() - started) / 1000,
    };
  }

  /** Stops sending after the requests in flight are cut; `resume()` goes on. */
  pause() {
    this.hold('user');
  }

  /** Goes on after `pause()`, sending again what was cut (unless the app is still in the background). */
  resume() {
    this.release('user');
  }

  /**
   * Pauses for `reason` ('user'; 'background' while the platform has the app
   * hidden; 'offline' while it has no network): requests in flight are cut,
   * and those cuts are not failures.
   */
  hold(reason) {
    if (this.aborted || this.holds.has(reason)) return;
    this.holds.add(reason);
    if (!this.paused) {
      let release;
      this.paused = { promise: new Promise((resolve) => (release = resolve)), release };
    }
    this.cutRequests();
    if (reason !== 'user') this.emitAgain();
  }

  /**
   * Drops the hold for `reason`; the upload goes on once no hold is left.
   * The platform's holds and releases are told to progress listeners with
   * the last event again; the user's own `pause()` and `resume()` are not.
   */
  release(reason) {
    const told = this.holds.delete(reason) && reason !== 'user' && !this.aborted;
    if (this.holds.size === 0 || this.aborted) {
      this.holds.clear();
      const paused = this.paused;
      this.paused = null;
      paused?.release();
    }
    if (told) this.emitAgain();
  }

  /**
   * Cuts the requests in flight and sends them again at once, without
   * counting the cuts as failures: after the platform moved to another
   * network, requests on the old one may hang until their timeout.
   */
  sendAgain() {
    if (!this.paused) this.cutRequests();
  }

  /**
   * Stops the upload for good: `start()` rejects with an AbortError. The
   * server keeps what it received, so the same file resumes later, unless
   * `deleteSession` is set, which also deletes the session on the server.
   */
  async abort({ deleteSession = false } = {}) {
    this.aborted = true;
    this.cutRequests();
    this.release('user');
    if (deleteSession && this.sha256) {
      const response = await this.platform.fetch({
        method: 'DELETE',
        url: `${this.server}/v1/uploads/${this.sha256}`,
        headers: await this.authHeaders(false),
      });
      if (response.status !== 204 && response.status !== 404) throw answerError(response);
    }
  }

  /** The SHA-256 of the whole file, read a slice at a time. */
  async hash() {
    const report = (done) => this.emit('hashing', done);
    while (this.platform.hashFile) {
      await this.checkpoint();
      try {
        return await this.whileRunning((signal) => this.platform.hashFile(this.file, { onProgress: report, signal }));
      } catch (error) {
        if (this.aborted) throw new AbortedError();
        if (!this.paused && error !== CUT) throw error;
      }
    }
    const hasher = await this.platform.createHasher();
    for (let start = 0; start < this.size; start += HASH_SLICE) {
      await this.checkpoint();
      const end = Math.min(this.size, start + HASH_SLICE);
      hasher.update(await this.platform.read(this.file, start, end));
      report(end);
    }
    return toHex(await hasher.digest());
  }

  /** Creates or resumes the session, sends what it lacks and completes it. */
  async publish() {
    const request = {
      sha256: this.sha256,
      size: this.size,
      ...(this.chunkSize ? { chunk_size: this.chunkSize } : {}),
      ...(this.filename ? { filename: this.filename } : {}),
      ...(this.contentType ? { content_type: this.contentType } : {}),
    };
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const upload = await this.open(request);
      this.heldBytes = upload.received_bytes - this.sentBytes;
      if (upload.status === 'complete') return upload;
      if (upload.status !== 'merging') {
        this.emit('uploading', upload.received_bytes);
        const sent = await this.send(upload, missingChunks(upload.chunk_count, upload.received_chunks));
        if (sent === 'gone') continue;
      }
      this.emit('merging', this.size);
      const finished = await this.finish();
      if (finished) return finished;
    }
    throw new FerryError(`the session kept losing chunks; gave up after ${MAX_ROUNDS} rounds`);
  }

  /** One create, answering a proof challenge once when the server asks for one. */
  async open(request) {
    let upload = await this.create(request);
    if (upload.proof_challenge && upload.status === 'uploading' && request.proof === undefined) {
      request.proof = await this.prove(upload.proof_challenge);
      upload = await this.create(request);
    }
    return upload;
  }

  async create(request) {
    const response = await this.call('POST', '/v1/uploads', {
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(request),
    });
    if (response.status !== 200 && response.status !== 201) throw answerError(response);
    const upload = json(response);
    const problem = layoutProblem(upload, this.sha256, this.size);
    if (problem) throw new FerryError(problem);
    return upload;
  }

  /** The proof of possession: the SHA-256 of the challenged bytes, in order. */
  async prove(challenge) {
    const problem = challengeProblem(challenge, this.size);
    if (problem) throw new FerryError(problem);
    const hasher = await this.platform.createHasher();
    for (const [first, last] of challenge.ranges) {
      hasher.update(await this.platform.read(this.file, first, last + 1));
    }
    return toHex(await hasher.digest());
  }

  /** Sends the `missing` chunks, `parallel` at a time: 'stored', 'moved' or 'gone'. */
  async send(upload, missing) {
    let next = 0;
    let outcome = 'stored';
    let failure = null;
    const worker = async () => {
      while (outcome === 'stored' && failure === null && next < missing.length) {
        const index = missing[next++];
        try {
          const sent = await this.sendChunk(upload, index);
          if (sent !== 'stored') outcome = sent;
        } catch (error) {
          failure = failure ?? error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.parallel, missing.length) }, worker));
    if (failure) throw failure;
    return outcome;
  }

  /** Reads, digests and sends chunk `index`; the bytes are dropped once it is stored. */
  async sendChunk(upload, index) {
    await this.checkpoint();
    const [start, end] = chunkSpan(upload.size, upload.chunk_size, index);
    const bytes = await this.platform.read(this.file, start, end);
    const digest = await this.platform.digest(bytes);
    const path = `/v1/uploads/${upload.sha256}/chunks/${index}`;
    const response = await this.call('PUT', path, {
      chunk: { bytes, index, sha256: toHex(digest) },
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Digest': `sha-256=:${toBase64(digest)}:` },
      body: bytes,
      retryCode: 'digest-mismatch',
    });
    if (response.status === 200) {
      this.sentBytes += end - start;
      this.emit('uploading', this.heldBytes + this.sentBytes);
      return 'stored';
    }
    const error = answerError(response);
    if (error.code === 'upload-not-writable') return 'moved';
    if (error.code === 'upload-not-found') return 'gone';
    throw error;
  }

  /**
   * Completes the session and waits out a merge that answers 202: the
   * published upload, or null when chunks must be sent again.
   */
  async finish() {
    const giveUp = Date.now() + this.mergePatienceMs;
    let pause = 1000;
    for (;;) {
      const response = await this.call('POST', `/v1/uploads/${this.sha256}/complete`, {});
      if (response.status === 200) return json(response);
      if (response.status !== 202) {
        const error = answerError(response);
        if (error.code === 'chunks-missing' || error.code === 'upload-not-found') return null;
        throw error;
      }
      if (Date.now() + pause > giveUp) {
        throw new FerryError('the server is still merging; ask for the upload later', { status: 202 });
      }
      await this.sleep(pause);
      pause = Math.min(pause * 2, 10_000);
    }
  }

  /**
   * One request, tried again after network faults and transient answers
   * (and `retryCode`), with a fresh token after a 401. Paused requests wait
   * for `resume()` and go again without counting as failures.
   */
  async call(method, path, { headers = {}, body, chunk, retryCode } = {}) {
    let failures = 0;
    let refreshed = false;
    for (;;) {
      await this.checkpoint();
      const auth = await this.authHeaders(false);
      let response;
      try {
        response = await this.whileRunning((signal) => {
          const request = { method, url: this.server + path, headers: { ...headers, ...auth }, body, signal };
          return chunk && this.platform.sendChunk
            ? this.platform.sendChunk({ ...request, chunk })
            : this.platform.fetch(request);
        });
      } catch (error) {
        if (this.aborted) throw new AbortedError();
        if (this.paused || error === CUT) continue;
        failures += 1;
        const pause = pauseBefore(this.retry, failures, Math.random());
        if (pause === null) throw error;
        await this.sleep(pause);
        continue;
      }
      if (response.status === 401 && this.tokenProvider && !refreshed) {
        refreshed = true;
        await this.authHeaders(true);
        continue;
      }
      const retryable = isTransientStatus(response.status) || (retryCode && errorCode(response) === retryCode);
      if (!retryable) return response;
      failures += 1;
      const pause = pauseBefore(this.retry, failures, Math.random(), parseRetryAfter(response.header('retry-after')));
      if (pause === null) return response;
      await this.sleep(pause);
    }
  }

  /** The Authorization header, asking the token provider for a new token when `refresh` is set. */
  async authHeaders(refresh) {
    if (!this.tokenProvider) return {};
    if (refresh || this.token === null) this.token = await this.tokenProvider({ refresh });
    return this.token ? { Authorization: `Bearer ${this.token}` } : {};
  }

  /**
   * Runs `operation` with a signal that `pause()`, `abort()` and a network
   * switch cut; a cut made on purpose rejects with CUT.
   */
  async whileRunning(operation) {
    const controller = newCutter();
    this.controllers.add(controller);
    try {
      return await operation(controller.signal);
    } catch (error) {
      throw controller.signal.aborted ? CUT : error;
    } finally {
      this.controllers.delete(controller);
    }
  }

  cutRequests() {
    for (const controller of this.controllers) controller.abort();
  }

  /** Waits while paused; throws once aborted. */
  async checkpoint() {
    while (this.paused && !this.aborted) await this.paused.promise;
    if (this.aborted) throw new AbortedError();
  }

  async sleep(ms) {
    await new Promise((resolve) => setTimeout(resolve, ms));
    await this.checkpoint();
  }

  /** The last progress event again, with what the upload now waits for. */
  emitAgain() {
    if (this.lastPhase) this.emit(this.lastPhase, this.lastBytesDone);
  }

  emit(phase, bytesDone) {
    this.lastBytesDone = bytesDone;
    if (phase !== this.lastPhase) {
      this.lastPhase = phase;
      this.meter = new RateMeter();
    }
    const rate = this.meter.record(bytesDone);
    const event = {
      phase,
      bytesDone,
      bytesTotal: this.size,
      rate,
      eta: secondsLeft(bytesDone, this.size, rate),
      sentBytes: this.sentBytes,
      sha256: this.sha256 ?? null,
      waitingFor: [...this.holds],
    };
    for (const listener of this.listeners) listener(event);
  }
}

/** `url` made absolute against `server` (which may be '' for the page's own origin). */
function absolute(server, url) {
  return /^https?:\/\//.test(url) ? url : server + url;
}

function json(response) {
  try {
    return JSON.parse(response.body);
  } catch {
    throw new FerryError(`the server answered ${response.status} with a body that is not JSON`, {
      status: response.status,
    });
  }
}

function errorCode(response) {
  try {
    return JSON.parse(response.body).code ?? null;
  } catch {
    return null;
  }
}

/** The server's JSON error as a FerryError. */
function answerError(response) {
  let body = null;
  try {
    body = JSON.parse(response.body);
  } catch {
    body = null;
  }
  const message = body?.message ?? `the server answered ${response.status}`;
  return new FerryError(message, { status: response.status, code: body?.code ?? `http-${response.status}`, body });
}
