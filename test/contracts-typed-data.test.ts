/*
 * The EIP-712 Voucher/Receipt digests and the two call-record hash chains of protocol/typed-data.ts
 * (fixed) must equal what Settlement computes, and the EnclaveRegistration digest of
 * protocol/registration.ts what Registry computes (the enclave's proof of possession), and the
 * ProbeGrant digest of protocol/probe-grant.ts what Settlement computes. This file also
 * generates the shared vectors contracts/test/typed-data.vectors.json that the forge test
 * contracts/test/TypedData.t.sol checks:
 *   UPDATE_VECTORS=1 npx vitest run test/contracts-typed-data.test.ts
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  computeAddress,
  getAddress,
  getBytes,
  JsonRpcProvider,
  keccak256,
  SigningKey,
  toUtf8Bytes,
  Wallet,
} from 'ethers';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Anvil, startAnvil } from '../contracts/anvil.js';
import {
  defaasErrors,
  deployRegistry,
  deploySettlement,
  type RegistryContract,
  RegistryTeeType,
  type SettlementContract,
} from '../contracts/bindings/index.js';
import { registrationProof } from '../enclave-host/session/identity.js';
import { type ProbeGrant, probeGrantDigest } from '../protocol/probe-grant.js';
import { type EnclaveRegistration, registrationDigest } from '../protocol/registration.js';
import {
  type CallRecord,
  chainHeads,
  type Receipt,
  receiptDigest,
  type Voucher,
  voucherDigest,
} from '../protocol/typed-data.js';
import { generateX25519 } from '../protocol/x25519.js';

const VECTORS_PATH = join(import.meta.dirname, '..', 'contracts', 'test', 'typed-data.vectors.json');
const ANVIL_DEV_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
const CUSTOMER_KEY = keccak256(toUtf8Bytes('defaas test customer'));
const ENCLAVE_KEY = keccak256(toUtf8Bytes('defaas test enclave'));
const U64_MAX = (1n << 64n) - 1n;
const ZERO_ADDRESS = '0x0000000000000000000000000000000000000000';
const U256_MAX = (1n << 256n) - 1n;
const U32_MAX = (1n << 32n) - 1n;

const DOMAINS = [
  { chainId: 31337n, verifyingContract: getAddress('0x5fbdb2315678afecb367f032d93f642f64180aa3') },
  { chainId: 1n, verifyingContract: getAddress('0x00000000000000000000000000000000000d3fa5') },
  { chainId: 8453n, verifyingContract: getAddress('0xffffffffffffffffffffffffffffffffffffffff') },
] as const;

const h = (label: string, i: number) => keccak256(toUtf8Bytes(`${label}/${i}`));
const n = (label: string, i: number, bits: bigint) => BigInt(h(label, i)) & ((1n << bits) - 1n);
const str = (x: bigint) => x.toString();

/** Endpoints of the registration vectors: the usual forms, empty, non-ASCII, and longer than a word. */
const ENDPOINTS = [
  '127.0.0.1:7000',
  'grpc://executor-7.example.net:443',
  '',
  'dns:///exécuteur.例え.jp:7000',
  `[2001:db8::1]:7000/${'p'.repeat(120)}`,
  '"quoted" \\ back\\slash\nnew line',
];

