/**
 * @module http/routes/providers: inbound providers (admin scope, #14): add, list, show, change,
 * remove; the built-in presets; try a mapping on a payload without changing anything; and the
 * items held for unknown SKUs, resolved by mapping the SKU. Secrets are never returned.
 */
import { createRoute, z } from '@hono/zod-openapi'
import { invalid } from '../../domain/errors.js'
import { PROVIDER_PRESETS } from '../../service/provider-presets.js'
import { addProvider, changeProvider, findInboundProvider, listHeldPage, listProviderPage, providerView, removeProvider, resolveHeld, showProvider, testProviderPayload, UNKNOWN_SKU_POLICIES, type ProviderOptions } from '../../service/providers.js'
import { DomainError } from '../../domain/errors.js'
import type { App, AppDeps } from '../env.js'
import { requireScope } from '../middleware/api-key.js'
import { depthProblem, jsonDepth, MAX_JSON_DEPTH } from '../middleware/body.js'
import { problem } from '../problem.js'
import { contextOf } from '../request-context.js'
import { ok, PROBLEMS } from '../responses.js'
import { envelope, PageQuery, pagedEnvelope, pagedJson, SkuSchema } from '../schemas.js'

const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/
const NO_CONTROL = /^[^\u0000-\u001f\u007f]*$/

const ProviderSchema = z
  .object({
    name: z.string(),
    origin: z.enum(['environment', 'database']),
    header: z.string(),
    encoding: z.string(),
    prefix: z.string(),
    warehouses: z.array(z.number().int()).nullable(),
    mapping: z.string(),
    preset: z.string().nullable(),
    unknown_sku: z.enum(UNKNOWN_SKU_POLICIES),
    created_at: z.string().nullable(),
    updated_at: z.string().nullable(),
  })
  .openapi('Provider')

const Warehouses = z.array(z.union([z.string().min(1).max(50), z.number().int().positive()])).min(1).max(100)
const ProviderInput = z
  .strictObject({
    name: z.string().regex(NAME, 'must be 1-64 characters: a-z 0-9 _ -').openapi({ example: 'acme_wms' }),
    secret: z.string().min(16).max(500).regex(NO_CONTROL, 'must not contain control characters').openapi({ description: 'The HMAC secret the provider signs with; never shown again' }),
    header: z.string().regex(/^[A-Za-z0-9-]{1,100}$/).optional().openapi({ description: 'Header carrying the signature (default: the preset\u2019s, else X-Webhook-Signature)' }),
    encoding: z.enum(['hex', 'base64']).optional(),
    prefix: z.string().max(20).regex(NO_CONTROL).optional().openapi({ example: 'sha256=' }),
    warehouses: Warehouses.nullable().optional().openapi({ description: 'Warehouse codes or ids the provider may move stock in; absent or null: all' }),
    mapping: z.string().min(1).max(50_000).optional().openapi({ description: 'JSONata: payload → movements (POST /stock/update fields), or {event_id, movements}' }),
    preset: z.string().max(40).optional().openapi({ description: `One of ${Object.keys(PROVIDER_PRESETS).join(', ')}: its mapping (and signature header) are copied` }),
    unknown_sku: z.enum(UNKNOWN_SKU_POLICIES).optional().openapi({ description: 'reject (default), create, or hold until an admin maps the SKU' }),
  })
  .openapi('ProviderInput')
const ProviderPatch = ProviderInput.omit({ name: true }).partial().openapi('ProviderPatch')
const NameParam = z.object({ name: z.string().regex(NAME).openapi({ param: { name: 'name', in: 'path' }, example: 'acme_wms' }) })
const ResolveBody = z
  .strictObject({
    external_sku: SkuSchema.openapi({ description: 'The SKU as the provider sends it' }),
    sku: SkuSchema.optional().openapi({ description: 'Map it to this registered SKU (remembered for later payloads)' }),
    create: z.literal(true).optional().openapi({ description: 'Register it as a new SKU instead' }),
    discard: z.literal(true).optional().openapi({ description: 'Drop its held items instead' }),
  })
  .openapi('ResolveHeld')

