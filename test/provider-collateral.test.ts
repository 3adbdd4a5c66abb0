import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verifyEvidence } from '../attestation/check.js';
import { collateralDigest, loadIntelCollateral } from '../attestation/intel/collateral.js';
import type { IntelCollateral } from '../attestation/intel/types.js';
import { parseCertificate } from '../attestation/x509.js';
import {
  type CollateralKeeper,
  type CollateralKeeperOptions,
  type KeeperTimers,
  startCollateralKeeper,
} from '../cli/provider/collateral.js';
import { cacheFile } from '../cli/provider/collateral-cache.js';
import { expiringItems } from '../cli/provider/collateral-expiry.js';
import { checkNotOlder } from '../cli/provider/collateral-rollback.js';
import { codeOf, codeOfAsync } from './error-code.js';
import {
  type CollateralServices,
  SNP_CHAIN,
  SNP_REPORT_DIR,
  startCollateralServices,
} from './provider-collateral-services.js';
import { readVector, VECTORS, vectorIndex, vectorPath } from './vectors.js';

/*
 * The provider's collateral keeper against a local stand-in for Intel PCS / a PCCS / AMD KDS serving
 * recorded real collateral, with time as a parameter and timers fired by hand. The TDX platform is
 * the Alibaba Cloud TD 1.5 quote (FMSPC 90C06F000000), for which two real collateral sets exist: June
 * 2025 (the index's set for this quote) and February 2026 (published later for the same FMSPC).
 */

const QUOTE_ID = 'v5-alibaba-90c06f-servicetd';
const OLD_SET = 'composed-tdx-90c06f-2025-06';
const NEW_SET = 'phala-tdx-90c06f-2026-02';
const DAY = 24 * 3600_000;

/** Timers the test fires: at most one is pending (the keeper keeps one). */
class ManualTimers implements KeeperTimers {
  pending: { fn: () => void; ms: number; id: number } | undefined;
  private ids = 0;
  set(fn: () => void, ms: number): unknown {
    this.pending = { fn, ms, id: ++this.ids };
    return this.pending.id;
  }
  clear(h: unknown): void {
    if (this.pending?.id === h) this.pending = undefined;
  }
  fire(): void {
    const p = this.pending;
    if (!p) throw new Error('no timer pending');
    this.pending = undefined;
    p.fn();
  }
}

