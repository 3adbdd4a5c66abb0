import { recoverReceiptSigner } from '../../protocol/settlement.js';
import type { Receipt, TypedDataDomain } from '../../protocol/typed-data.js';
import type { Finding } from './audit.js';
import type { LogEntry } from './entry.js';
import { logFail } from './errors.js';

/*
 * The auditor's check of a customer's receipts against the log (docs/log.md, "Auditing"): a receipt
 * names the evidence the session verified and is signed by the attested enclave, so every receipt
 * must (1) recover to the signer it names under its EIP-712 domain, (2) name evidence the log holds,
 * and (3) be signed by an enclave the log records for that evidence, when the log records one.
 * Receipts come from the SDK's receipt store (LocalReceiptStore's file: one settlementJson object per
 * line; its `{"placement": …}` lines are skipped).
 */

export interface StoredReceipt {
  readonly line: number;
  readonly domain: TypedDataDomain;
  readonly receipt: Receipt;
  readonly signature: Uint8Array;
  readonly signer: string;
}

const HEX = (n: number) => new RegExp(`^0x[0-9a-fA-F]{${n * 2}}$`);
const DEC = /^(?:0|[1-9][0-9]{0,77})$/;

/** Parses a receipt store file; a line that is not a stored settlement is LOG_RECEIPTS_MALFORMED. */
export function parseReceiptStore(text: string): StoredReceipt[] {
  const out: StoredReceipt[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = i + 1;
    if (raw.trim() === '') continue;
    const bad: (why: string) => never = (why) =>
      logFail('LOG_RECEIPTS_MALFORMED', `receipt store line ${line}: ${why}`, { line });
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      bad('not JSON');
    }
    // A lease pool's placement of a call (sdk/store.ts `place`) holds no receipt.
    if (typeof o === 'object' && o !== null && 'placement' in o && !('receipt' in o)) continue;
    const d = o.domain as Record<string, unknown> | undefined;
    const r = o.receipt as Record<string, unknown> | undefined;
    if (typeof d !== 'object' || d === null || typeof r !== 'object' || r === null)
      bad('no domain or receipt');
    const dec = (v: unknown, what: string) =>
      typeof v === 'string' && DEC.test(v) ? BigInt(v) : bad(`${what} is not a decimal`);
    const hex = (v: unknown, n: number, what: string) =>
      typeof v === 'string' && HEX(n).test(v) ? v.toLowerCase() : bad(`${what} is not ${n} bytes of hex`);
    const signature = hex(o.receiptSignature, 65, 'receiptSignature');
    out.push({
      line,
      domain: {
        chainId: dec(d.chainId, 'domain.chainId'),
        verifyingContract: hex(d.verifyingContract, 20, 'domain.verifyingContract'),
      },
      receipt: {
        leaseId: dec(r.leaseId, 'leaseId'),
        firstNonce: dec(r.firstNonce, 'firstNonce'),
        lastNonce: dec(r.lastNonce, 'lastNonce'),
        recordHead: hex(r.recordHead, 32, 'recordHead'),
        evidenceHash: hex(r.evidenceHash, 32, 'evidenceHash'),
        startedAt: dec(r.startedAt, 'startedAt'),
        finishedAt: dec(r.finishedAt, 'finishedAt'),
      },
      signature: new Uint8Array(Buffer.from(signature.slice(2), 'hex')),
      signer: hex(o.receiptSigner, 20, 'receiptSigner'),
    });
  }
  return out;
}

export interface ReceiptAudit {
  readonly total: number;
  readonly logged: number;
  readonly findings: Finding[];
}

export function auditReceipts(
  receipts: readonly StoredReceipt[],
  entries: readonly (LogEntry | undefined)[],
): ReceiptAudit {
  const enclavesOf = new Map<string, Set<string>>();
  for (const e of entries) {
    if (e === undefined || e.kind === 'verdict-revealed') continue;
    const set = enclavesOf.get(e.evidence.sha256) ?? new Set<string>();
    if (e.enclave !== null) set.add(e.enclave);
    enclavesOf.set(e.evidence.sha256, set);
  }
  const findings: Finding[] = [];
  let logged = 0;
  for (const r of receipts) {
    const path = `receipt/${r.receipt.leaseId}/${r.receipt.firstNonce}-${r.receipt.lastNonce}`;
    const signer = recoverReceiptSigner(r.domain, { receipt: r.receipt, signature: r.signature });
    if (signer !== r.signer) {
      findings.push({
        code: 'LOG_RECEIPT_INVALID',
        message: `line ${r.line}: the receipt does not recover to ${r.signer}`,
        path,
      });
      continue;
    }
    const sha = r.receipt.evidenceHash.slice(2);
    const enclaves = enclavesOf.get(sha);
    if (enclaves === undefined) {
      findings.push({
        code: 'LOG_NOT_LOGGED',
        message: `line ${r.line}: the receipt names evidence ${r.receipt.evidenceHash} that the log does not hold`,
        path,
      });
      continue;
    }
    if (enclaves.size > 0 && !enclaves.has(signer)) {
      findings.push({
        code: 'LOG_NOT_LOGGED',
        message: `line ${r.line}: the receipt is signed by ${signer}, not by the enclave the log records for its evidence (${[...enclaves].join(', ')})`,
        path,
      });
      continue;
    }
    logged++;
  }
  return { total: receipts.length, logged, findings };
}
