import { randomBytes } from 'node:crypto';
import { access, mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EnclaveHostError, fail } from '../errors.js';
import { type QuoteEvidence, type QuoteProvider, REPORT_DATA_BYTES } from './quote-provider.js';

/*
 * TDX and SEV-SNP evidence through Linux configfs-tsm (Documentation/ABI/testing/configfs-tsm,
 * drivers/virt/coco/tsm.c; Linux ≥ 6.7). One report is one directory under the report root:
 *
 *   mkdir  $root/$name            the kernel populates the attributes below
 *   read   provider               "tdx_guest\n" or "sev_guest\n": which TSM answers
 *   read   generation             decimal counter; +1 on every write to inblob or an option
 *   write  privlevel              (SEV-SNP only, optional) VMPL 0..3 of the report
 *   write  inblob                 REPORTDATA, at most 64 bytes (TSM_INBLOB_MAX, include/linux/tsm.h)
 *   read   outblob                TDX: a DCAP quote; SEV-SNP: the attestation report
 *   read   auxblob                SEV-SNP: the certificate table, when the host provides one
 *   read   generation             must be the first value plus our writes, else someone else wrote
 *                                 to the entry in between and outblob may answer their inblob
 *   rmdir  $root/$name            always, on success and on every failure
 *
 * The file system is a parameter (`TsmFileSystem`) so tests can run this against a directory tree that
 * behaves like the kernel's (`fake-configfs-tsm.ts`).
 */

export const DEFAULT_TSM_REPORT_ROOT = '/sys/kernel/config/tsm/report';

/** What `provider` reads for each TEE (the `name` of the kernel's tsm_ops). */
const PROVIDER_NAMES = { tdx: 'tdx_guest', 'sev-snp': 'sev_guest' } as const;
/** Legacy guest devices (pre-configfs-tsm ioctl interfaces), used only to explain a missing root. */
const LEGACY_DEVICES = { tdx: 'tdx_guest', 'sev-snp': 'sev-guest' } as const;

/** The file operations configfs-tsm needs. `node:fs/promises` by default. */
export interface TsmFileSystem {
  mkdir(path: string): Promise<void>;
  rmdir(path: string): Promise<void>;
  readFile(path: string): Promise<Uint8Array>;
  /** Must deliver `data` in one write: configfs commits a binary attribute when the file is closed. */
  writeFile(path: string, data: Uint8Array): Promise<void>;
  exists(path: string): Promise<boolean>;
}

export const nodeTsmFileSystem: TsmFileSystem = {
  async mkdir(path) {
    await mkdir(path);
  },
  rmdir: (path) => rmdir(path),
  async readFile(path) {
    return new Uint8Array(await readFile(path));
  },
  writeFile: (path, data) => writeFile(path, data),
  async exists(path) {
    try {
      await access(path);
      return true;
    } catch {
      return false;
    }
  },
};

export interface ConfigfsTsmOptions {
  readonly tee: 'tdx' | 'sev-snp';
  /** Default `/sys/kernel/config/tsm/report`. */
  readonly root?: string;
  /** Where to look for `tdx_guest` / `sev-guest` when the root is missing. Default `/dev`. */
  readonly devDir?: string;
  readonly fs?: TsmFileSystem;
  /** Attempts when another writer races us on the entry (generation mismatch). Default 3. */
  readonly maxAttempts?: number;
  /** SEV-SNP only: the VMPL to request (0..3, TSM_PRIVLEVEL_MAX). Default: not written. */
  readonly privlevel?: number;
}

function errnoOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function decimal(bytes: Uint8Array, what: string): number {
  const text = new TextDecoder().decode(bytes).trim();
  if (!/^\d{1,15}$/.test(text))
    fail('QUOTE_PROVIDER_FAILED', `configfs-tsm ${what} is not a number`, { text });
  return Number(text);
}

export class ConfigfsTsmQuoteProvider implements QuoteProvider {
  readonly tee: 'tdx' | 'sev-snp';
  readonly root: string;
  private readonly devDir: string;
  private readonly fs: TsmFileSystem;
  private readonly maxAttempts: number;
  private readonly privlevel: number | undefined;

  constructor(opts: ConfigfsTsmOptions) {
    this.tee = opts.tee;
    this.root = opts.root ?? DEFAULT_TSM_REPORT_ROOT;
    this.devDir = opts.devDir ?? '/dev';
    this.fs = opts.fs ?? nodeTsmFileSystem;
    this.maxAttempts = opts.maxAttempts ?? 3;
    if (!Number.isSafeInteger(this.maxAttempts) || this.maxAttempts < 1 || this.maxAttempts > 100) {
      fail('INVALID_ARGUMENT', 'maxAttempts must be an integer in [1, 100]', {
        maxAttempts: opts.maxAttempts,
      });
    }
    if (opts.privlevel !== undefined) {
      if (opts.tee !== 'sev-snp') fail('INVALID_ARGUMENT', 'privlevel applies to SEV-SNP only');
      if (!Number.isSafeInteger(opts.privlevel) || opts.privlevel < 0 || opts.privlevel > 3) {
        fail('INVALID_ARGUMENT', 'privlevel must be 0..3', { privlevel: opts.privlevel });
      }
    }
    this.privlevel = opts.privlevel;
  }