/** Deterministic vectors from the canonical TypeScript definitions (edge values in the last entries). */
function buildVectors() {
  const customer = new SigningKey(CUSTOMER_KEY);
  const enclave = new SigningKey(ENCLAVE_KEY);
  const vouchers = [];
  const receipts = [];
  for (let i = 0; i < 9; i++) {
    const domain = DOMAINS[i % DOMAINS.length]!;
    const edge = i === 8;
    const first = edge ? U64_MAX : n('first', i, 40n);
    const v: Voucher = {
      leaseId: edge ? U256_MAX : n('lease', i, i % 2 ? 256n : 32n),
      firstNonce: first,
      lastNonce: edge ? U64_MAX : first + n('len', i, 6n),
      requestHead: h('requestHead', i),
      cumulativeAmount: edge ? U256_MAX : n('amount', i, 96n),
      deadline: edge ? U64_MAX : n('deadline', i, 34n),
    };
    const vd = voucherDigest(domain, v);
    vouchers.push({
      chainId: str(domain.chainId),
      verifyingContract: domain.verifyingContract,
      leaseId: str(v.leaseId),
      firstNonce: str(v.firstNonce),
      lastNonce: str(v.lastNonce),
      requestHead: v.requestHead,
      cumulativeAmount: str(v.cumulativeAmount),
      deadline: str(v.deadline),
      digest: vd,
      signature: customer.sign(vd).serialized,
    });
    const r: Receipt = {
      leaseId: v.leaseId,
      firstNonce: v.firstNonce,
      lastNonce: v.lastNonce,
      recordHead: h('recordHead', i),
      evidenceHash: h('evidence', i),
      startedAt: edge ? U64_MAX : n('started', i, 40n),
      finishedAt: edge ? U64_MAX : n('finished', i, 40n),
    };
    const rd = receiptDigest(domain, r);
    receipts.push({
      chainId: str(domain.chainId),
      verifyingContract: domain.verifyingContract,
      leaseId: str(r.leaseId),
      firstNonce: str(r.firstNonce),
      lastNonce: str(r.lastNonce),
      recordHead: r.recordHead,
      evidenceHash: r.evidenceHash,
      startedAt: str(r.startedAt),
      finishedAt: str(r.finishedAt),
      digest: rd,
      signature: enclave.sign(rd).serialized,
    });
  }
  const batches = [1, 2, 3, 64].map((size, b) => {
    const edge = b === 2;
    const first = edge ? U64_MAX - 2n : n('batchFirst', b, 32n);
    const records: CallRecord[] = Array.from({ length: size }, (_, k) => ({
      nonce: first + BigInt(k),
      functionHash: h(`fn${b}`, k),
      inputHash: h(`in${b}`, k),
      outputHash: h(`out${b}`, k),
      usage: edge ? U64_MAX : n(`usage${b}`, k, 40n),
      price: edge ? U256_MAX : n(`price${b}`, k, 80n),
    }));
    const heads = chainHeads(records, first, first + BigInt(size) - 1n);
    return {
      firstNonce: str(first),
      lastNonce: str(first + BigInt(size) - 1n),
      records: records.map((r) => ({ ...r, nonce: str(r.nonce), usage: str(r.usage), price: str(r.price) })),
      requestHead: heads.requestHead,
      recordHead: heads.recordHead,
    };
  });
  const registrations = ENDPOINTS.map((endpoint, i) => {
    const domain = DOMAINS[i % DOMAINS.length]!;
    const edge = i === 2;
    const reg: EnclaveRegistration = {
      provider: edge ? ZERO_ADDRESS : getAddress(`0x${h('provider', i).slice(26)}`),
      evidenceHash: edge ? `0x${'00'.repeat(32)}` : h('registrationEvidence', i),
      endpoint,
    };
    const digest = registrationDigest(domain, reg);
    return {
      chainId: str(domain.chainId),
      verifyingContract: domain.verifyingContract,
      ...reg,
      digest,
      signature: enclave.sign(digest).serialized,
    };
  });
  const probeGrants = Array.from({ length: 5 }, (_, i) => {
    const domain = DOMAINS[i % DOMAINS.length]!;
    const edge = i === 3;
    const g: ProbeGrant = {
      leaseId: edge ? U256_MAX : n('lease', i, i % 2 ? 256n : 32n),
      witness: i === 4 ? ZERO_ADDRESS : getAddress(`0x${h('witness', i).slice(26)}`),
      epoch: edge ? U32_MAX : n('epoch', i, 16n),
      maxCalls: edge ? U32_MAX : n('maxCalls', i, 12n),
      maxAmount: edge ? U256_MAX : n('amount', i, 96n),
      expiry: edge ? U64_MAX : n('deadline', i, 34n),
    };
    const digest = probeGrantDigest(domain, g);
    return {
      chainId: str(domain.chainId),
      verifyingContract: domain.verifyingContract,
      leaseId: str(g.leaseId),
      witness: g.witness,
      epoch: str(g.epoch),
      maxCalls: str(g.maxCalls),
      maxAmount: str(g.maxAmount),
      expiry: str(g.expiry),
      digest,
      signature: customer.sign(digest).serialized,
    };
  });
  return {
    note: 'Generated by test/contracts-typed-data.test.ts (UPDATE_VECTORS=1) from protocol/typed-data.ts and protocol/registration.ts. Do not edit.',
    customer: computeAddress(customer.publicKey),
    enclave: computeAddress(enclave.publicKey),
    voucherCount: vouchers.length,
    receiptCount: receipts.length,
    batchCount: batches.length,
    registrationCount: registrations.length,
    vouchers,
    receipts,
    batches,
    registrations,
    probeGrantCount: probeGrants.length,
    probeGrants,
  };
}

type Vectors = ReturnType<typeof buildVectors>;

let anvil: Anvil;
let provider: JsonRpcProvider;
let settlement: SettlementContract;
let settlementCode: string;
let registry: RegistryContract;
let registryCode: string;

