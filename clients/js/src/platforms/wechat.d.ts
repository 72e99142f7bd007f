import type { Platform } from '../index.js';

/** Requests WeChat runs at once. */
export const WECHAT_MAX_REQUESTS: 10;

/** A file as wx.chooseMessageFile and wx.chooseMedia give it. */
export interface WechatFile {
  path: string;
  size: number;
  name?: string;
  type?: string;
}

/** WeChat mini-programs: readFile by position, wx.request PUT or wx.uploadFile, plain-JavaScript SHA-256. */
export function wechatPlatform(options?: {
  wx?: unknown;
  /** Send chunks with wx.uploadFile (multipart POST of a temporary file). */
  uploadFile?: boolean;
  maxConcurrency?: number;
  timeoutMs?: number;
}): Platform<WechatFile>;
