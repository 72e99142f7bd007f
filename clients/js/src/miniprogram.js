// The entry of the mini-program bundle (miniprogram_dist/index.js, built by
// scripts/build-miniprogram.js): WeChat's npm builder follows neither
// `exports` subpaths nor ES modules, so one CommonJS file holds the client,
// its errors and the WeChat adapter, all of which the main entry exports.

export * from './index.js';
