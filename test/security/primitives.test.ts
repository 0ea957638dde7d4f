/** The pure security pieces (#5): request signatures, provider signatures, sealed secrets, durations and lists. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isKeyActive, mayWriteWarehouse, parseDuration, parseWarehouseList } from '../../src/domain/api-key.js'
import { equalsConstantTime } from '../../src/security/constant-time.js'
import { signProviderBody, verifyProviderSignature } from '../../src/security/provider-signature.js'
import { checkRequestSignature, nonceExpiry, signRequest } from '../../src/security/request-signature.js'
import { openSecret, parseSealKey, sealSecret } from '../../src/security/secret-box.js'
import { jsonDepth } from '../../src/http/middleware/body.js'
import { provider } from './support-security.js'

const NOW = Date.parse('2026-11-25T12:00:00Z')
const parts = { method: 'POST', path: '/inventory/v1/stock/update?x=1', timestamp: String(NOW / 1000), nonce: 'n0nce-0123456789abcdef', body: '{"sku":"A"}' }

describe('request signatures', () => {
  it('accept exactly what was signed, and nothing that differs in one part', () => {
    const sig = signRequest('sbs_secret', parts)
    expect(checkRequestSignature('sbs_secret', parts, sig, NOW)).toEqual({ ok: true })
    for (const [k, v] of Object.entries({ method: 'PUT', path: '/inventory/v1/stock/update', timestamp: String(NOW / 1000 + 1), nonce: 'n0nce-0123456789abcdeF', body: '{"sku":"B"}' })) {
      expect(checkRequestSignature('sbs_secret', { ...parts, [k]: v }, sig, NOW + 1000).ok, k).toBe(false)
    }
    expect(checkRequestSignature('sbs_other', parts, sig, NOW).ok).toBe(false)
  })

  it('any single changed byte of the body breaks the signature (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (body, at, flip) => {
        const p = { ...parts, body }
        const sig = signRequest('k', p)
        const changed = Uint8Array.from(body)
        changed[at % body.length] = changed[at % body.length]! ^ flip
        return checkRequestSignature('k', p, sig, NOW).ok && !checkRequestSignature('k', { ...p, body: changed }, sig, NOW).ok
      }),
    )
  })

  it('remembers a nonce for as long as its timestamp is acceptable', () => {
    expect(nonceExpiry('1000', 300)).toBe(1_301_000)
  })
})

describe('provider signatures', () => {
  const body = new TextEncoder().encode('{"a":1}')
  it('hex and base64, with an optional prefix; re-encodings are malformed, not mismatches', () => {
    const hex = provider('p', 'secret-secret-secret')
    const b64 = provider('p', 'secret-secret-secret', { encoding: 'base64' })
    const pre = provider('p', 'secret-secret-secret', { prefix: 'sha256=' })
    expect(verifyProviderSignature(hex, body, signProviderBody(hex.secret, body, 'hex'))).toBe('ok')
    expect(verifyProviderSignature(hex, body, signProviderBody(hex.secret, body, 'hex').toUpperCase())).toBe('ok')
    expect(verifyProviderSignature(b64, body, signProviderBody(b64.secret, body, 'base64'))).toBe('ok')
    expect(verifyProviderSignature(pre, body, `sha256=${signProviderBody(pre.secret, body, 'hex')}`)).toBe('ok')
    expect(verifyProviderSignature(hex, body, signProviderBody(hex.secret, body, 'base64'))).toBe('malformed')
    expect(verifyProviderSignature(b64, body, signProviderBody(b64.secret, body, 'hex'))).toBe('malformed')
    expect(verifyProviderSignature(pre, body, signProviderBody(pre.secret, body, 'hex'))).toBe('malformed')
    expect(verifyProviderSignature(hex, body, undefined)).toBe('missing')
    expect(verifyProviderSignature(hex, body, signProviderBody('other-secret', body, 'hex'))).toBe('mismatch')
  })
})

describe('sealed secrets and constant-time comparison', () => {
  it('round-trips with the key, refuses without it or with another', () => {
    const key = parseSealKey('11'.repeat(32))
    const sealed = sealSecret('sbs_abc', key)
    expect(sealed).toMatch(/^aesgcm:/)
    expect(openSecret(sealed, key)).toBe('sbs_abc')
    expect(() => openSecret(sealed, null)).toThrow(/KEY_ENCRYPTION_KEY/)
    expect(() => openSecret(sealed, parseSealKey('22'.repeat(32)))).toThrow(/cannot be decrypted/)
    expect(openSecret(sealSecret('sbs_abc', null), key)).toBe('sbs_abc')
    expect(() => parseSealKey('abcd')).toThrow(/32 bytes/)
  })

  it('compares regardless of length', () => {
    expect(equalsConstantTime('abc', 'abc')).toBe(true)
    expect(equalsConstantTime('abc', 'abcd')).toBe(false)
  })
})

describe('key model', () => {
  it('durations, warehouse lists, activity and restriction', () => {
    expect(parseDuration('90d')).toBe(90 * 86_400_000)
    expect(parseDuration('45s')).toBe(45_000)
    for (const bad of ['', '5y', '0d', '-1d', '1.5h', '99999999d']) expect(() => parseDuration(bad), bad).toThrow()
    expect(parseWarehouseList('3, 1,3')).toEqual([1, 3])
    for (const bad of ['', 'a', '0', '1,,x', '99999999999']) expect(() => parseWarehouseList(bad), bad).toThrow()
    expect(isKeyActive({ revokedAt: null, expiresAt: 10 }, 9)).toBe(true)
    expect(isKeyActive({ revokedAt: null, expiresAt: 10 }, 10)).toBe(false)
    expect(isKeyActive({ revokedAt: 5, expiresAt: null }, 1)).toBe(false)
    expect(mayWriteWarehouse(null, 7)).toBe(true)
    expect(mayWriteWarehouse([1], 7)).toBe(false)
  })

  it('JSON depth is the same counted on text or on its UTF-8 bytes', () => {
    fc.assert(fc.property(fc.json(), (j) => jsonDepth(j) === jsonDepth(new TextEncoder().encode(j))))
  })
})