describe.skipIf(!VECTORS)('provider collateral keeper', () => {
  let services: CollateralServices;
  const dirs: string[] = [];
  const keepers: CollateralKeeper[] = [];
  let entry: ReturnType<typeof vectorIndex>['tdx'][number];
  let quote: Uint8Array;

  const tempDir = (prefix: string) => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };

  beforeAll(async () => {
    entry = vectorIndex().tdx.find((e) => e.id === QUOTE_ID)!;
    quote = readVector(entry.quote as string);
    services = await startCollateralServices(OLD_SET);
  });

  afterEach(() => {
    for (const k of keepers.splice(0)) k.stop();
    services.mode = 'ok';
    services.intelSet = OLD_SET;
  });

  afterAll(async () => {
    await services?.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  const setCollateral = (set: string): Promise<IntelCollateral> =>
    loadIntelCollateral(vectorPath(`tdx/collateral/${set}`));

  /** A TDX keeper on the local PCS at a clock the test moves. */
  async function tdxKeeper(
    at: string,
    extra: Partial<CollateralKeeperOptions> = {},
  ): Promise<{ keeper: CollateralKeeper; clock: { t: Date }; timers: ManualTimers; cacheDir: string }> {
    const clock = { t: new Date(at) };
    const timers = new ManualTimers();
    const cacheDir = extra.cacheDir ?? tempDir('defaas-keeper-');
    const keeper = await startCollateralKeeper({
      tee: 'tdx',
      evidence: quote,
      source: { pcs: services.base, rootCrl: `${services.base}/IntelSGXRootCA.der` },
      cacheDir,
      now: () => clock.t,
      timers,
      ...extra,
    });
    keepers.push(keeper);
    return { keeper, clock, timers, cacheDir };
  }

  it("fresh start: the vector's TCB status, the earliest nextUpdate, a refresh ahead of it, a cached copy", async () => {
    const { keeper, timers, cacheDir } = await tdxKeeper(entry.verify_at);
    const s = keeper.status();
    const expected = entry.expected as unknown as { tcb_status: string; advisory_ids: string[] };
    expect(s.tee).toBe('tdx');
    expect(s.source).toBe(`pcs:${services.base}`);
    expect(s.tcbStatus).toBe(expected.tcb_status);
    expect(s.advisories).toEqual(expected.advisory_ids);
    expect(s.state).toBe('fresh');
    expect(s.lastError).toBeUndefined();
    // The earliest of the set's nextUpdates as the index lists them.
    const set = (vectorIndex().collateral_sets as Record<string, Record<string, { nextUpdate: string }>>)[
      OLD_SET
    ]!;
    const earliest = Math.min(
      ...['tcb_info', 'qe_identity', 'pck_crl', 'root_ca_crl'].map((k) => Date.parse(set[k]!.nextUpdate)),
    );
    expect(s.nextUpdate.getTime()).toBe(earliest);
    const now = Date.parse(entry.verify_at);
    expect(s.refreshAt.getTime()).toBe(Math.min(earliest - 7 * DAY, now + Math.floor((earliest - now) / 2)));
    expect(timers.pending?.ms).toBe(s.refreshAt.getTime() - now);
    // What the executor presents: the served collateral, on any evidence the hook is given.
    const want = collateralDigest(await setCollateral(OLD_SET));
    expect(collateralDigest(keeper.current().intel!)).toBe(want);
    expect(collateralDigest((await keeper.hook(quote)).intel!)).toBe(want);
    expect(JSON.parse(await readFile(cacheFile(cacheDir, 'tdx'), 'utf8')).v).toBe(1);
  });

  it('a timer that fires just before refreshAt fetches nothing; at refreshAt a refresh is fetched', async () => {
    const { keeper, clock, timers } = await tdxKeeper(entry.verify_at);
    const { refreshAt } = keeper.status();
    const before = services.hits.length;
    clock.t = new Date(refreshAt.getTime() - 1000);
    expect(keeper.status().state).toBe('fresh');
    timers.fire();
    expect(timers.pending?.ms).toBe(1000);
    expect(services.hits.length).toBe(before);
    clock.t = refreshAt;
    timers.fire();
    const s = await keeper.refreshNow(); // joins the refresh the timer started
    expect(services.hits.length - before).toBe(4);
    expect(s.fetchedAt).toEqual(refreshAt);
    expect(s.lastError).toBeUndefined();
    expect(s.refreshAt.getTime()).toBeGreaterThan(refreshAt.getTime());
  });

  it('newer collateral that rates the platform differently: adopted, onTcbChange called, cached', async () => {
    const changes: [string, string][] = [];
    let refreshed = 0;
    const { keeper, clock, timers, cacheDir } = await tdxKeeper(entry.verify_at, {
      onTcbChange: (a, b) => {
        changes.push([a, b]);
      },
      onRefresh: () => {
        refreshed++;
      },
    });
    const newer = await setCollateral(NEW_SET);
    const newAt = new Date(vectorIndex().tdx.find((e) => e.collateral_set === NEW_SET)!.verify_at);
    // Independently, what the client's verifier says with the newer collateral.
    const v = verifyEvidence({ evidence: quote, intel: newer }, { now: newAt });
    if (v.tee !== 'tdx') throw new Error('not TDX');
    expect(v.tcbStatus).not.toBe(keeper.status().tcbStatus);

    services.intelSet = NEW_SET;
    clock.t = newAt;
    expect(keeper.status().state).toBe('expired');
    timers.fire();
    const s = await keeper.refreshNow();
    expect(s.state).toBe('fresh');
    expect(s.tcbStatus).toBe(v.tcbStatus);
    expect(s.advisories).toEqual(v.advisoryIds);
    expect(changes).toEqual([[entry.expected.tcb_status, v.tcbStatus]]);
    expect(refreshed).toBe(1);
    expect(collateralDigest(keeper.current().intel!)).toBe(collateralDigest(newer));
    // The older set served again (a replay, a stale mirror) is refused; the newer stays.
    services.intelSet = OLD_SET;
    const r = await keeper.refreshNow();
    expect(r.lastError?.code).toBe('COLLATERAL_ROLLBACK');
    expect(collateralDigest(keeper.current().intel!)).toBe(collateralDigest(newer));
    expect(r.tcbStatus).toBe(v.tcbStatus);
    // A restart with the vendor down presents the cached newer collateral.
    services.mode = 'down';
    const again = await tdxKeeper(newAt.toISOString(), { cacheDir });
    expect(collateralDigest(again.keeper.current().intel!)).toBe(collateralDigest(newer));
  });

  it('rollback rule: an older set is refused after a newer one, the same or a newer one is not', async () => {
    const [older, newer] = [await setCollateral(OLD_SET), await setCollateral(NEW_SET)];
    expect(codeOf(() => checkNotOlder({ intel: newer }, { intel: older }))).toBe('COLLATERAL_ROLLBACK');
    expect(codeOf(() => checkNotOlder({ intel: older }, { intel: newer }))).toBe('ok');
    expect(codeOf(() => checkNotOlder({ intel: newer }, { intel: newer }))).toBe('ok');
  });

  it('vendor down: the old collateral stays, lastError is set, retries back off and stop after maxAttempts', async () => {
    const schedule = { retryFirstMs: 60_000, retryMaxMs: 150_000, maxAttempts: 4 };
    const { keeper, clock, timers } = await tdxKeeper(entry.verify_at, { schedule });
    const held = collateralDigest(keeper.current().intel!);
    services.mode = 'down';
    clock.t = keeper.status().refreshAt;
    const delays: number[] = [];
    for (let i = 0; i < 10 && timers.pending; i++) {
      timers.fire();
      const s = await keeper.refreshNow();
      expect(s.lastError?.code).toBe('COLLATERAL_UNAVAILABLE');
      expect(s.state).toBe('expiring');
      expect(collateralDigest(keeper.current().intel!)).toBe(held);
      if (timers.pending) {
        delays.push(timers.pending.ms);
        clock.t = new Date(clock.t.getTime() + timers.pending.ms);
      }
    }
    expect(keeper.status().failures).toBe(schedule.maxAttempts);
    expect(timers.pending).toBeUndefined();
    expect(keeper.status().nextAttemptAt).toBeUndefined();
    expect(delays).toEqual([60_000, 120_000, 150_000]);
    services.mode = 'ok';
    const s = await keeper.refreshNow();
    expect(s.lastError).toBeUndefined();
    expect(s.failures).toBe(0);
    expect(timers.pending).toBeDefined();
  });

  it('only expired collateral on offer: kept and reported expired; a start with it is refused', async () => {
    const { keeper, clock } = await tdxKeeper(entry.verify_at);
    const { nextUpdate } = keeper.status();
    clock.t = new Date(nextUpdate.getTime() + 1000);
    const s = await keeper.refreshNow();
    expect(s.state).toBe('expired');
    expect(s.lastError?.code).toBe('COLLATERAL_EXPIRED');
    expect(await codeOfAsync(tdxKeeper(clock.t.toISOString()))).toBe('COLLATERAL_EXPIRED');
  });

  it.each([
    ['bad-json', 'COLLATERAL_MALFORMED'],
    ['oversized', 'COLLATERAL_MALFORMED'],
    ['bad-signature', 'TCB_INFO_SIGNATURE_INVALID'],
  ] as const)('a %s answer is refused with %s and the old collateral kept', async (mode, code) => {
    const { keeper, clock } = await tdxKeeper(entry.verify_at);
    const held = collateralDigest(keeper.current().intel!);
    services.mode = mode;
    clock.t = keeper.status().refreshAt;
    const s = await keeper.refreshNow();
    expect(s.lastError?.code).toBe(code);
    expect(s.failures).toBe(1);
    expect(s.tcbStatus).toBe(entry.expected.tcb_status);
    expect(collateralDigest(keeper.current().intel!)).toBe(held);
    // The same answer at start is the same refusal.
    expect(await codeOfAsync(tdxKeeper(entry.verify_at))).toBe(code);
  });

  it('a damaged cache file costs a fetch, nothing else', async () => {
    const cacheDir = tempDir('defaas-keeper-');
    writeFileSync(cacheFile(cacheDir, 'tdx'), '{"v":1,"fetchedAt":"x","bundle":"!!"');
    const before = services.hits.length;
    const { keeper } = await tdxKeeper(entry.verify_at, { cacheDir });
    expect(services.hits.length - before).toBe(4);
    expect(keeper.status().state).toBe('fresh');
  });

  it('PCCS: the same paths under another base, the Root CA CRL from the PCCS', async () => {
    const before = services.hits.length;
    const { keeper } = await tdxKeeper(entry.verify_at, { source: { pccs: `${services.base}/` } });
    expect(services.hits.slice(before)).toContain('/sgx/certification/v4/rootcacrl');
    expect(keeper.status().source).toBe(`pccs:${services.base}/`);
    expect(keeper.status().tcbStatus).toBe(entry.expected.tcb_status);
  });

  it('directory source: read again on every refresh', async () => {
    const { keeper, clock, timers } = await tdxKeeper(entry.verify_at, {
      source: { dir: vectorPath(`tdx/collateral/${OLD_SET}`) },
    });
    expect(keeper.status().source).toBe(`dir:${vectorPath(`tdx/collateral/${OLD_SET}`)}`);
    expect(keeper.status().tcbStatus).toBe(entry.expected.tcb_status);
    clock.t = keeper.status().refreshAt;
    timers.fire();
    const s = await keeper.refreshNow();
    expect(s.fetchedAt).toEqual(clock.t);
    expect(s.lastError).toBeUndefined();
  });

  it('hostile arguments are usage errors', async () => {
    const cacheDir = tempDir('defaas-keeper-');
    const base = { tee: 'tdx' as const, evidence: quote, cacheDir };
    for (const o of [
      { ...base, source: {} },
      { ...base, source: { pcs: services.base, dir: '/tmp' } },
      { ...base, source: { kds: services.base } },
      { ...base, source: { pcs: 'file:///etc/passwd' } },
      { ...base, tee: 'sev-snp' as const, source: { kds: services.base } },
      { ...base, evidence: new Uint8Array(10), source: { pcs: services.base } },
    ])
      expect(await codeOfAsync(startCollateralKeeper(o))).toBe('INVALID_ARGUMENT');
  });

  describe('SEV-SNP', () => {
    const snpEntry = () => vectorIndex().sev_snp.find((e) => SNP_REPORT_DIR.endsWith(e.id))!;

    it('from KDS: VCEK and chain; nextUpdate is the earliest certificate notAfter; timers stay in range', async () => {
      const e = snpEntry();
      const timers = new ManualTimers();
      const keeper = await startCollateralKeeper({
        tee: 'sev-snp',
        evidence: readVector(`${SNP_REPORT_DIR}/report.bin`),
        source: { kds: services.base },
        cacheDir: tempDir('defaas-keeper-'),
        now: () => new Date(e.verify_at),
        timers,
        snpCrl: false,
      });
      keepers.push(keeper);
      const s = keeper.status();
      expect(s.tcbStatus).toBe('Verified');
      expect(s.state).toBe('fresh');
      expect(s.nextUpdate.getTime()).toBe(Date.parse(e.valid_window!.to));
      expect(s.expiresFirst).toMatch(/^VCEK/);
      expect(timers.pending!.ms).toBeLessThanOrEqual(2 ** 31 - 1);
      // A timer step that ends before refreshAt only waits again.
      const hits = services.hits.length;
      timers.fire();
      expect(services.hits.length).toBe(hits);
      expect(timers.pending!.ms).toBeLessThanOrEqual(2 ** 31 - 1);
      expect(keeper.status().fetchedAt).toEqual(new Date(e.verify_at));
      const b = await keeper.hook(readVector(`${SNP_REPORT_DIR}/report.bin`));
      expect(Buffer.from(b.snp!.vcek!).equals(Buffer.from(readVector(`${SNP_REPORT_DIR}/vcek.der`)))).toBe(
        true,
      );
    });

    it('from KDS with its CRL: a KDS without one is a transient refusal', async () => {
      const e = snpEntry();
      const start = startCollateralKeeper({
        tee: 'sev-snp',
        evidence: readVector(`${SNP_REPORT_DIR}/report.bin`),
        source: { kds: services.base },
        cacheDir: tempDir('defaas-keeper-'),
        now: () => new Date(e.verify_at),
        timers: new ManualTimers(),
      });
      expect(await codeOfAsync(start)).toBe('COLLATERAL_UNAVAILABLE');
    });

    it('from a directory; a VCEK of another chip is refused', async () => {
      const e = snpEntry();
      const dir = tempDir('defaas-snp-dir-');
      copyFileSync(vectorPath(`${SNP_REPORT_DIR}/vcek.der`), join(dir, 'vcek.der'));
      copyFileSync(vectorPath(SNP_CHAIN), join(dir, 'cert_chain.pem'));
      const o = {
        tee: 'sev-snp' as const,
        evidence: readVector(`${SNP_REPORT_DIR}/report.bin`),
        source: { dir },
        cacheDir: tempDir('defaas-keeper-'),
        now: () => new Date(e.verify_at),
        timers: new ManualTimers(),
      };
      const keeper = await startCollateralKeeper(o);
      keepers.push(keeper);
      const vcek = parseCertificate(readVector(`${SNP_REPORT_DIR}/vcek.der`), 'VCEK');
      expect(keeper.status().nextUpdate.getTime()).toBe(
        Math.min(
          new Date(vcek.validTo).getTime(),
          ...expiringItems({ snp: { chain: readFileSync(vectorPath(SNP_CHAIN), 'utf8') } }).map((i) =>
            i.nextUpdate.getTime(),
          ),
        ),
      );
      copyFileSync(vectorPath('sev-snp/milan-v2-azure/vcek.der'), join(dir, 'vcek.der'));
      const s = await keeper.refreshNow();
      expect(s.lastError?.code).toBe('SNP_SIGNATURE_INVALID');
      expect(
        Buffer.from(keeper.current().snp!.vcek!).equals(
          Buffer.from(readVector(`${SNP_REPORT_DIR}/vcek.der`)),
        ),
      ).toBe(true);
      expect(s.tcbStatus).toBe('Verified');
      keeper.stop();
      expect(await codeOfAsync(startCollateralKeeper({ ...o, cacheDir: tempDir('defaas-keeper-') }))).toBe(
        'SNP_SIGNATURE_INVALID',
      );
    });
  });
});
