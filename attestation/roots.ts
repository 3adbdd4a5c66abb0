import { fromHex } from './bytes.js';

/**
 * Roots of trust, pinned as facts: the SHA-256 of each root certificate's SubjectPublicKeyInfo (DER).
 * The root certificates themselves travel with the evidence (the PCK chain inside a quote ends in
 * Intel's root; AMD's ARK comes from the executor, a file, or AMD KDS) and are accepted only when
 * their key hashes to one of these values. Tests may pass other pins through `TrustRoots`.
 */
export interface TrustRoots {
  /** Intel SGX Root CA (signs the PCK CAs, the TCB Signing certificate and the Root CA CRL). */
  readonly intel: readonly Uint8Array[];
  /** AMD Root Keys (ARK) per product. */
  readonly amd: Readonly<Record<'Milan' | 'Genoa' | 'Turin', readonly Uint8Array[]>>;
}

/**
 * Intel SGX Root CA, CN=Intel SGX Root CA, serial 22650CD65A9D3489F383B49552BF501B392706AC, valid
 * 2018-05-21..2049-12-31, P-256. Published by Intel at
 * https://certificates.trustedservices.intel.com/Intel_SGX_Provisioning_Certification_RootCA.der
 * (the same certificate Intel's QVL and Phala dcap-qvl embed as their trusted root).
 */
export const INTEL_SGX_ROOT_CA_SPKI_SHA256 =
  'a0af031289f5d5d4132f9186068a7fc13628633ba235777472e29b6b6c67a49e';

/**
 * AMD ARKs (RSA-4096, self-signed, RSASSA-PSS SHA-384), as served by AMD KDS at
 * https://kdsintf.amd.com/vcek/v1/{Milan,Genoa,Turin}/cert_chain (the second certificate) and
 * embedded by google/go-sev-guest `verify/trust/ask_ark_*.pem` and virtee/sev `certs/snp/builtin`.
 */
export const AMD_ARK_SPKI_SHA256 = {
  Milan: '9f056bee44377e29308cb5ffa895bdfb62d18881fa6bed8d6f075b0204089cb9',
  Genoa: '429a69c9422aa258ee4d8db5fcda9c6470ef15f8cd5a9cebd6cbc7d90b863831',
  Turin: '4f125410563a2ab9a50356f9243f6fe0b6f73de98603f53f90339c70e9d7ad08',
} as const;

/** The production roots. */
export const DEFAULT_TRUST_ROOTS: TrustRoots = {
  intel: [fromHex(INTEL_SGX_ROOT_CA_SPKI_SHA256)],
  amd: {
    Milan: [fromHex(AMD_ARK_SPKI_SHA256.Milan)],
    Genoa: [fromHex(AMD_ARK_SPKI_SHA256.Genoa)],
    Turin: [fromHex(AMD_ARK_SPKI_SHA256.Turin)],
  },
};
