import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildExample } from '../examples/build-example.js';
import { sha256Hex } from '../protocol/settlement.js';
import { connect, invokeMany, LocalReceiptStore, verifyReceipt } from '../sdk/index.js';
import { type Harness, startExecutor } from './e2e-harness.js';

/**
 * End to end (issue 3): deploy + 1,000 invocations in each receipt mode over real gRPC on
 * 127.0.0.1, the real verifier on simulated evidence, real WASM; every call covered by a verified
 * receipt, and the receipts re-verify from the local store alone.
 */

const N = 1_000;

describe('end to end', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startExecutor({ pricePerCall: 3n });
  });
  afterAll(async () => {
    await h.stop();
  });

  const cases = [
    ['per-call', 'unary'],
    ['batched', 'unary'],
    ['batched', 'stream'],
  ] as const;
  for (const [mode, transport] of cases) {
    it(`deploys and runs ${N} calls in ${mode} mode over ${transport} RPCs, each covered by a verified receipt`, async () => {
      const file = join(tmpdir(), `defaas-receipts-${process.pid}-${mode}-${transport}.jsonl`);
      const store = new LocalReceiptStore({ file });
      const wallet = Wallet.createRandom();
      const sessions = await Promise.all([
        connect(h.endpoint, { policy: h.policy, receipts: mode, store, transport }),
        connect(h.endpoint, { policy: h.policy, receipts: mode, store, transport }),
      ]);
      const wasm = await buildExample('sha256');
      const fns = await Promise.all(sessions.map((s) => s.deploy(wasm)));
      const inputs = Array.from({ length: N }, (_, i) => new TextEncoder().encode(`call ${i} ${mode}`));
      const t0 = performance.now();
      const results = await invokeMany(sessions, fns, inputs, { wallet, concurrency: 32 });
      const ms = performance.now() - t0;
      console.log(
        `${mode}/${transport}: ${N} calls in ${ms.toFixed(0)} ms (${((N / ms) * 1000).toFixed(0)} calls/s, 2 sessions, concurrency 32)`,
      );
      results.forEach((r, i) => {
        if (!r.ok) throw r.error;
        expect(new TextDecoder().decode(r.output)).toBe(sha256Hex(inputs[i]!).slice(2));
        // The receipt covers this call's exact record.
        expect(r.receipt.records).toContainEqual(r.record);
        expect(r.receipt.signer).toBe(h.executor.identity.identityAddress);
      });
      await Promise.all(sessions.map((s) => s.close()));
      // Every call appears in exactly one stored receipt; each receipt re-verifies from the store.
      const seen = new Map<bigint, number>();
      for (const e of store.entries) {
        const r = e.receipt;
        verifyReceipt({ receipt: r.receipt, signature: r.signature }, r.records, {
          domain: r.domain,
          leaseId: h.executor.leaseId,
          identityAddress: h.executor.identity.identityAddress,
          evidenceHash: sessions[0]!.accepted.verified.evidenceHash,
        });
        expect(e.voucher.voucher.firstNonce).toBe(r.receipt.firstNonce);
        expect(e.voucher.voucher.lastNonce).toBe(r.receipt.lastNonce);
        for (const c of r.records) seen.set(c.nonce, (seen.get(c.nonce) ?? 0) + 1);
      }
      expect(seen.size).toBe(N);
      expect([...seen.values()].every((k) => k === 1)).toBe(true);
      for (const r of results) if (r.ok) expect(seen.get(r.record.nonce)).toBe(1);
      // The JSON-lines file holds the same settlements, for disputes after this process is gone.
      await store.close();
      const lines = (await readFile(file, 'utf8')).trim().split('\n');
      await rm(file, { force: true });
      expect(lines).toHaveLength(store.entries.length);
      const first = JSON.parse(lines[0]!) as {
        receipt: { firstNonce: string };
        records: unknown[];
        voucherSignature: string;
      };
      expect(first.records.length).toBeGreaterThan(0);
      expect(first.voucherSignature).toMatch(/^0x[0-9a-f]{130}$/);
      if (mode === 'batched') expect(store.entries.length).toBeLessThan(N / 4);
      else expect(store.entries.length).toBe(N);
    });
  }
});
