/** @module security/constant-time: comparing secrets without leaking where (or whether) they differ. */
import { createHash, timingSafeEqual } from 'node:crypto'

/**
 * Equal bytes, compared in constant time. Both sides are hashed first, so neither the position of
 * the first difference nor a length mismatch shows in the timing (timingSafeEqual alone throws on
 * unequal lengths, which a caller would then have to guard, leaking the length).
 */
export function equalsConstantTime(a: Uint8Array | string, b: Uint8Array | string): boolean {
  const ha = createHash('sha256').update(a).digest()
  const hb = createHash('sha256').update(b).digest()
  return timingSafeEqual(ha, hb)
}
