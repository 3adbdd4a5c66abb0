import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readVectorText, VECTORS, vectorIndex } from '../../test/vectors.js';
import { isAttestationError } from '../errors.js';
import { parseCollateralJson } from './collateral.js';
import { parseQeIdentity } from './qe-identity.js';
import { parseTcbInfo } from './tcb-info.js';
import { matchTcbLevels } from './tcb-status.js';

/** Real TCB Info / QE Identity texts of every collateral set. */
function texts(): { tcbInfo: string[]; qeIdentity: string[] } {
  const index = vectorIndex();
  const files = [...new Set([...index.tdx, ...index.sgx].map((e) => e.collateral_json as string))];
  const cs = files.map((f) => parseCollateralJson(readVectorText(f)));
  return { tcbInfo: cs.map((c) => c.tcbInfo.text), qeIdentity: cs.map((c) => c.qeIdentity.text) };
}

/** Every path to a value inside a JSON value (object keys and array indices). */
function paths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(v)) return v.flatMap((x, i) => [[...prefix, i], ...paths(x, [...prefix, i])]);
  if (v && typeof v === 'object') {
    return Object.entries(v).flatMap(([k, x]) => [[...prefix, k], ...paths(x, [...prefix, k])]);
  }
  return [];
}

function mutate(
  v: unknown,
  path: (string | number)[],
  op: 'delete' | 'string' | 'negative' | 'null',
): unknown {
  const copy = structuredClone(v) as Record<string | number, unknown>;
  let cur = copy;
  for (const p of path.slice(0, -1)) cur = cur[p] as Record<string | number, unknown>;
  const last = path.at(-1)!;
  if (op === 'delete') {
    if (Array.isArray(cur)) cur.splice(last as number, 1);
    else delete cur[last];
  } else {
    cur[last] = op === 'string' ? 'x' : op === 'negative' ? -1 : null;
  }
  return copy;
}

describe.skipIf(!VECTORS)('TCB Info / QE Identity parsing', () => {
  const t = VECTORS ? texts() : { tcbInfo: [], qeIdentity: [] };

  it('parses every real TCB Info and QE Identity', () => {
    for (const s of t.tcbInfo) {
      const info = parseTcbInfo(s);
      expect(info.tcbLevels.length).toBeGreaterThan(0);
      for (const l of info.tcbLevels) {
        expect(l.sgxComponents).toHaveLength(16);
        if (info.id === 'TDX') expect(l.tdxComponents).toHaveLength(16);
      }
    }
    for (const s of t.qeIdentity) expect(parseQeIdentity(s).mrSigner).toHaveLength(32);
  });

  it('parses TCB Info V2 (flat sgxtcbcompNNsvn)', () => {
    const v3 = JSON.parse(t.tcbInfo.find((s) => s.includes('"id":"SGX"'))!) as Record<string, unknown>;
    const levels = (v3.tcbLevels as { tcb: { sgxtcbcomponents: { svn: number }[]; pcesvn: number } }[]).map(
      (l) => {
        const tcb: Record<string, number> = { pcesvn: l.tcb.pcesvn };
        l.tcb.sgxtcbcomponents.forEach((c, i) => {
          tcb[`sgxtcbcomp${String(i + 1).padStart(2, '0')}svn`] = c.svn;
        });
        return { ...l, tcb };
      },
    );
    const { id: _id, ...rest } = v3;
    const v2 = parseTcbInfo(JSON.stringify({ ...rest, version: 2, tcbLevels: levels }));
    const parsedV3 = parseTcbInfo(JSON.stringify(v3));
    expect(v2.id).toBe('SGX');
    expect(v2.tcbLevels.map((l) => l.sgxComponents)).toEqual(parsedV3.tcbLevels.map((l) => l.sgxComponents));
  });

  it('any removed or retyped field: parsed or COLLATERAL_MALFORMED, never another exception', () => {
    const objs = [
      ...t.tcbInfo.map((s) => ['tcb', JSON.parse(s)] as const),
      ...t.qeIdentity.map((s) => ['qe', JSON.parse(s)] as const),
    ];
    const allCases = objs.flatMap(([kind, o]) => paths(o).map((p) => [kind, o, p] as const));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: allCases.length - 1 }),
        fc.constantFrom('delete' as const, 'string' as const, 'negative' as const, 'null' as const),
        (i, op) => {
          const [kind, o, p] = allCases[i]!;
          const text = JSON.stringify(mutate(o, p, op));
          try {
            if (kind === 'tcb') parseTcbInfo(text);
            else parseQeIdentity(text);
          } catch (e) {
            expect(isAttestationError(e, 'COLLATERAL_MALFORMED')).toBe(true);
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('required fields: removing one is always refused', () => {
    const info = JSON.parse(t.tcbInfo[0]!) as Record<string, unknown>;
    for (const k of [
      'id',
      'version',
      'issueDate',
      'nextUpdate',
      'fmspc',
      'pceId',
      'tcbType',
      'tcbLevels',
      'tdxModule',
    ]) {
      expect(() => parseTcbInfo(JSON.stringify(mutate(info, [k], 'delete')))).toThrow(/TCB Info/);
    }
    for (const k of ['tcb', 'tcbDate', 'tcbStatus']) {
      expect(() => parseTcbInfo(JSON.stringify(mutate(info, ['tcbLevels', 0, k], 'delete')))).toThrow(
        /tcbLevels\[0\]/,
      );
    }
    expect(() =>
      parseTcbInfo(JSON.stringify(mutate(info, ['tcbLevels', 0, 'tcb', 'sgxtcbcomponents', 3], 'delete'))),
    ).toThrow(/16 entries/);
  });
});

describe.skipIf(!VECTORS)('matchTcbLevels monotonicity (real TCB Infos)', () => {
  const infos = VECTORS ? texts().tcbInfo.map(parseTcbInfo) : [];

  it('raising any SGX component, PCESVN or TEE_TCB_SVN byte never selects a later level', () => {
    const svn = fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 16, maxLength: 16 });
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: infos.length - 1 }),
        svn,
        fc.integer({ min: 0, max: 20 }),
        svn,
        fc.integer({ min: 0, max: 16 + 1 + 16 - 1 }),
        fc.integer({ min: 1, max: 5 }),
        (k, comps, pce, tee, which, delta) => {
          const info = infos[k]!;
          const teeSvn = info.id === 'TDX' ? new Uint8Array(tee) : undefined;
          const before = matchTcbLevels(info, { tcbComponents: comps, pceSvn: pce }, teeSvn);
          const comps2 = [...comps];
          let pce2 = pce;
          const tee2 = teeSvn?.slice();
          if (which < 16) comps2[which] = comps2[which]! + delta;
          else if (which === 16) pce2 += delta;
          else if (tee2 && which - 17 !== 1) tee2[which - 17] = tee2[which - 17]! + delta; // byte 1 selects the module
          const after = matchTcbLevels(info, { tcbComponents: comps2, pceSvn: pce2 }, tee2);
          const idx = (l: unknown) => (l ? info.tcbLevels.indexOf(l as never) : Number.POSITIVE_INFINITY);
          expect(idx(after.sgxLevel)).toBeLessThanOrEqual(idx(before.sgxLevel));
          if (teeSvn) expect(idx(after.tdxLevel)).toBeLessThanOrEqual(idx(before.tdxLevel));
        },
      ),
      { numRuns: 500 },
    );
  });
});
