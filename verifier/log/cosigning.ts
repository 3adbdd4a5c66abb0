import type { CosignatureVerifier } from './cosignature.js';
import { isLogError, logFail } from './errors.js';
import { consistencyProof, type HashReader } from './merkle.js';
import { formatSignatureLine, MAX_NOTE_SIGNATURES, type NoteSignature, parseNote } from './note.js';
import type { PublishedCheckpoint } from './store.js';
import { formatAddCheckpointRequest, parseConflictBody, parseCosignatureResponse } from './witness.js';

/*
 * The log's side of c2sp.org/tlog-witness (docs/log.md, "Witness cosigning"): after each published
 * checkpoint the log sends add-checkpoint to every configured witness, with a consistency proof from
 * the size that witness last cosigned, and keeps the cosignature each returns for that checkpoint.
 *
 * - The log does not persist what each witness has seen: it starts from old size 0 and learns the
 *   witness's size from the 409 ("If a client doesn't have information on the latest cosigned
 *   checkpoint, it MAY initially make a request with a old size of zero to obtain it"), then sends
 *   again with the proof from that size.
 * - A 409 naming the very size sent means the witness cosigned another tree of that size; a 409
 *   naming a size above the log's means the witness saw a larger tree than this log has; a 422 means
 *   the witness found the proof inconsistent with what it cosigned. Each is reported (event
 *   `witness-fork`, `witness-ahead`, `witness-inconsistent`) and that witness is not asked again for
 *   this checkpoint: the log's own history disagrees with what the witness saw.
 * - Only cosignatures by the configured witness key that verify over the checkpoint text are kept;
 *   others in a response are ignored ("The client MUST ignore any cosignatures from unknown keys").
 * - Cosignatures never hold the log back: the store publishes and acknowledges without them, and
 *   `cosignedText()` is the latest published note with the cosignatures gathered for it so far
 *   (possibly none). A witness that fails is asked again every `retryMs` while the checkpoint it has
 *   not cosigned is the latest.
 */

export interface WitnessEndpoint {
  /** The witness's submission prefix: `<url>/add-checkpoint` is called. */
  readonly url: string;
  readonly verifier: CosignatureVerifier;
}

export interface CosigningOptions {
  readonly witnesses: readonly WitnessEndpoint[];
  /** The published checkpoint now, and a hash reader bound to it (LogStore's `checkpoint`, `hashReader()`). */
  readonly current: () => { readonly checkpoint: PublishedCheckpoint; readonly hashes: HashReader };
  /** Per request (default 10 s). */
  readonly timeoutMs?: number;
  /** How often witnesses without a cosignature on the latest checkpoint are asked again (default 5 s). */
  readonly retryMs?: number;
  readonly log?: (event: Record<string, unknown>) => void;
}

export interface WitnessStatus {
  readonly url: string;
  readonly name: string;
  /** The size the witness is known to have cosigned last, if known. */
  readonly size?: number;
  /** Has it cosigned the latest published checkpoint? */
  readonly cosigned: boolean;
  /** Why the last request did not give a cosignature. */
  readonly error?: string;
}

export interface Cosigning {
  /** The latest published checkpoint note followed by the cosignatures gathered for it. */
  cosignedText(): string;
  /** Asks every witness that has not cosigned the latest checkpoint; resolves when each has answered. */
  cosignNow(): Promise<void>;
  /** Starts a round in the background (for LogStore's onCheckpoint). */
  notify(): void;
  status(): WitnessStatus[];
  stop(): Promise<void>;
}

interface Slot {
  readonly endpoint: WitnessEndpoint;
  knownSize: number | undefined;
  /** The cosignature line and the checkpoint note it is for. */
  cosignature: { readonly for: string; readonly line: string } | undefined;
  /** The checkpoint a refusal was about: not asked again for it. */
  refused: string | undefined;
  error: string | undefined;
  running: Promise<void> | undefined;
  again: boolean;
}

/** Asking again after 409 twice is enough: the second 409 can only be a fork or a moving witness. */
const MAX_CONFLICTS = 3;

