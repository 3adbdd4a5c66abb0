/** A Buffer view of `b` without copying (Buffer.from(uint8Array) copies; 1 MiB payloads make it count). */
export function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
