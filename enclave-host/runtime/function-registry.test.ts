import { describe, expect, it } from 'vitest';
import { isEnclaveHostError } from '../errors.js';
import { FunctionRegistry } from './function-registry.js';

function code(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    return isEnclaveHostError(e) ? e.code : String(e);
  }
}

describe('FunctionRegistry', () => {
  it("caps one owner's functions without touching the others'", () => {
    const r = new FunctionRegistry<string>({ maxFunctions: 10, maxPerOwner: 2 });
    r.add('f1', 'mallory', () => 'f1');
    r.add('f2', 'mallory', () => 'f2');
    expect(code(() => r.add('f3', 'mallory', () => 'f3'))).toBe('FUNCTION_TOO_MANY');
    // Re-deploying what it holds is free.
    expect(r.add('f1', 'mallory', () => 'other')).toBe('f1');
    r.add('f3', 'alice', () => 'f3');
    expect(r.size).toBe(3);
    expect(() => r.add('f4', 'mallory', () => 'f4')).toThrow(/most allowed \(2\); undeploy one first/);
  });

  it('evicts the least recently used function when full, never refusing a newcomer', () => {
    const r = new FunctionRegistry<string>({ maxFunctions: 3, maxPerOwner: 3 });
    r.add('a', 'p', () => 'a');
    r.add('b', 'q', () => 'b');
    r.add('c', 'r', () => 'c');
    r.use('a'); // b is now the least recently used
    r.add('d', 's', () => 'd');
    expect(['a', 'b', 'c', 'd'].filter((id) => r.has(id))).toEqual(['a', 'c', 'd']);
    // The evicted function no longer counts against its owner.
    expect(r.heldBy('q')).toBe(0);
  });

  it('a function shared by owners stays until the last one undeploys it', () => {
    const r = new FunctionRegistry<string>({ maxFunctions: 3, maxPerOwner: 1 });
    r.add('f', 'p', () => 'f');
    r.add('f', 'q', () => 'unused');
    expect(r.release('f', 'p')).toBe(true);
    expect(r.release('f', 'p')).toBe(false);
    expect(r.has('f')).toBe(true);
    expect(r.release('f', 'q')).toBe(true);
    expect(r.has('f')).toBe(false);
    expect(r.heldBy('p') + r.heldBy('q')).toBe(0);
  });

  it('one owner flooding deploys can only ever hold its quota', () => {
    const r = new FunctionRegistry<number>({ maxFunctions: 256, maxPerOwner: 32 });
    for (let i = 0; i < 10; i++) r.add(`victim-${i}`, 'alice', () => i);
    let refused = 0;
    for (let i = 0; i < 10_000; i++) {
      if (code(() => r.add(`flood-${i}`, 'mallory', () => i)) === 'FUNCTION_TOO_MANY') refused++;
    }
    expect(refused).toBe(10_000 - 32);
    expect(r.size).toBe(42);
    expect(r.heldBy('alice')).toBe(10);
  });
});
