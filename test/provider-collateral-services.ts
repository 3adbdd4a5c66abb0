import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readVector, readVectorText } from './vectors.js';

/*
 * A local HTTP server on 127.0.0.1 answering like Intel PCS v4 (also under the PCCS Root CA CRL path)
 * and AMD KDS from recorded vector files, whose Intel collateral set can be switched while it runs (a
 * vendor publishing newer collateral) and whose answers can be made hostile: a dropped connection,
 * a TCB Info that is not JSON, one of its signature digits changed, or a body past any sane size.
 * Nothing leaves the machine.
 */

export type ServiceMode = 'ok' | 'down' | 'bad-json' | 'bad-signature' | 'oversized';

export interface CollateralServices {
  readonly base: string;
  /** The Intel collateral set served (a folder under tdx/collateral/). */
  intelSet: string;
  mode: ServiceMode;
  /** Paths requested, in order. */
  readonly hits: string[];
  close(): Promise<void>;
}

export const SNP_REPORT_DIR = 'sev-snp/milan-v3-azure';
export const SNP_CHAIN = 'sev-snp/roots/milan/cert_chain_vcek.pem';

export async function startCollateralServices(intelSet: string): Promise<CollateralServices> {
  const state = { intelSet, mode: 'ok' as ServiceMode, hits: [] as string[] };
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    state.hits.push(u.pathname);
    if (state.mode === 'down') {
      req.socket.destroy();
      return;
    }
    const dir = `tdx/collateral/${state.intelSet}`;
    const enc = (f: string) => encodeURIComponent(readVectorText(`${dir}/${f}`));
    const send = (body: Uint8Array | string, headers: Record<string, string> = {}) =>
      res.writeHead(200, headers).end(typeof body === 'string' ? body : Buffer.from(body));
    switch (u.pathname) {
      case '/tdx/certification/v4/tcb': {
        const headers = { 'TCB-Info-Issuer-Chain': enc('tcb_info_issuer_chain.pem') };
        if (state.mode === 'bad-json') return send('{"tcbInfo": {"id": "TDX", ', headers);
        if (state.mode === 'oversized') {
          // Streamed without a Content-Length: the reader must stop on its own.
          res.writeHead(200, headers);
          const chunk = Buffer.alloc(64 * 1024, 0x20);
          for (let i = 0; i < 40; i++) res.write(chunk);
          res.end('{}');
          return;
        }
        const body = readVectorText(`${dir}/tcb_info.json`);
        if (state.mode === 'bad-signature') {
          const m = /"signature"\s*:\s*"([0-9a-fA-F])/.exec(body);
          if (!m) throw new Error('no signature in the TCB Info vector');
          const at = m.index + m[0].length - 1;
          const flipped = m[1] === '0' ? '1' : '0';
          return send(body.slice(0, at) + flipped + body.slice(at + 1), headers);
        }
        return send(body, headers);
      }
      case '/tdx/certification/v4/qe/identity':
        return send(readVector(`${dir}/qe_identity.json`), {
          'SGX-Enclave-Identity-Issuer-Chain': enc('qe_identity_issuer_chain.pem'),
        });
      case '/sgx/certification/v4/pckcrl':
        return send(readVector(`${dir}/pck_crl.der`), {
          'SGX-PCK-CRL-Issuer-Chain': enc('pck_crl_issuer_chain.pem'),
        });
      case '/IntelSGXRootCA.der':
      case '/sgx/certification/v4/rootcacrl':
        return send(readVector(`${dir}/root_ca_crl.der`));
      case '/vcek/v1/Milan/cert_chain':
        return send(readVector(SNP_CHAIN));
    }
    if (u.pathname.startsWith('/vcek/v1/Milan/') && u.pathname !== '/vcek/v1/Milan/crl')
      return send(readVector(`${SNP_REPORT_DIR}/vcek.der`));
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get intelSet() {
      return state.intelSet;
    },
    set intelSet(s) {
      state.intelSet = s;
    },
    get mode() {
      return state.mode;
    },
    set mode(m) {
      state.mode = m;
    },
    hits: state.hits,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
