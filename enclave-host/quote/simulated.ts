import {
  produceSimulatedEvidence,
  type SimulatedMeasurementName,
  type SimulatedRoot,
} from '../../attestation/simulated.js';
import { fail } from '../errors.js';
import { type QuoteEvidence, type QuoteProvider, REPORT_DATA_BYTES } from './quote-provider.js';

export interface SimulatedQuoteProviderOptions {
  readonly measurements?: Partial<Record<SimulatedMeasurementName, Uint8Array>>;
  /** Marks the evidence as debug; the default policy rejects it (useful for negative tests). */
  readonly debug?: boolean;
}

/**
 * The simulated TEE as a quote provider: evidence signed by a software root (attestation/simulated.ts).
 * It proves nothing about hardware; the default policy rejects the `simulated` TEE type.
 */
export class SimulatedQuoteProvider implements QuoteProvider {
  readonly tee = 'simulated' as const;
  private readonly root: SimulatedRoot;
  private readonly opts: SimulatedQuoteProviderOptions;

  constructor(root: SimulatedRoot, opts: SimulatedQuoteProviderOptions = {}) {
    this.root = root;
    this.opts = opts;
  }

  async getEvidence(reportData: Uint8Array): Promise<QuoteEvidence> {
    if (reportData.length !== REPORT_DATA_BYTES) {
      fail('INVALID_ARGUMENT', `reportData must be ${REPORT_DATA_BYTES} bytes`, {
        length: reportData.length,
      });
    }
    const evidence = produceSimulatedEvidence(this.root, {
      reportData,
      ...(this.opts.measurements === undefined ? {} : { measurements: this.opts.measurements }),
      ...(this.opts.debug === undefined ? {} : { debug: this.opts.debug }),
    });
    return { evidence };
  }
}