  async getEvidence(reportData: Uint8Array): Promise<QuoteEvidence> {
    if (reportData.length !== REPORT_DATA_BYTES) {
      fail('INVALID_ARGUMENT', `reportData must be ${REPORT_DATA_BYTES} bytes`, {
        length: reportData.length,
      });
    }
    if (!(await this.fs.exists(this.root))) throw await this.explainMissingRoot();
    let lastRace: EnclaveHostError | undefined;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      try {
        return await this.attempt(reportData);
      } catch (e) {
        if (!(e instanceof EnclaveHostError && e.code === 'QUOTE_GENERATION_RACE')) throw e;
        lastRace = e;
      }
    }
    throw new EnclaveHostError(
      'QUOTE_GENERATION_RACE',
      `another writer kept changing the configfs-tsm report entry (${this.maxAttempts} attempts)`,
      { attempts: this.maxAttempts, ...lastRace?.info },
      lastRace,
    );
  }

  /** One report in a fresh entry; the entry is removed whatever happens. */
  private async attempt(reportData: Uint8Array): Promise<QuoteEvidence> {
    const entry = join(this.root, `defaas-${process.pid}-${randomBytes(8).toString('hex')}`);
    try {
      await this.fs.mkdir(entry);
    } catch (e) {
      const errno = errnoOf(e);
      const code =
        errno === 'EACCES' || errno === 'EPERM' ? 'QUOTE_PROVIDER_UNAVAILABLE' : 'QUOTE_PROVIDER_FAILED';
      fail(
        code,
        `cannot create a configfs-tsm report entry under ${this.root} (${errno ?? 'error'})`,
        { errno },
        e,
      );
    }
    try {
      return await this.report(entry, reportData);
    } finally {
      await this.fs.rmdir(entry).catch(() => undefined);
    }
  }

  private async report(entry: string, reportData: Uint8Array): Promise<QuoteEvidence> {
    const provider = new TextDecoder().decode(await this.read(entry, 'provider')).trim();
    const expected = PROVIDER_NAMES[this.tee];
    if (provider !== expected) {
      fail('QUOTE_PROVIDER_MISMATCH', `configfs-tsm is served by ${provider}, expected ${expected}`, {
        provider,
        expected,
      });
    }
    const before = decimal(await this.read(entry, 'generation'), 'generation');
    let writes = 0;
    if (this.privlevel !== undefined) {
      await this.write(entry, 'privlevel', new TextEncoder().encode(`${this.privlevel}\n`));
      writes++;
    }
    await this.write(entry, 'inblob', reportData);
    writes++;
    const evidence = await this.read(entry, 'outblob');
    const auxblob = await this.readOptional(entry, 'auxblob');
    const after = decimal(await this.read(entry, 'generation'), 'generation');
    if (after !== before + writes) {
      fail('QUOTE_GENERATION_RACE', 'the configfs-tsm report entry was written by someone else', {
        generationBefore: before,
        generationAfter: after,
        writes,
      });
    }
    if (evidence.length === 0) fail('QUOTE_PROVIDER_FAILED', 'configfs-tsm returned an empty outblob');
    return auxblob === undefined || auxblob.length === 0 ? { evidence } : { evidence, auxblob };
  }

  private async read(entry: string, attr: string): Promise<Uint8Array> {
    try {
      return await this.fs.readFile(join(entry, attr));
    } catch (e) {
      return this.ioFailure('read', attr, e);
    }
  }

  /** auxblob is only visible when the TSM emits one (SEV-SNP); a missing file is not an error. */
  private async readOptional(entry: string, attr: string): Promise<Uint8Array | undefined> {
    try {
      return await this.fs.readFile(join(entry, attr));
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return undefined;
      return this.ioFailure('read', attr, e);
    }
  }

  private async write(entry: string, attr: string, data: Uint8Array): Promise<void> {
    try {
      await this.fs.writeFile(join(entry, attr), data);
    } catch (e) {
      this.ioFailure('write', attr, e);
    }
  }

  private ioFailure(op: 'read' | 'write', attr: string, e: unknown): never {
    const errno = errnoOf(e);
    return fail(
      'QUOTE_PROVIDER_FAILED',
      `configfs-tsm ${op} of ${attr} failed (${errno ?? 'error'})`,
      {
        attr,
        errno,
      },
      e,
    );
  }

  /** Why there is no report root: an old kernel, configfs not mounted, or no TEE at all. */
  private async explainMissingRoot(): Promise<EnclaveHostError> {
    const own = join(this.devDir, LEGACY_DEVICES[this.tee]);
    const other = join(this.devDir, LEGACY_DEVICES[this.tee === 'tdx' ? 'sev-snp' : 'tdx']);
    const info = { root: this.root, tee: this.tee };
    if (await this.fs.exists(own)) {
      return new EnclaveHostError(
        'QUOTE_PROVIDER_UNAVAILABLE',
        `${this.root} is missing but ${own} exists: this guest kernel only has the legacy ioctl interface. ` +
          'Quotes need configfs-tsm (Linux ≥ 6.7, CONFIG_TSM_REPORTS) with configfs mounted ' +
          '(mount -t configfs none /sys/kernel/config)',
        { ...info, device: own },
      );
    }
    if (await this.fs.exists(other)) {
      return new EnclaveHostError(
        'QUOTE_PROVIDER_UNAVAILABLE',
        `${this.root} is missing and ${other} exists: this is not a ${this.tee} guest (wrong --tee?)`,
        { ...info, device: other },
      );
    }
    return new EnclaveHostError(
      'QUOTE_PROVIDER_UNAVAILABLE',
      `not running in a ${this.tee} guest: neither ${this.root} nor ${own} exists ` +
        '(use the simulated TEE outside a confidential VM)',
      info,
    );
  }
}
