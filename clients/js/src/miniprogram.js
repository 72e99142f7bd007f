// The entry of the mini-program bundle (miniprogram_dist/index.js, built by
// scripts/build-miniprogram.js): WeChat's npm builder follows neither
// `exports` subpaths nor ES modules, so one CommonJS file holds the client,
// its errors and the WeChat adapter.

export * from './index.js';
export { wechatPlatform, WECHAT_MAX_REQUESTS } from './platforms/wechat.js';
