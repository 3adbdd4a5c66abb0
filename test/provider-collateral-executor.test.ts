import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEvidenceBundle } from '../attestation/bundle.js';
import { collateralDigest, loadIntelCollateral } from '../attestation/intel/collateral.js';
import { type CollateralKeeper, startCollateralKeeper } from '../cli/provider/collateral.js';
import { ConfigfsTsmQuoteProvider } from '../enclave-host/quote/configfs-tsm.js';
import { FakeConfigfsTsm } from '../enclave-host/quote/fake-configfs-tsm.js';
import { type Harness, rawClient, startExecutor } from './e2e-harness.js';
import { codeOfAsync } from './error-code.js';
import { type CollateralServices, startCollateralServices } from './provider-collateral-services.js';
import { readVector, VECTORS, vectorIndex, vectorPath } from './vectors.js';

/*
 * A running executor (gRPC on 127.0.0.1, a fake configfs-tsm serving a recorded TDX quote) presents
 * the keeper's collateral, and after a refresh the newer collateral without a restart: GetEvidence
 * answers with the bundle rebuilt by Executor.refreshEvidence(). When rebuilding fails (the quoting
 * service is down) the previous bundle stays presented.
 */

const QUOTE_ID = 'v5-alibaba-90c06f-servicetd';
const OLD_SET = 'composed-tdx-90c06f-2025-06';
const NEW_SET = 'phala-tdx-90c06f-2026-02';

describe.skipIf(!VECTORS)('executor presents refreshed collateral without a restart', () => {
  let services: CollateralServices;
  let fake: FakeConfigfsTsm;
  let harness: Harness;
  let keeper: CollateralKeeper;
  let quotingDown = false;
  const clock = { t: new Date(0) };
  const cacheDir = mkdtempSync(join(tmpdir(), 'defaas-keeper-exec-'));

  beforeAll(async () => {
    const entry = vectorIndex().tdx.find((e) => e.id === QUOTE_ID)!;
    const quote = readVector(entry.quote as string);
    clock.t = new Date(entry.verify_at);
    services = await startCollateralServices(OLD_SET);
    keeper = await startCollateralKeeper({
      tee: 'tdx',
      evidence: quote,
      source: { pcs: services.base, rootCrl: `${services.base}/IntelSGXRootCA.der` },
      cacheDir,
      now: () => clock.t,
      timers: { set: () => 0, clear: () => {} },
      onRefresh: () => harness.executor.refreshEvidence(),
    });
    fake = await FakeConfigfsTsm.create({
      provider: 'tdx_guest',
      makeOutblob: () => quote,
      beforeOutblob: () => {
        if (quotingDown) throw Object.assign(new Error('EIO: outblob'), { code: 'EIO' });
      },
    });
    harness = await startExecutor({
      quotes: new ConfigfsTsmQuoteProvider({ tee: 'tdx', root: fake.root, fs: fake.fs }),
      collateral: keeper.hook,
    });
  });

  afterAll(async () => {
    keeper?.stop();
    await harness?.stop();
    if (fake) await rm(fake.root, { recursive: true, force: true });
    await services?.close();
    await rm(cacheDir, { recursive: true, force: true });
  });

  const presented = async (): Promise<string> => {
    const client = rawClient(harness.endpoint);
    try {
      const bundle = await new Promise<Uint8Array>((res, rej) =>
        client.GetEvidence({}, (e, r) => (e || !r ? rej(e) : res(r.evidenceBundle))),
      );
      return collateralDigest(decodeEvidenceBundle(bundle).intel!);
    } finally {
      client.close();
    }
  };
  const digestOf = async (set: string) =>
    collateralDigest(await loadIntelCollateral(vectorPath(`tdx/collateral/${set}`)));

  it('the refreshed collateral is presented; a failed rebuild keeps the presented bundle', async () => {
    expect(await presented()).toBe(await digestOf(OLD_SET));
    services.intelSet = NEW_SET;
    clock.t = new Date(vectorIndex().tdx.find((e) => e.collateral_set === NEW_SET)!.verify_at);
    const s = await keeper.refreshNow();
    expect(s.lastError).toBeUndefined();
    expect(await presented()).toBe(await digestOf(NEW_SET));

    quotingDown = true;
    expect(await codeOfAsync(harness.executor.refreshEvidence())).toBe('QUOTE_PROVIDER_FAILED');
    expect(await presented()).toBe(await digestOf(NEW_SET));
    quotingDown = false;
  });
});
