import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readVector, readVectorText } from './vectors.js';

/*
 * A local HTTP server on 127.0.0.1 that answers like Intel PCS v4 and AMD KDS, from recorded vector
 * files: the TDX collateral of `tdx/collateral/phala-tdx-b0c06f-2025-06` and the Milan VCEK and chain
 * of `sev-snp/milan-v3-azure`. `mode` makes it rate-limit (429) or know nothing (404). Nothing leaves
 * the machine.
 */

export const INTEL_DIR = 'tdx/collateral/phala-tdx-b0c06f-2025-06';
export const SNP_DIR = 'sev-snp/milan-v3-azure';

export interface VendorServices {
  readonly base: string;
  mode: 'ok' | '429' | '404';
  /** Paths requested, in order. */
  readonly hits: string[];
  close(): Promise<void>;
}

export async function startVendorServices(): Promise<VendorServices> {
  const state = { mode: 'ok' as VendorServices['mode'], hits: [] as string[] };
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    state.hits.push(u.pathname);
    if (state.mode === '429') {
      res.writeHead(429, { 'Retry-After': '60' }).end();
      return;
    }
    const ok = state.mode === 'ok';
    const enc = (f: string) => encodeURIComponent(readVectorText(`${INTEL_DIR}/${f}`));
    const send = (body: Uint8Array, headers: Record<string, string> = {}) =>
      res.writeHead(200, headers).end(Buffer.from(body));
    if (ok && u.pathname === '/tdx/certification/v4/tcb')
      return send(readVector(`${INTEL_DIR}/tcb_info.json`), {
        'TCB-Info-Issuer-Chain': enc('tcb_info_issuer_chain.pem'),
      });
    if (ok && u.pathname === '/tdx/certification/v4/qe/identity')
      return send(readVector(`${INTEL_DIR}/qe_identity.json`), {
        'SGX-Enclave-Identity-Issuer-Chain': enc('qe_identity_issuer_chain.pem'),
      });
    if (ok && u.pathname === '/sgx/certification/v4/pckcrl')
      return send(readVector(`${INTEL_DIR}/pck_crl.der`), {
        'SGX-PCK-CRL-Issuer-Chain': enc('pck_crl_issuer_chain.pem'),
      });
    if (ok && u.pathname === '/IntelSGXRootCA.der') return send(readVector(`${INTEL_DIR}/root_ca_crl.der`));
    if (ok && u.pathname.startsWith('/vcek/v1/Milan/cert_chain'))
      return send(readVector('sev-snp/roots/milan/cert_chain_vcek.pem'));
    if (ok && u.pathname.startsWith('/vcek/v1/Milan/')) return send(readVector(`${SNP_DIR}/vcek.der`));
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get mode() {
      return state.mode;
    },
    set mode(m) {
      state.mode = m;
    },
    hits: state.hits,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
