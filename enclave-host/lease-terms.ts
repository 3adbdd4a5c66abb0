import type { LimitsFields } from '../protocol/transcript.js';
import { fail } from './errors.js';

/**
 * Bytes a sealed InvokeResponse adds to its output and stderr: the SealedFrame fields (16-byte
 * session id, seq, length prefixes) and the 16-byte Poly1305 tag (64 bytes kept below the message
 * limit for them: the top padding bucket, protocol/frame-padding.ts), the 4-byte body length of the
 * padding, the SessionResponse / InvokeResponse tags and lengths, the call record, the receipt, and
 * a failed call's ErrorDetail (code, message, info). They come to under 3 KiB; 8 KiB leaves a
 * margin. Padding never pushes a frame past the limit: the top bucket is the limit itself.
 */
export const SEALED_RESPONSE_OVERHEAD_BYTES = 8 * 1024;

/**
 * Refuses limits that cannot be honoured: a full output (or input) plus stderr and the sealed
 * frame's overhead must fit in one gRPC message, or the executor would run and charge a call whose
 * response cannot be delivered.
 */
export function checkLimitsFit(l: LimitsFields): void {
  const overhead = BigInt(SEALED_RESPONSE_OVERHEAD_BYTES);
  const response = l.maxOutputBytes + l.maxStderrBytes + overhead;
  if (response > l.maxMessageBytes)
    fail(
      'INVALID_ARGUMENT',
      `max output ${l.maxOutputBytes} bytes + max stderr ${l.maxStderrBytes} bytes + ${overhead} bytes of sealed-frame overhead = ${response} bytes does not fit the gRPC max message size of ${l.maxMessageBytes} bytes`,
      {
        maxOutputBytes: Number(l.maxOutputBytes),
        maxStderrBytes: Number(l.maxStderrBytes),
        maxMessageBytes: Number(l.maxMessageBytes),
      },
    );
  const request = l.maxInputBytes + overhead;
  if (request > l.maxMessageBytes)
    fail(
      'INVALID_ARGUMENT',
      `max input ${l.maxInputBytes} bytes + ${overhead} bytes of sealed-frame overhead = ${request} bytes does not fit the gRPC max message size of ${l.maxMessageBytes} bytes`,
      { maxInputBytes: Number(l.maxInputBytes), maxMessageBytes: Number(l.maxMessageBytes) },
    );
}
