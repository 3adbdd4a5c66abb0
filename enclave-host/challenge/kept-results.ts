/** A committed product kept for its witness to open. */
export interface KeptResult {
  readonly n: number;
  readonly c: Int32Array;
  /** Row leaf hashes (rows mode only). */
  readonly leaves?: Uint8Array[];
  readonly expiresAt: number;
  /** The session the commitment was made on: only it may open the result. */
  readonly session: string;
}

export interface KeptResultsOptions {
  /** How long a result is kept (default 60 s). */
  readonly ttlMs?: number;
  /** Bytes of kept products at most, all witnesses together (default 256 MiB); oldest dropped first. */
  readonly maxBytes?: number;
  /** Results kept at most, all witnesses together (default 1,024); oldest dropped first. */
  readonly maxEntries?: number;
  readonly now?: () => number;
}

/**
 * The products of recent commitments, by (witness, id): at most one per witness (a new commitment
 * drops the witness's previous one), bounded in time and in total bytes (oldest dropped first).
 */
export class KeptResults {
  private readonly byWitness = new Map<string, { id: string; r: KeptResult }>();
  /** `${session}/${id}` → witness. */
  private readonly index = new Map<string, string>();
  private readonly maxEntries: number;
  private bytes = 0;
  private readonly ttlMs: number;
  private readonly maxBytes: number;
  private readonly now: () => number;

  constructor(o: KeptResultsOptions = {}) {
    this.ttlMs = o.ttlMs ?? 60_000;
    this.maxBytes = o.maxBytes ?? 256 * 1024 * 1024;
    this.maxEntries = o.maxEntries ?? 1024;
    this.now = o.now ?? Date.now;
  }

  keep(session: string, witness: string, id: string, n: number, c: Int32Array, leaves?: Uint8Array[]): void {
    this.drop(witness);
    this.prune();
    while (
      this.byWitness.size > 0 &&
      (this.bytes + c.byteLength > this.maxBytes || this.byWitness.size >= this.maxEntries)
    ) {
      const oldest = this.byWitness.keys().next().value as string;
      this.drop(oldest);
    }
    if (c.byteLength > this.maxBytes) return;
    const r: KeptResult = { n, c, ...(leaves && { leaves }), expiresAt: this.now() + this.ttlMs, session };
    this.byWitness.set(witness, { id, r });
    this.index.set(`${session}/${id}`, witness);
    this.bytes += c.byteLength;
  }

  /** The kept result of commitment `id` made on `session`, if still kept. */
  get(session: string, id: string): KeptResult | undefined {
    this.prune();
    const witness = this.index.get(`${session}/${id}`);
    const e = witness === undefined ? undefined : this.byWitness.get(witness);
    return e && e.id === id && e.r.session === session ? e.r : undefined;
  }

  get size(): number {
    return this.byWitness.size;
  }

  get keptBytes(): number {
    return this.bytes;
  }

  private drop(witness: string): void {
    const e = this.byWitness.get(witness);
    if (!e) return;
    this.byWitness.delete(witness);
    this.index.delete(`${e.r.session}/${e.id}`);
    this.bytes -= e.r.c.byteLength;
  }

  private prune(): void {
    const t = this.now();
    for (const [w, e] of this.byWitness) if (e.r.expiresAt <= t) this.drop(w);
  }
}
