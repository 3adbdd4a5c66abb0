import { generateX25519, type X25519KeyPair } from '../../protocol/x25519.js';

/**
 * Handshake ephemeral X25519 keys generated ahead of time, off the handshake's critical path: a
 * handshake takes one (each key is handed out exactly once, then forgotten by the pool) and the
 * pool refills itself in a later turn of the event loop. An empty pool generates on the spot.
 */
export class EphemeralPool {
  private readonly keys: X25519KeyPair[] = [];
  private refilling = false;

  constructor(private readonly size = 8) {}

  take(): X25519KeyPair {
    const k = this.keys.pop() ?? generateX25519();
    this.scheduleRefill();
    return k;
  }

  private scheduleRefill(): void {
    if (this.refilling || this.keys.length >= this.size) return;
    this.refilling = true;
    setImmediate(() => {
      this.refilling = false;
      // One key per turn, so a burst of handshakes is not held up behind the refill.
      if (this.keys.length < this.size) this.keys.push(generateX25519());
      this.scheduleRefill();
    }).unref();
  }
}
