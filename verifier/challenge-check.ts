import { randomInt } from 'node:crypto';
import { maxProductEntry } from '../protocol/challenge-matrices.js';
import { freivalds, MERSENNE_31 } from './freivalds.js';

/*
 * Checks of an opened challenge product against A·B (docs/witness.md, "Capacity challenges"): the
 * full C by Freivalds (verifier/freivalds.ts), single rows by the same identity restricted to the row
 * (A_i·(B·r) = C_i·r over GF(2³¹ − 1)). Either way a mismatch is confirmed by computing the row of A·B
 * exactly, so a `wrong` names an entry whose claimed and true values differ: a product that is right
 * never fails, and a product that is wrong is reported with the entry that shows it.
 */

export type ProductCheck =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly row: number;
      readonly column: number;
      readonly claimed: number;
      readonly actual: number;
    };

/** Row i of A·B, exactly (entries below 2²⁸ for n ≤ 4096). */
export function exactRow(n: number, a: Uint8Array, b: Uint8Array, i: number): Int32Array {
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const x = a[i * n + k]!;
    if (x === 0) continue;
    const off = k * n;
    for (let j = 0; j < n; j++) out[j] = out[j]! + x * b[off + j]!;
  }
  return Int32Array.from(out);
}

function confirm(n: number, a: Uint8Array, b: Uint8Array, i: number, row: Int32Array): ProductCheck {
  const t = exactRow(n, a, b, i);
  for (let j = 0; j < n; j++)
    if (t[j] !== row[j]) return { ok: false, row: i, column: j, claimed: row[j]!, actual: t[j]! };
  return { ok: true };
}

/** Checks a full product; a failure names a wrong entry. */
export function checkFullProduct(n: number, a: Uint8Array, b: Uint8Array, c: Int32Array): ProductCheck {
  const f = freivalds(n, a, b, c, { rounds: 2 });
  if (f.ok) return { ok: true };
  const i = f.reason === 'mismatch' ? f.row : Math.floor(f.index / n);
  const verdict = confirm(n, a, b, i, c.subarray(i * n, (i + 1) * n));
  if (verdict.ok) throw new Error('Freivalds rejected a row that is right (a bug)');
  return verdict;
}

/** Checks opened rows (index, row as n entries); a failure names a wrong entry. */
export function checkRows(
  n: number,
  a: Uint8Array,
  b: Uint8Array,
  rows: readonly { readonly index: number; readonly row: Int32Array }[],
  rounds = 2,
): ProductCheck {
  const max = maxProductEntry(n);
  for (const { index, row } of rows)
    for (let j = 0; j < n; j++) if (row[j]! < 0 || row[j]! > max) return confirm(n, a, b, index, row);
  const p = MERSENNE_31;
  const r = new Float64Array(n);
  const br = new Float64Array(n);
  for (let round = 0; round < rounds; round++) {
    for (let j = 0; j < n; j++) r[j] = randomInt(p);
    for (let k = 0; k < n; k++) br[k] = dotMod(b, k * n, r, n, p);
    for (const { index, row } of rows) {
      const left = dotMod(a, index * n, br, n, p);
      let right = 0;
      for (let j = 0; j < n; j++) right = (right + mulMod(row[j]!, r[j]!, p)) % p;
      if (left !== right) return confirm(n, a, b, index, row);
    }
  }
  return { ok: true };
}

function dotMod(m: Uint8Array, off: number, v: Float64Array, n: number, p: number): number {
  let acc = 0;
  for (let j = 0; j < n; j++) {
    acc += m[off + j]! * v[j]!;
    if ((j & 0x1fff) === 0x1fff) acc %= p;
  }
  return acc % p;
}

/** x·y mod p for 0 ≤ x < 2²⁸, 0 ≤ y < 2³¹, exact in doubles via 16-bit halves of y. */
function mulMod(x: number, y: number, p: number): number {
  const hi = Math.floor(y / 65536);
  const lo = y - hi * 65536;
  return (((x * hi) % p) * 65536 + x * lo) % p;
}
