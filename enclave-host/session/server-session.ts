import { FrameCipher } from '../../protocol/frame-cipher.js';
import type { DirectionalKeys } from '../../protocol/keys.js';
import { ReplayWindow } from '../../protocol/replay-window.js';
import type { LeaseTermsFields } from '../../protocol/transcript.js';

/**
 * One open session on the executor: its keys, replay window, lifetime and the terms it was opened
 * under (signed in its transcript), whose lease is the only one its requests may act on. The keys
 * may be given as a derivation that runs on first use (or on `prepare()`), so the handshake can
 * answer before spending the Diffie-Hellman work: the result is the same whenever it runs.
 */
export class ServerSession {
  private ciphers: { rx: FrameCipher; tx: FrameCipher } | undefined;
  private derive: (() => DirectionalKeys) | undefined;
  readonly window: ReplayWindow;
  /** `${lease}/${client}` pairs whose wallet signed a client binding for this session. */
  readonly boundClients = new Set<string>();
  /** The network address the session was opened from (the owner of the functions it deploys). */
  peer = '';
  /** Set once a client frame authenticated in this session (SessionTable expires unused sessions early). */
  used = false;

  constructor(
    readonly id: Uint8Array,
    keys: DirectionalKeys | (() => DirectionalKeys),
    readonly expiresAt: number,
    /** SHA-256 of the evidence presented in this session (receipts carry it). */
    readonly evidenceHash: Uint8Array,
    windowSize: number,
    /** The terms of the ServerHello; their gRPC message limit fixes the frames' top padding bucket. */
    readonly terms: LeaseTermsFields,
  ) {
    if (typeof keys === 'function') this.derive = keys;
    else this.ciphers = ciphersFor(keys, this.maxMessageBytes);
    this.window = new ReplayWindow(windowSize);
  }

  /** The lease this session serves. */
  get leaseId(): bigint {
    return this.terms.leaseId;
  }

  private get maxMessageBytes(): number {
    return Number(this.terms.limits.maxMessageBytes);
  }

  /** Derives the keys now if that was deferred. */
  prepare(): void {
    if (this.ciphers) return;
    const derive = this.derive!;
    this.derive = undefined;
    this.ciphers = ciphersFor(derive(), this.maxMessageBytes);
  }

  /** Opens client → server frames. */
  get rx(): FrameCipher {
    this.prepare();
    return this.ciphers!.rx;
  }

  /** Seals server → client frames. */
  get tx(): FrameCipher {
    this.prepare();
    return this.ciphers!.tx;
  }
}

function ciphersFor(keys: DirectionalKeys, maxMessageBytes: number): { rx: FrameCipher; tx: FrameCipher } {
  return {
    rx: new FrameCipher(keys.c2s, 'c2s', maxMessageBytes),
    tx: new FrameCipher(keys.s2c, 's2c', maxMessageBytes),
  };
}