export function startCosigning(o: CosigningOptions): Cosigning {
  // A note carries at most MAX_NOTE_SIGNATURES lines, one per key: the log's and one per witness.
  if (o.witnesses.length >= MAX_NOTE_SIGNATURES)
    logFail('LOG_INVALID_ARGUMENT', `at most ${MAX_NOTE_SIGNATURES - 1} witnesses`);
  const keys = new Set(o.witnesses.map((w) => `${w.verifier.name}+${w.verifier.keyId}`));
  if (keys.size !== o.witnesses.length) logFail('LOG_INVALID_ARGUMENT', 'a witness key is configured twice');
  const timeoutMs = o.timeoutMs ?? 10_000;
  const log = o.log ?? (() => {});
  let stopped = false;
  const slots: Slot[] = o.witnesses.map((endpoint) => ({
    endpoint,
    knownSize: undefined,
    cosignature: undefined,
    refused: undefined,
    error: undefined,
    running: undefined,
    again: false,
  }));

  const name = (s: Slot) => s.endpoint.verifier.name;

  function refuse(s: Slot, c: PublishedCheckpoint, event: string, message: string, extra = {}) {
    s.refused = c.text;
    s.error = message;
    log({ event, witness: name(s), url: s.endpoint.url, size: c.size, message, ...extra });
  }

  async function ask(s: Slot): Promise<void> {
    const { checkpoint: c, hashes } = o.current();
    if (s.cosignature?.for === c.text || s.refused === c.text) return;
    const note = parseNote(c.text);
    let old = s.knownSize ?? 0;
    for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
      if (old > c.size)
        return refuse(
          s,
          c,
          'witness-ahead',
          `the witness cosigned size ${old}, more than this log's ${c.size}`,
        );
      const proof = old === 0 || old === c.size ? [] : await consistencyProof(old, c.size, hashes);
      let status: number;
      let body: string;
      try {
        const r = await fetch(
          new URL('add-checkpoint', s.endpoint.url.endsWith('/') ? s.endpoint.url : `${s.endpoint.url}/`),
          {
            method: 'POST',
            body: formatAddCheckpointRequest({ oldSize: old, proof, checkpoint: c.text }),
            signal: AbortSignal.timeout(timeoutMs),
          },
        );
        status = r.status;
        body = await r.text();
      } catch (e) {
        s.error = `unreachable: ${e instanceof Error ? e.message : String(e)}`;
        log({ event: 'witness-unavailable', witness: name(s), url: s.endpoint.url, message: s.error });
        return;
      }
      if (status === 200) {
        const v = s.endpoint.verifier;
        let mine: NoteSignature | undefined;
        try {
          mine = parseCosignatureResponse(body).find(
            (sig) => sig.name === v.name && sig.keyId === v.keyId && v.verify(note.textBytes, sig.signature),
          );
        } catch (e) {
          s.error = isLogError(e) ? e.message : String(e);
        }
        if (mine === undefined) {
          s.error ??= 'the response holds no valid cosignature by the witness key';
          log({ event: 'witness-bad-response', witness: name(s), url: s.endpoint.url, message: s.error });
          return;
        }
        s.knownSize = c.size;
        s.error = undefined;
        s.cosignature = { for: c.text, line: formatSignatureLine(mine) };
        log({ event: 'cosigned', witness: name(s), size: c.size });
        return;
      }
      if (status === 409) {
        let size: number;
        try {
          size = parseConflictBody(body);
        } catch {
          s.error = 'a 409 without a size';
          log({ event: 'witness-bad-response', witness: name(s), url: s.endpoint.url, message: s.error });
          return;
        }
        if (size === old)
          return refuse(s, c, 'witness-fork', `the witness cosigned another tree of size ${size}`, { old });
        s.knownSize = size;
        old = size;
        continue;
      }
      if (status === 422)
        return refuse(
          s,
          c,
          'witness-inconsistent',
          `the witness finds this checkpoint inconsistent with size ${old}, which it cosigned`,
          { old },
        );
      s.error = `HTTP ${status}: ${body.slice(0, 200).trim()}`;
      log({ event: 'witness-refused', witness: name(s), url: s.endpoint.url, status, message: s.error });
      return;
    }
    s.error = 'the witness keeps answering 409 with new sizes';
    log({ event: 'witness-bad-response', witness: name(s), url: s.endpoint.url, message: s.error });
  }

  function kick(s: Slot): Promise<void> {
    if (stopped) return Promise.resolve();
    if (s.running !== undefined) {
      s.again = true;
      return s.running;
    }
    const run = (async () => {
      do {
        s.again = false;
        const asked = o.current().checkpoint.text;
        try {
          await ask(s);
        } catch (e) {
          // A newer checkpoint may have replaced the partial tiles the proof was read from: ask
          // again for the newer one. Otherwise the failure is the log's own (a tile it cannot read).
          if (o.current().checkpoint.text !== asked) s.again = true;
          else {
            s.error = e instanceof Error ? e.message : String(e);
            log({ event: 'witness-error', witness: name(s), message: s.error });
          }
        }
      } while (s.again && !stopped);
      s.running = undefined;
    })();
    s.running = run;
    return run;
  }

  const cosignNow = async () => {
    await Promise.all(slots.map(kick));
  };
  const timer = setInterval(() => {
    const text = o.current().checkpoint.text;
    for (const s of slots) if (s.cosignature?.for !== text && s.refused !== text) void kick(s);
  }, o.retryMs ?? 5000);
  timer.unref();

  return {
    cosignedText() {
      const text = o.current().checkpoint.text;
      return text + slots.map((s) => (s.cosignature?.for === text ? s.cosignature.line : '')).join('');
    },
    cosignNow,
    notify() {
      void cosignNow();
    },
    status() {
      const text = o.current().checkpoint.text;
      return slots.map((s) => ({
        url: s.endpoint.url,
        name: name(s),
        ...(s.knownSize !== undefined && { size: s.knownSize }),
        cosigned: s.cosignature?.for === text,
        ...(s.error !== undefined && { error: s.error }),
      }));
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await Promise.all(slots.map((s) => s.running));
    },
  };
}
