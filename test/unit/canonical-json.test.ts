/**
 * Idempotency records store the hash of a request's canonical JSON: a stored key is matched
 * against requests sent later, possibly to a newer version of the service. So the canonical form
 * must never change. This pins it to the first implementation, kept here as the reference.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonicalJson, hashRequest } from '../../src/service/idempotency.js'

function reference(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${reference(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

describe('canonical JSON of a request', () => {
  it('is the same text as the reference for any JSON-like value, undefined members and elements included', () => {
    const value = fc.letrec((tie) => ({
      leaf: fc.oneof(fc.string(), fc.integer(), fc.double({ noNaN: true }), fc.boolean(), fc.constant(null), fc.constant(undefined)),
      arr: fc.array(tie('any'), { maxLength: 5 }),
      obj: fc.dictionary(fc.string({ maxLength: 6 }), tie('any'), { maxKeys: 5 }),
      any: fc.oneof({ depthSize: 'small' }, tie('leaf'), tie('arr'), tie('obj')),
    })).any
    fc.assert(
      fc.property(value, (v) => {
        expect(canonicalJson(v)).toBe(reference(v))
      }),
      { numRuns: 2000 },
    )
  })

  it('orders keys by code unit and hashes a bulk body independently of key order', () => {
    expect(canonicalJson({ b: 1, a: [1, undefined, { d: 'x', c: null }], Z: true, é: 2 })).toBe('{"Z":true,"a":[1,,{"c":null,"d":"x"}],"b":1,"é":2}')
    expect(hashRequest('op', { items: [{ sku: 'A', quantity: 1 }] })).toBe(hashRequest('op', { items: [{ quantity: 1, sku: 'A' }] }))
  })
})
