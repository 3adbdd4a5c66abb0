import { createHash } from 'node:crypto';
import { bindReportData } from '../../attestation/binding.js';
import { encodeEvidenceBundle } from '../../attestation/bundle.js';
import type { EnclaveIdentity } from './identity.js';

/**
 * The slice of enclave-host/quote's QuoteProvider the session needs: evidence whose REPORTDATA is
 * the 64 bytes given. `tee` names the evidence type for the ServerHello.
 */
export interface QuoteSource {
  readonly tee: string;
  getEvidence(reportData: Uint8Array): Promise<{ evidence: Uint8Array; auxblob?: Uint8Array }>;
}

export interface PresentedEvidence {
  /** Encoded attestation EvidenceBundle. */
  readonly bundle: Uint8Array;
  /** SHA-256 of the raw evidence (VerifiedEvidence.evidenceHash): what receipts carry. */
  readonly evidenceHash: Uint8Array;
}

/**
 * Evidence binding the enclave keys: the standing quote (normal mode, obtained once at start) and
 * per-session quotes whose REPORTDATA also commits to the handshake (fresh mode).
 */
export class EvidenceSource {
  private standing: Promise<PresentedEvidence> | undefined;
  readonly tee: string;

  constructor(
    private readonly quotes: QuoteSource,
    private readonly identity: EnclaveIdentity,
    /** Adds collateral to raw evidence (e.g. cached Intel collateral); default: none. */
    private readonly collateral: (evidence: Uint8Array) => Promise<Uint8Array> = async (e) =>
      encodeEvidenceBundle({ evidence: e }),
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

  freshEvidence(bindingHash: Uint8Array): Promise<PresentedEvidence> {
    return this.produce(bindingHash);
  }

  private async produce(transcriptHash: Uint8Array | undefined): Promise<PresentedEvidence> {
    const reportData = bindReportData({
      identityAddress: this.identity.identityAddress,
      x25519PublicKey: this.identity.staticKey.publicKey,
      ...(transcriptHash && { transcriptHash }),
    });
    const { evidence } = await this.quotes.getEvidence(reportData);
    return {
      bundle: await this.collateral(evidence),
      evidenceHash: new Uint8Array(createHash('sha256').update(evidence).digest()),
    };
  }
}
