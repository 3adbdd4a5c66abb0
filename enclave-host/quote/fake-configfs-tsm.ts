import {
  mkdtemp,
  mkdir as rawMkdir,
  writeFile as rawWriteFile,
  readdir,
  readFile,
  rm,
  stat,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { concatBytes } from '../../attestation/bytes.js';
import type { TsmFileSystem } from './configfs-tsm.js';

/*
 * A test double of Linux configfs-tsm (drivers/virt/coco/tsm.c) on a real temporary directory tree:
 * `mkdir` of an entry populates the attributes the kernel shows, writes to `inblob`/`privlevel` bump
 * `generation`, `outblob` is produced from the current `inblob` when read, read-only attributes refuse
 * writes, and `rmdir` removes the entry with its attributes, as configfs does. Hooks let a test play
 * "another writer" between our write and our read.
 */

export interface FakeTsmOptions {
  /** What `provider` reads (without the newline): `tdx_guest`, `sev_guest`, or anything to test. */
  readonly provider: string;
  /** The kernel's answer for an `inblob` (default: "FAKEQUOTE" ‖ provider ‖ ":" ‖ inblob). */
  readonly makeOutblob?: (inblob: Uint8Array, privlevel: number) => Uint8Array;
  /** If set, entries show an `auxblob` attribute with these bytes (SEV-SNP certificate table). */
  readonly auxblob?: Uint8Array;
  /** Called when `outblob` is read, before it is produced: the place to interfere. */
  readonly beforeOutblob?: (entry: string, fake: FakeConfigfsTsm) => Promise<void> | void;
  /** Errno to fail `outblob` reads with (e.g. 'EIO' when the quoting service is down). */
  readonly outblobErrno?: string;
}

/** TSM_INBLOB_MAX (include/linux/tsm.h). */
const INBLOB_MAX = 64;
const READ_ONLY = new Set(['provider', 'generation', 'outblob', 'auxblob']);
const WRITE_ONLY = new Set(['inblob', 'privlevel']);

function sysError(code: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${path}`), { code, path });
}

export class FakeConfigfsTsm {
  readonly root: string;
  readonly opts: FakeTsmOptions;
  /** Every entry ever created (full paths), in order. */
  readonly created: string[] = [];
  readonly fs: TsmFileSystem;

  private constructor(root: string, opts: FakeTsmOptions) {
    this.root = root;
    this.opts = opts;
    this.fs = {
      mkdir: (p) => this.mkdir(p),
      rmdir: (p) => this.rmdir(p),
      readFile: (p) => this.readAttr(p),
      writeFile: (p, d) => this.writeAttr(p, d),
      exists: async (p) => {
        try {
          await stat(p);
          return true;
        } catch {
          return false;
        }
      },
    };
  }

  /** A fresh fake under the OS temp dir; `root` is `<tmp>/tsm/report`. */
  static async create(opts: FakeTsmOptions): Promise<FakeConfigfsTsm> {
    const base = await mkdtemp(join(tmpdir(), 'defaas-fake-tsm-'));
    const root = join(base, 'tsm', 'report');
    await rawMkdir(root, { recursive: true });
    return new FakeConfigfsTsm(root, opts);
  }

  /** Entries currently present under the root. */
  async entries(): Promise<string[]> {
    return readdir(this.root);
  }

  /** Another process writes `inblob` of `entry` (what the generation counter exists to detect). */
  async interfere(entry: string, inblob: Uint8Array = new Uint8Array(INBLOB_MAX).fill(0xee)): Promise<void> {
    await this.writeAttr(join(entry, 'inblob'), inblob);
  }

  async destroy(): Promise<void> {
    await rm(dirname(dirname(this.root)), { recursive: true, force: true });
  }

  private entryOf(path: string): { entry: string; attr: string } {
    const entry = dirname(path);
    if (dirname(entry) !== this.root) throw sysError('ENOENT', path);
    return { entry, attr: basename(path) };
  }

  private async mkdir(path: string): Promise<void> {
    if (dirname(path) !== this.root) throw sysError('ENOENT', path);
    try {
      await rawMkdir(path);
    } catch (e) {
      throw sysError((e as { code?: string }).code ?? 'EIO', path);
    }
    this.created.push(path);
    await rawWriteFile(join(path, 'provider'), `${this.opts.provider}\n`);
    await rawWriteFile(join(path, 'generation'), '0\n');
    await rawWriteFile(join(path, 'inblob'), new Uint8Array(0));
    await rawWriteFile(join(path, 'privlevel'), '0\n');
    await rawWriteFile(join(path, 'outblob'), new Uint8Array(0));
    if (this.opts.auxblob !== undefined) await rawWriteFile(join(path, 'auxblob'), this.opts.auxblob);
  }

  private async rmdir(path: string): Promise<void> {
    if (dirname(path) !== this.root) throw sysError('ENOENT', path);
    try {
      await stat(path);
    } catch {
      throw sysError('ENOENT', path);
    }
    await rm(path, { recursive: true });
  }

  private async readAttr(path: string): Promise<Uint8Array> {
    const { entry, attr } = this.entryOf(path);
    if (WRITE_ONLY.has(attr)) throw sysError('EACCES', path);
    if (attr === 'outblob') {
      await this.opts.beforeOutblob?.(entry, this);
      if (this.opts.outblobErrno !== undefined) throw sysError(this.opts.outblobErrno, path);
      const inblob = new Uint8Array(await this.raw(join(entry, 'inblob')));
      const privlevel = Number(new TextDecoder().decode(await this.raw(join(entry, 'privlevel'))).trim());
      const make =
        this.opts.makeOutblob ??
        ((blob: Uint8Array) =>
          concatBytes(new TextEncoder().encode(`FAKEQUOTE${this.opts.provider}:`), blob));
      return make(inblob, privlevel);
    }
    return new Uint8Array(await this.raw(path));
  }

  private async writeAttr(path: string, data: Uint8Array): Promise<void> {
    const { entry, attr } = this.entryOf(path);
    if (READ_ONLY.has(attr)) throw sysError('EACCES', path);
    if (!WRITE_ONLY.has(attr)) throw sysError('ENOENT', path);
    if (attr === 'inblob' && data.length > INBLOB_MAX) throw sysError('EINVAL', path);
    if (attr === 'privlevel') {
      const level = Number(new TextDecoder().decode(data).trim());
      if (!Number.isInteger(level) || level < 0 || level > 3) throw sysError('EINVAL', path);
    }
    await this.raw(join(entry, attr));
    await rawWriteFile(join(entry, attr), data);
    const generation = Number(new TextDecoder().decode(await this.raw(join(entry, 'generation'))).trim());
    await rawWriteFile(join(entry, 'generation'), `${generation + 1}\n`);
  }

  private async raw(path: string): Promise<Buffer> {
    try {
      return await readFile(path);
    } catch (e) {
      throw sysError((e as { code?: string }).code ?? 'EIO', path);
    }
  }
}
