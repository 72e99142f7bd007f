import type { Platform } from '../index.js';

/** Requests WeChat runs at once. */
export const WECHAT_MAX_REQUESTS: 10;

/** Where WeChat's npm builder puts the package's SHA-256 module in the code package. */
export const WECHAT_WASM_PATH: '/miniprogram_npm/@ferry/client/sha256.wasm';

/** A file as wx.chooseMessageFile and wx.chooseMedia give it. */
export interface WechatFile {
  path: string;
  size: number;
  name?: string;
  type?: string;
}

/**
 * WeChat mini-programs: readFile by position, wx.request PUT or wx.uploadFile,
 * SHA-256 in WebAssembly (WXWebAssembly) or else plain JavaScript, holds while
 * the app is hidden or offline.
 */
export function wechatPlatform(options?: {
  wx?: unknown;
  /** The runtime's WXWebAssembly (the global one unless given). */
  WXWebAssembly?: unknown;
  /** The SHA-256 module's path in the code package (WECHAT_WASM_PATH); null hashes in JavaScript. */
  wasmPath?: string | null;
  /** Send chunks with wx.uploadFile (multipart POST of a temporary file). */
  uploadFile?: boolean;
  maxConcurrency?: number;
  /** Each request's timeout (60 000 ms, WeChat's default). */
  timeoutMs?: number;
}): Platform<WechatFile> & {
  /** How this platform hashes: 'wasm' once the module loaded and checked, else 'javascript'. */
  hashEngine(): Promise<'wasm' | 'javascript'>;
};
