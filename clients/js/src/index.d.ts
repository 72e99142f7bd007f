/** What phase an upload is in. */
export type Phase = 'hashing' | 'uploading' | 'merging' | 'done';

/** One progress event, emitted as bytes are hashed or chunks are stored. */
export interface Progress {
  phase: Phase;
  /** Bytes hashed (hashing) or held by the server (uploading); the file's size once merging. */
  bytesDone: number;
  bytesTotal: number;
  /** Bytes per second over the last few seconds of this phase. */
  rate: number;
  /** Seconds left in this phase at that rate, or null while unknown. */
  eta: number | null;
  /** Bytes of chunks this run sent and the server stored. */
  sentBytes: number;
  /** The file's SHA-256 once hashed. */
  sha256: string | null;
  /**
   * What the upload waits for, empty while it runs: 'user' after `pause()`,
   * 'background' while the app is hidden, 'offline' while there is no network.
   */
  waitingFor: Array<'user' | 'background' | 'offline'>;
}

/** An answer in the shape every adapter gives. */
export interface Answer {
  status: number;
  header(name: string): string | null;
  body: string;
}

/** One HTTP request an adapter sends. */
export interface Request {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  signal?: AbortSignal;
}

/** A streaming SHA-256. */
export interface Hasher {
  update(bytes: Uint8Array): unknown;
  digest(): Uint8Array | Promise<Uint8Array>;
}

/** What the upload needs from a platform: files, hashing and HTTP. */
export interface Platform<F = unknown> {
  name: string;
  /** Most requests the platform runs at once; chunks in flight never exceed it. */
  maxConcurrency?: number;
  sizeOf(file: F): number;
  nameOf(file: F): string | null;
  typeOf(file: F): string | null;
  /** Bytes [start, end) of the file. */
  read(file: F, start: number, end: number): Promise<Uint8Array>;
  createHasher(): Hasher | Promise<Hasher>;
  /** SHA-256 of one chunk. */
  digest(bytes: Uint8Array): Promise<Uint8Array>;
  fetch(request: Request): Promise<Answer>;
  /** Hashes a whole file its own way (a browser's worker); the hex digest. */
  hashFile?(file: F, options: { onProgress?: (bytes: number) => void; signal?: AbortSignal }): Promise<string>;
  /**
   * Calls `hide` when the app goes to the background (the platform will cut
   * its requests) and `show` when it comes back, `offline` and `online` as
   * the network goes and returns, `switched` when it moves to another
   * network; returns the unsubscribe. The upload holds while hidden or
   * offline, and sends again at once what was in flight on a switch, without
   * counting the cut requests as failures.
   */
  onLifecycle?(listeners: { hide(): void; show(): void; offline(): void; online(): void; switched(): void }): () => void;
  /** Sends one chunk its own way (wx.uploadFile). */
  sendChunk?(request: Request & { chunk: { bytes: Uint8Array; index: number; sha256: string } }): Promise<Answer>;
}

/** The token provider: called first with `refresh: false`, and again with `refresh: true` after a 401. */
export type TokenProvider = (context: { refresh: boolean }) => string | null | Promise<string | null>;

export interface UploadOptions<F = unknown> {
  /** The server's origin, e.g. `https://files.example.com`; '' for the page's own. */
  server?: string;
  file: F;
  platform: Platform<F>;
  token?: TokenProvider;
  /** Chunks in flight at once: 4 unless told, never more than the platform allows. */
  parallel?: number;
  /** The chunk size to ask for; the server decides. */
  chunkSize?: number;
  filename?: string;
  contentType?: string;
  /** Backoff: pauses up to `baseMs` doubling to `capMs`, `attempts` in all (200 ms, 10 s, 8). */
  retry?: Partial<{ baseMs: number; capMs: number; attempts: number }>;
  /** How long to wait out a merge answered 202 (10 minutes). */
  mergePatienceMs?: number;
  onProgress?: (progress: Progress) => void;
}

/** The published file. */
export interface UploadResult {
  sha256: string;
  size: number;
  /** Absolute download URL. */
  url: string;
  file: { sha256: string; size: number; content_type?: string | null; url: string };
  /** Bytes this run sent. */
  sentBytes: number;
  /** Bytes the server already held. */
  reusedBytes: number;
  seconds: number;
}

/** An upload of one file. */
export class Upload<F = unknown> {
  constructor(options: UploadOptions<F>);
  /** Settles once the file is published (set by `upload()`). */
  done: Promise<UploadResult>;
  sha256?: string;
  start(): Promise<UploadResult>;
  onProgress(listener: (progress: Progress) => void): this;
  /** Cuts the requests in flight and sends nothing until `resume()`. */
  pause(): void;
  resume(): void;
  /** Stops for good; the server keeps the chunks unless `deleteSession`. */
  abort(options?: { deleteSession?: boolean }): Promise<void>;
}

/** Starts an upload at once. */
export function upload<F>(options: UploadOptions<F>): Upload<F>;

/** One of the caller's files, as `listFiles` answers it. */
export interface OwnedFile {
  sha256: string;
  size: number;
  filename: string | null;
  content_type: string | null;
  /** When the caller first held it (RFC 3339). */
  created: string;
  /** Download path (signed when the server signs links). */
  url: string;
}

/** Where the caller's files are and who asks. */
export interface FilesOptions {
  server?: string;
  platform: Platform;
  token?: TokenProvider;
}

/** One page of the caller's files, newest first; `nextCursor` is null on the last. */
export function listFiles(
  options: FilesOptions & { cursor?: string | null; limit?: number },
): Promise<{ files: OwnedFile[]; nextCursor: string | null }>;

/** Lets the caller's file go; a FerryError with `code` `file-not-found` when they hold none. */
export function deleteFile(sha256: string, options: FilesOptions): Promise<void>;

/** Most files one page lists. */
export const MAX_LIST_LIMIT: number;

/** A refusal or fault reported by the server: `code` is its error code. */
export class FerryError extends Error {
  status: number;
  code: string;
  body: object | null;
}

/** The upload was aborted. */
export class AbortedError extends Error {}

/** A streaming SHA-256 in plain JavaScript. */
export class Sha256 {
  update(bytes: Uint8Array | ArrayBuffer): this;
  digest(): Uint8Array;
  hex(): string;
}
export function sha256(bytes: Uint8Array | ArrayBuffer): Uint8Array;
export function toHex(bytes: Uint8Array): string;
export function toBase64(bytes: Uint8Array): string;

export { wechatPlatform, WECHAT_MAX_REQUESTS, WECHAT_WASM_PATH } from './platforms/wechat.js';
export type { WechatFile } from './platforms/wechat.js';