type Input = Partial<z.infer<typeof ProviderInput>>
const inputOf = (b: Input) => ({
  ...(b.secret !== undefined ? { secret: b.secret } : {}),
  ...(b.header !== undefined ? { header: b.header } : {}),
  ...(b.encoding !== undefined ? { encoding: b.encoding } : {}),
  ...(b.prefix !== undefined ? { prefix: b.prefix } : {}),
  ...(b.warehouses !== undefined ? { warehouses: b.warehouses } : {}),
  ...(b.mapping !== undefined ? { mapping: b.mapping } : {}),
  ...(b.preset !== undefined ? { preset: b.preset } : {}),
  ...(b.unknown_sku !== undefined ? { unknownSku: b.unknown_sku } : {}),
})

export function registerProviderRoutes(app: App, deps: AppDeps, opts: ProviderOptions): void {
  const admin = requireScope('admin')
  const tags = ['providers']
  const json = <T extends z.ZodTypeAny>(schema: T) => ({ content: { 'application/json': { schema } }, required: true })
  const any = ok(envelope(z.any()))

  app.openapi(
    createRoute({ method: 'get', path: '/providers/presets', tags, summary: 'Built-in mappings to copy: the seed\u2019s three providers and ShipHero', middleware: [admin] as const, responses: { 200: any, 401: PROBLEMS[401], 403: PROBLEMS[403] } }),
    async (c) => c.json({ success: true as const, data: Object.values(PROVIDER_PRESETS) }, 200),
  )
  app.openapi(
    createRoute({ method: 'post', path: '/providers', tags, summary: 'Add an inbound provider (signature rule + JSONata mapping)', middleware: [admin] as const, request: { body: json(ProviderInput) }, responses: { 201: ok(envelope(ProviderSchema), 'Created'), 401: PROBLEMS[401], 403: PROBLEMS[403], 409: PROBLEMS[409], 422: PROBLEMS[422] } }),
    async (c) => {
      const b = c.req.valid('json')
      const p = await addProvider(deps, opts, { ...inputOf(b), name: b.name, secret: b.secret })
      c.header('location', `/inventory/v1/providers/${p.name}`)
      const { secret: _secret, ...view } = p
      return c.json({ success: true as const, data: providerView(view) }, 201)
    },
  )
  app.openapi(createRoute({ method: 'get', path: '/providers', tags, summary: 'Providers by name, stored or from the environment (never secrets), cursor-paged', middleware: [admin] as const, request: { query: z.strictObject(PageQuery) }, responses: { 200: ok(pagedEnvelope(ProviderSchema)), 401: PROBLEMS[401], 403: PROBLEMS[403], 422: PROBLEMS[422] } }), async (c) =>
    c.json(pagedJson(await listProviderPage(deps, opts, c.req.valid('query')), (v) => v), 200),
  )
  app.openapi(createRoute({ method: 'get', path: '/providers/{name}', tags, summary: 'One provider', middleware: [admin] as const, request: { params: NameParam }, responses: { 200: ok(envelope(ProviderSchema)), 401: PROBLEMS[401], 403: PROBLEMS[403], 404: PROBLEMS[404] } }), async (c) =>
    c.json({ success: true as const, data: await showProvider(deps, opts, c.req.valid('param').name) }, 200),
  )
  app.openapi(
    createRoute({ method: 'patch', path: '/providers/{name}', tags, summary: 'Change a stored provider (secret, signature rule, mapping, policy)', middleware: [admin] as const, request: { params: NameParam, body: json(ProviderPatch) }, responses: { 200: ok(envelope(ProviderSchema)), 401: PROBLEMS[401], 403: PROBLEMS[403], 404: PROBLEMS[404], 422: PROBLEMS[422] } }),
    async (c) => {
      const { secret: _secret, ...view } = await changeProvider(deps, opts, c.req.valid('param').name, inputOf(c.req.valid('json')))
      return c.json({ success: true as const, data: providerView(view) }, 200)
    },
  )
  app.openapi(createRoute({ method: 'delete', path: '/providers/{name}', tags, summary: 'Remove a stored provider (its webhooks are refused from then on)', middleware: [admin] as const, request: { params: NameParam }, responses: { 204: { description: 'Removed' }, 401: PROBLEMS[401], 403: PROBLEMS[403], 404: PROBLEMS[404] } }), async (c) => {
    await removeProvider(deps, opts, c.req.valid('param').name)
    return c.body(null, 204)
  })
  app.openapi(
    createRoute({
      method: 'post',
      path: '/providers/{name}/test',
      tags,
      summary: 'The movements a payload would produce, resolved against the catalogue; changes nothing',
      description: 'The body is the provider\u2019s payload as it would send it (no signature needed: the caller is an admin).',
      middleware: [admin] as const,
      request: { params: NameParam },
      responses: { 200: { description: '{event_id, movements: [...]}, each with its status: ready, unknown_sku (and the policy), or refused with a code' }, 401: PROBLEMS[401], 403: PROBLEMS[403], 404: PROBLEMS[404], 415: PROBLEMS[415], 422: { ...PROBLEMS[422], description: 'mapping_failed' } },
    }),
    async (c) => {
      const name = c.req.valid('param').name
      const provider = await findInboundProvider(deps, opts, name)
      if (!provider) throw new DomainError('provider_not_found', `No provider called ${name}`, { name })
      if (!/^application\/json\b/i.test(c.req.header('content-type') ?? '')) return problem(c, 'unsupported_media_type', 'The body must be application/json: the payload to try')
      const raw = new Uint8Array(await c.req.arrayBuffer())
      const depth = jsonDepth(raw)
      if (depth > MAX_JSON_DEPTH) return depthProblem(c, depth)
      let text: string
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(raw)
        JSON.parse(text)
      } catch {
        return problem(c, 'malformed_json', 'The body is not valid JSON')
      }
      return c.json({ success: true as const, data: await testProviderPayload(deps, provider, text) }, 200)
    },
  )
  app.openapi(
    createRoute({ method: 'get', path: '/providers/{name}/held', tags, summary: 'Items held for SKUs this provider sent that are not registered, oldest first, cursor-paged', middleware: [admin] as const, request: { params: NameParam, query: z.object({ external_sku: SkuSchema.optional(), ...PageQuery }) }, responses: { 200: ok(pagedEnvelope(z.any())), 401: PROBLEMS[401], 403: PROBLEMS[403], 404: PROBLEMS[404], 422: PROBLEMS[422] } }),
    async (c) => {
      const q = c.req.valid('query')
      return c.json(pagedJson(await listHeldPage(deps, opts, c.req.valid('param').name, { externalSku: q.external_sku, cursor: q.cursor, limit: q.limit }), (h) => h), 200)
    },
  )
  app.openapi(
    createRoute({
      method: 'post',
      path: '/providers/{name}/held/resolve',
      tags,
      summary: 'Resolve an unknown SKU: map it to ours (or register it, or discard); its held items then apply in order',
      middleware: [admin] as const,
      request: { params: NameParam, body: json(ResolveBody) },
      responses: { 200: any, 401: PROBLEMS[401], 403: PROBLEMS[403], 404: PROBLEMS[404], 422: PROBLEMS[422] },
    }),
    async (c) => {
      const b = c.req.valid('json')
      const ways = [b.sku !== undefined, b.create === true, b.discard === true].filter(Boolean).length
      if (ways !== 1) throw invalid('/sku', 'give exactly one of sku, create or discard')
      const how = b.sku !== undefined ? { sku: b.sku } : b.create ? ({ create: true } as const) : ({ discard: true } as const)
      return c.json({ success: true as const, data: await resolveHeld(deps, opts, c.req.valid('param').name, b.external_sku, how, contextOf(c)) }, 200)
    },
  )
}
