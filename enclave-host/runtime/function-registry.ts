import { fail } from '../errors.js';

export interface RegistryLimits {
  /** Functions kept at most; a new one beyond this evicts the least recently used. */
  readonly maxFunctions: number;
  /** Functions one owner may hold at once (deployed and not undeployed or evicted). */
  readonly maxPerOwner: number;
}

interface Entry<T> {
  readonly value: T;
  readonly owners: Set<string>;
}

/**
 * The registered functions, by id, with the owners that deployed each (an owner is the party a
 * deploy came from, e.g. a peer address). One owner holds at most `maxPerOwner` functions, so no
 * party can fill the registry; when it is full, a new function evicts the least recently used one
 * (deployed or invoked longest ago), so the registry never refuses everyone. Map insertion order is
 * the recency order: a use moves the entry to the end.
 */
export class FunctionRegistry<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly held = new Map<string, number>();

  constructor(private readonly limits: RegistryLimits) {}

  get size(): number {
    return this.entries.size;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** The function, marked as just used; undefined when it is not (or no longer) registered. */
  use(id: string): T | undefined {
    const e = this.entries.get(id);
    if (e === undefined) return undefined;
    this.entries.delete(id);
    this.entries.set(id, e);
    return e.value;
  }

  /**
   * Registers `id` for `owner` (making its value with `make` when it is new); throws
   * FUNCTION_TOO_MANY when the owner already holds its quota. Returns the value.
   */
  add(id: string, owner: string, make: () => T): T {
    const e = this.entries.get(id);
    if (e?.owners.has(owner)) return this.use(id)!;
    const n = this.held.get(owner) ?? 0;
    if (n >= this.limits.maxPerOwner)
      fail(
        'FUNCTION_TOO_MANY',
        `this client holds ${n} deployed functions, the most allowed (${this.limits.maxPerOwner}); undeploy one first`,
        { maxFunctionsPerClient: this.limits.maxPerOwner },
      );
    if (e !== undefined) {
      e.owners.add(owner);
      this.held.set(owner, n + 1);
      return this.use(id)!;
    }
    while (this.entries.size >= this.limits.maxFunctions) {
      const oldest = this.entries.keys().next().value as string;
      this.delete(oldest);
    }
    const entry: Entry<T> = { value: make(), owners: new Set([owner]) };
    this.entries.set(id, entry);
    this.held.set(owner, n + 1);
    return entry.value;
  }

  /** Drops `owner`'s hold on `id`; the function goes when nobody holds it. False when it held none. */
  release(id: string, owner: string): boolean {
    const e = this.entries.get(id);
    if (e === undefined || !e.owners.has(owner)) return false;
    e.owners.delete(owner);
    this.drop(owner);
    if (e.owners.size === 0) this.entries.delete(id);
    return true;
  }

  /** Removes `id` for every owner (e.g. its compilation failed). */
  delete(id: string): void {
    const e = this.entries.get(id);
    if (e === undefined) return;
    this.entries.delete(id);
    for (const owner of e.owners) this.drop(owner);
  }

  /** Functions `owner` holds. */
  heldBy(owner: string): number {
    return this.held.get(owner) ?? 0;
  }

  private drop(owner: string): void {
    const n = (this.held.get(owner) ?? 1) - 1;
    if (n > 0) this.held.set(owner, n);
    else this.held.delete(owner);
  }
}
