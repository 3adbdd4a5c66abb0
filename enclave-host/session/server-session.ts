import { FrameCipher } from '../../attestation/session/frame-cipher.js';
import { ReplayWindow } from '../../attestation/session/replay-window.js';

/** One open session on the executor: its keys, replay window and lifetime. */
export class ServerSession {
  readonly rx: FrameCipher;
  readonly tx: FrameCipher;
  readonly window: ReplayWindow;

  constructor(
    readonly id: Uint8Array,
    keys: { c2s: Uint8Array; s2c: Uint8Array },
    readonly expiresAt: number,
    /** SHA-256 of the evidence presented in this session (receipts carry it). */
    readonly evidenceHash: Uint8Array,
    windowSize: number,
  ) {
    this.rx = new FrameCipher(keys.c2s, 'c2s');
    this.tx = new FrameCipher(keys.s2c, 's2c');
    this.window = new ReplayWindow(windowSize);
  }
}