beforeAll(async () => {
  anvil = await startAnvil();
  provider = new JsonRpcProvider(anvil.url, undefined, {
    staticNetwork: true,
    cacheTimeout: -1,
    pollingInterval: 50,
  });
  const deployer = new Wallet(ANVIL_DEV_KEY, provider);
  const placeholder = '0x000000000000000000000000000000000000dEaD';
  settlement = await deploySettlement(deployer, placeholder, placeholder, 1n, 1n, 0n, 0n);
  settlementCode = await provider.getCode(settlement);
  // registering with zero stake moves no token, so a placeholder token will do
  registry = await deployRegistry(deployer, placeholder, 1n, 1n, 1n);
  registryCode = await provider.getCode(registry);
});

afterAll(async () => {
  provider?.destroy();
  await anvil?.stop();
});

/** Runs `check` with a copy of `contract` (runtime `code`) at `address` on chain `chainId`. */
async function atDomain<C extends SettlementContract | RegistryContract, T>(
  contract: C,
  code: string,
  chainId: string,
  address: string,
  check: (s: C) => Promise<T>,
): Promise<T> {
  await provider.send('anvil_setChainId', [Number(chainId)]);
  await provider.send('anvil_setCode', [address, code]);
  try {
    return await check(contract.attach(address) as C);
  } finally {
    await provider.send('anvil_setChainId', [31337]);
  }
}

