export * from './errors.js';
export * from './frame-cipher.js';
export * from './keys.js';
export * from './replay-window.js';
export * from './secp256k1.js';
export * from './settlement.js';
export * from './transcript.js';
export * from './x25519.js';
