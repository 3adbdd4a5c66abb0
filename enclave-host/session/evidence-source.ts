import { createHash } from 'node:crypto';
import { bindReportData } from '../../attestation/binding.js';
import { type EvidenceBundle, encodeEvidenceBundle } from '../../attestation/bundle.js';
import { detectEvidenceFormat } from '../../attestation/detect.js';
import { snpCollateralFromCertTable } from '../../attestation/sev-snp/cert-table.js';
import type { EnclaveIdentity } from './identity.js';

/**
 * The slice of enclave-host/quote's QuoteProvider the session needs: evidence whose REPORTDATA is
 * the 64 bytes given. `tee` names the evidence type for the ServerHello.
 */
export interface QuoteSource {
  readonly tee: string;
  getEvidence(reportData: Uint8Array): Promise<{ evidence: Uint8Array; auxblob?: Uint8Array }>;
}

/** Evidence (and the provider's auxblob, if any) → the bundle presented in the ServerHello. */
export type CollateralHook = (evidence: Uint8Array, auxblob?: Uint8Array) => Promise<EvidenceBundle>;

/**
 * What the TEE itself hands out: for SEV-SNP, the host's certificate table (the configfs-tsm auxblob)
 * as VCEK/VLEK and AMD chain, so that clients can verify without asking AMD KDS. The certificates are
 * checked by the client against its pinned ARK like any collateral; a malformed table is an error
 * here, at start, where the provider sees it. Intel quotes carry no collateral of their own.
 */
export async function hostCollateral(evidence: Uint8Array, auxblob?: Uint8Array): Promise<EvidenceBundle> {
  if (!auxblob || auxblob.length === 0 || detectEvidenceFormat(evidence) !== 'sev-snp-report')
    return { evidence };
  return { evidence, snp: snpCollateralFromCertTable(auxblob) };
}

export interface PresentedEvidence {
  /** Encoded attestation EvidenceBundle. */
  readonly bundle: Uint8Array;
  /** SHA-256 of the raw evidence (VerifiedEvidence.evidenceHash): what receipts carry. */
  readonly evidenceHash: Uint8Array;
}

/**
 * Evidence binding the enclave keys: the standing quote (normal mode, obtained at start and again on
 * `refreshStanding`) and per-session quotes whose REPORTDATA also commits to the handshake (fresh mode).
 */
export class EvidenceSource {
  private standing: Promise<PresentedEvidence> | undefined;
  readonly tee: string;

  constructor(
    private readonly quotes: QuoteSource,
    private readonly identity: EnclaveIdentity,
    /** Adds collateral to raw evidence (e.g. cached Intel collateral); default: `hostCollateral`. */
    private readonly collateral: CollateralHook = hostCollateral,
  ) {
    this.tee = quotes.tee;
  }

  standingEvidence(): Promise<PresentedEvidence> {
    this.standing ??= this.produce(undefined);
    this.standing.catch(() => {
      this.standing = undefined;
    });
    return this.standing;
  }

  /**
   * Builds the standing bundle again (new evidence, the collateral hook's current collateral) and
   * presents it from then on; handshakes under way keep the bundle they started with. When building
   * fails the previous bundle stays and the error is thrown.
   */
  async refreshStanding(): Promise<PresentedEvidence> {
    const next = await this.produce(undefined);
    this.standing = Promise.resolve(next);
    return next;
  }

  freshEvidence(bindingHash: Uint8Array): Promise<PresentedEvidence> {
    return this.produce(bindingHash);
  }

  private async produce(transcriptHash: Uint8Array | undefined): Promise<PresentedEvidence> {
    const reportData = bindReportData({
      identityAddress: this.identity.identityAddress,
      x25519PublicKey: this.identity.staticKey.publicKey,
      ...(transcriptHash && { transcriptHash }),
    });
    const { evidence, auxblob } = await this.quotes.getEvidence(reportData);
    return {
      bundle: encodeEvidenceBundle(await this.collateral(evidence, auxblob)),
      evidenceHash: new Uint8Array(createHash('sha256').update(evidence).digest()),
    };
  }
}