describe('contracts: typed data shared with protocol/typed-data.ts', () => {
  it('the committed vectors are generated from typed-data.ts', () => {
    const text = `${JSON.stringify(buildVectors(), null, 2)}\n`;
    if (process.env.UPDATE_VECTORS === '1') writeFileSync(VECTORS_PATH, text);
    expect(existsSync(VECTORS_PATH)).toBe(true);
    expect(readFileSync(VECTORS_PATH, 'utf8')).toBe(text);
  });

  it('Settlement reproduces every vector digest and chain head', async () => {
    const v = JSON.parse(readFileSync(VECTORS_PATH, 'utf8')) as Vectors;
    for (const x of v.vouchers) {
      const digest = await atDomain(settlement, settlementCode, x.chainId, x.verifyingContract, (s) =>
        s.voucherDigest(x),
      );
      expect(digest).toBe(x.digest);
    }
    for (const x of v.receipts) {
      const digest = await atDomain(settlement, settlementCode, x.chainId, x.verifyingContract, (s) =>
        s.receiptDigest(x),
      );
      expect(digest).toBe(x.digest);
    }
    for (const b of v.batches) {
      const [requestHead, recordHead] = await settlement.chainHeads(b.records);
      expect({ requestHead, recordHead }).toEqual({ requestHead: b.requestHead, recordHead: b.recordHead });
    }
  });

  it('agrees with typed-data.ts on random vouchers, receipts and batches (property)', async () => {
    const domain = { chainId: 31337n, verifyingContract: await settlement.getAddress() };
    const u = (bits: number) => fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n });
    const b32 = fc
      .uint8Array({ minLength: 32, maxLength: 32 })
      .map((a) => `0x${Buffer.from(a).toString('hex')}`);
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          leaseId: u(256),
          firstNonce: u(64),
          lastNonce: u(64),
          requestHead: b32,
          cumulativeAmount: u(256),
          deadline: u(64),
        }),
        fc.record({ recordHead: b32, evidenceHash: b32, startedAt: u(64), finishedAt: u(64) }),
        async (v, r) => {
          expect(await settlement.voucherDigest(v)).toBe(voucherDigest(domain, v));
          const receipt = { leaseId: v.leaseId, firstNonce: v.firstNonce, lastNonce: v.lastNonce, ...r };
          expect(await settlement.receiptDigest(receipt)).toBe(receiptDigest(domain, receipt));
        },
      ),
      { numRuns: 25 },
    );
    await fc.assert(
      fc.asyncProperty(
        u(63),
        fc.array(
          fc.record({ functionHash: b32, inputHash: b32, outputHash: b32, usage: u(64), price: u(256) }),
          {
            minLength: 1,
            maxLength: 8,
          },
        ),
        async (first, rs) => {
          const records = rs.map((r, k) => ({ ...r, nonce: first + BigInt(k) }));
          const [requestHead, recordHead] = await settlement.chainHeads(records);
          expect({ requestHead, recordHead }).toEqual(
            chainHeads(records, first, first + BigInt(records.length) - 1n),
          );
        },
      ),
      { numRuns: 15 },
    );
  });

  it('Settlement reproduces every ProbeGrant vector digest', async () => {
    const v = JSON.parse(readFileSync(VECTORS_PATH, 'utf8')) as Vectors;
    expect(v.probeGrants.length).toBeGreaterThan(0);
    for (const x of v.probeGrants) {
      const digest = await atDomain(settlement, settlementCode, x.chainId, x.verifyingContract, (s) =>
        s.probeGrantDigest(x),
      );
      expect(digest).toBe(x.digest);
    }
  });

  it('agrees with probe-grant.ts on random grants (property)', async () => {
    const domain = { chainId: 31337n, verifyingContract: await settlement.getAddress() };
    const u = (bits: number) => fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n });
    const address = fc
      .uint8Array({ minLength: 20, maxLength: 20 })
      .map((a) => getAddress(`0x${Buffer.from(a).toString('hex')}`));
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          leaseId: u(256),
          witness: address,
          epoch: u(32),
          maxCalls: u(32),
          maxAmount: u(256),
          expiry: u(64),
        }),
        async (g) => {
          expect(await settlement.probeGrantDigest(g)).toBe(probeGrantDigest(domain, g));
        },
      ),
      { numRuns: 25 },
    );
  });

  it('Registry reproduces every EnclaveRegistration vector digest', async () => {
    const v = JSON.parse(readFileSync(VECTORS_PATH, 'utf8')) as Vectors;
    expect(v.registrations.map((r) => r.endpoint)).toEqual(ENDPOINTS);
    for (const x of v.registrations) {
      const digest = await atDomain(registry, registryCode, x.chainId, x.verifyingContract, (r) =>
        r.registrationDigest(x.provider, x.evidenceHash, x.endpoint),
      );
      expect(digest).toBe(x.digest);
    }
  });

  it('agrees with registration.ts on random registrations (property)', async () => {
    const domain = { chainId: 31337n, verifyingContract: await registry.getAddress() };
    const b32 = fc
      .uint8Array({ minLength: 32, maxLength: 32 })
      .map((a) => `0x${Buffer.from(a).toString('hex')}`);
    const address = fc
      .uint8Array({ minLength: 20, maxLength: 20 })
      .map((a) => getAddress(`0x${Buffer.from(a).toString('hex')}`));
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          provider: address,
          evidenceHash: b32,
          endpoint: fc.string({ unit: 'grapheme', maxLength: 80 }),
        }),
        async (reg) => {
          expect(await registry.registrationDigest(reg.provider, reg.evidenceHash, reg.endpoint)).toBe(
            registrationDigest(domain, reg),
          );
        },
      ),
      { numRuns: 25 },
    );
  });

  it('registerExecutor accepts the enclave-host proof for exactly its provider, evidence and endpoint', async () => {
    const deployer = new Wallet(ANVIL_DEV_KEY, provider);
    const enclaveKey = new SigningKey(ENCLAVE_KEY);
    const identity = {
      identityPrivateKey: getBytes(enclaveKey.privateKey),
      identityAddress: computeAddress(enclaveKey.publicKey).toLowerCase(),
      staticKey: generateX25519(),
    };
    const domain = { chainId: 31337n, verifyingContract: await registry.getAddress() };
    const reg: EnclaveRegistration = {
      provider: deployer.address,
      evidenceHash: h('evidence', 0),
      endpoint: 'grpc://127.0.0.1:7000',
    };
    const spec = {
      enclave: computeAddress(enclaveKey.publicKey),
      cpuCores: 2,
      memoryMiB: 1024,
      gpuMemoryMiB: 0,
      gflops: 50,
      teeType: RegistryTeeType.Simulated,
      evidenceHash: reg.evidenceHash,
      endpoint: reg.endpoint,
    };
    const r = registry.connect(deployer);
    const refused = async (proof: Uint8Array, s = spec) => {
      try {
        await (await r.registerExecutor(s, 0n, proof)).wait();
      } catch (e) {
        return defaasErrors.parseError((e as { data: string }).data)?.name;
      }
      return 'accepted';
    };
    // signed for another provider, endpoint or evidence: not a proof for this registration
    expect(await refused(registrationProof(identity, domain, { ...reg, provider: ZERO_ADDRESS }))).toBe(
      'RegistryBadEnclaveSignature',
    );
    expect(
      await refused(registrationProof(identity, domain, reg), { ...spec, endpoint: 'grpc://other:1' }),
    ).toBe('RegistryBadEnclaveSignature');
    expect(
      await refused(registrationProof(identity, domain, reg), { ...spec, evidenceHash: h('evidence', 1) }),
    ).toBe('RegistryBadEnclaveSignature');
    expect(await refused(registrationProof(identity, { ...domain, chainId: 1n }, reg))).toBe(
      'RegistryBadEnclaveSignature',
    );
    await (await r.registerExecutor(spec, 0n, registrationProof(identity, domain, reg))).wait();
    expect(await registry.executorOfEnclave(spec.enclave)).toBe(1n);
    expect((await registry.executor(1n)).endpoint).toBe(reg.endpoint);
  });
});
