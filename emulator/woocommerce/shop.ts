/**
 * @module emulator/woocommerce/shop: the state of an emulated WooCommerce 10.0 shop (products,
 * variations, orders, webhooks) and how it renders them, following ../shared/woocommerce/CONTRACT.md
 * and its samples. No HTTP here: server.ts routes requests onto these methods.
 */

export type ProductType = 'simple' | 'variable' | 'variation' | 'grouped' | 'external'
export type Backorders = 'no' | 'notify' | 'yes'

export interface ProductRecord {
  id: number
  name: string
  slug: string
  type: ProductType
  parentId: number
  sku: string
  manageStock: boolean
  stockQuantity: number | null
  /** Only used when stock is not managed. */
  stockStatus: 'instock' | 'outofstock' | 'onbackorder'
  backorders: Backorders
  lowStockAmount: number | null
  regularPrice: string
  status: 'publish' | 'draft' | 'private' | 'pending'
  /** Variation: its attribute values; variable: the attribute with its options. */
  attributes: Array<{ name: string; option?: string; options?: string[] }>
  totalSales: number
  createdAt: number
  modifiedAt: number
}

export interface OrderLine {
  id: number
  productId: number
  variationId: number
  quantity: number
  sku: string
  name: string
  price: number
  parentName: string | null
  attrs: Array<{ key: string; value: string }>
  /** `_reduced_stock`: units this line still holds taken from stock; null when the meta is absent. */
  reducedStock: number | null
  /** `_restock_refunded_items`: units restocking refunds put back so far (cumulative; 0 = absent). */
  restockRefunded: number
  /** Units refunded on this line so far (with or without restock). */
  refundedQty: number
}

export interface RefundRecord {
  id: number
  amount: number
  reason: string
  restocked: boolean
  lines: Array<{ lineId: number; quantity: number; refundTotal: number }>
  createdAt: number
}

export interface OrderRecord {
  id: number
  status: string
  orderKey: string
  billing: Record<string, string>
  lines: OrderLine[]
  stockReduced: boolean
  refunds: RefundRecord[]
  notes: string[]
  createdAt: number
  modifiedAt: number
  paidAt: number | null
  completedAt: number | null
}

export interface WebhookRecord {
  id: number
  name: string
  status: 'active' | 'paused' | 'disabled'
  topic: string
  deliveryUrl: string
  secret: string
  failureCount: number
  createdAt: number
  modifiedAt: number
}

export const ORDER_STATUSES = ['pending', 'processing', 'on-hold', 'completed', 'cancelled', 'refunded', 'failed', 'checkout-draft'] as const
const REDUCING = new Set(['processing', 'on-hold', 'completed'])

export const TOPIC_HOOKS: Readonly<Record<string, string[]>> = {
  'order.created': ['woocommerce_new_order'],
  'order.updated': ['woocommerce_update_order', 'woocommerce_order_refunded'],
  'order.deleted': ['wp_trash_post'],
  'product.created': ['woocommerce_process_product_meta', 'woocommerce_new_product', 'woocommerce_new_product_variation'],
  'product.updated': ['woocommerce_process_product_meta', 'woocommerce_update_product', 'woocommerce_update_product_variation'],
  'product.deleted': ['wp_trash_post'],
}

/** `YYYY-MM-DDTHH:MM:SS`, no zone (the shop runs in UTC, so local and GMT agree). */
export function wcDate(ms: number | null): string | null {
  return ms === null ? null : new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)
}

function slugify(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
}

const allow = { allow: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] }

/** What the shop does that the outside should hear about (webhooks, test probes). */
export interface ShopListener {
  productUpdated?(id: number): void
  orderCreated?(id: number): void
  orderUpdated?(id: number): void
  /** A product's or variation's managed quantity changed (any cause). */
  stockChanged?(p: ProductRecord, before: number | null): void
}

export class Shop {
  readonly products = new Map<number, ProductRecord>()
  readonly orders = new Map<number, OrderRecord>()
  readonly webhooks = new Map<number, WebhookRecord>()
  #nextPostId = 10
  #nextWebhookId = 1
  #nextLineId = 1
  readonly listeners: ShopListener[] = []

  homeUrl: string
  readonly now: () => number

  constructor(homeUrl: string, now: () => number = Date.now) {
    this.homeUrl = homeUrl
    this.now = now
  }

  #emit<K extends keyof ShopListener>(k: K, ...args: Parameters<NonNullable<ShopListener[K]>>): void {
    for (const l of this.listeners) (l[k] as ((...a: unknown[]) => void) | undefined)?.(...args)
  }

  // ---------------------------------------------------------------------------------- products

  skuTaken(sku: string, exceptId?: number): ProductRecord | undefined {
    if (sku === '') return undefined
    const low = sku.toLowerCase()
    for (const p of this.products.values()) if (p.id !== exceptId && p.sku.toLowerCase() === low) return p
    return undefined
  }

  /** Test and seed helper: a product or variation straight into the catalogue. */
  addProduct(p: Partial<ProductRecord> & { name: string }): ProductRecord {
    const now = this.now()
    const rec: ProductRecord = {
      id: this.#nextPostId++,
      name: p.name,
      slug: p.slug ?? slugify(p.name),
      type: p.type ?? 'simple',
      parentId: p.parentId ?? 0,
      sku: p.sku ?? '',
      manageStock: p.manageStock ?? (p.stockQuantity !== undefined && p.stockQuantity !== null),
      stockQuantity: p.stockQuantity ?? null,
      stockStatus: p.stockStatus ?? 'instock',
      backorders: p.backorders ?? 'no',
      lowStockAmount: p.lowStockAmount ?? null,
      regularPrice: p.regularPrice ?? '10.00',
      status: p.status ?? 'publish',
      attributes: p.attributes ?? [],
      totalSales: 0,
      createdAt: now,
      modifiedAt: now,
    }
    if (!rec.manageStock) rec.stockQuantity = null
    this.products.set(rec.id, rec)
    return rec
  }

  children(parentId: number): ProductRecord[] {
    return [...this.products.values()].filter((p) => p.type === 'variation' && p.parentId === parentId)
  }

  /** The record that holds the stock a variation sells from ("parent" managed stock). */
  stockHolder(p: ProductRecord): ProductRecord {
    if (p.type === 'variation' && !p.manageStock) {
      const parent = this.products.get(p.parentId)
      if (parent?.manageStock) return parent
    }
    return p
  }

  stockStatusOf(p: ProductRecord): 'instock' | 'outofstock' | 'onbackorder' {
    const h = this.stockHolder(p)
    if (h.manageStock) {
      const q = h.stockQuantity ?? 0
      if (q > 0) return 'instock'
      return h.backorders === 'no' ? 'outofstock' : 'onbackorder'
    }
    if (p.type === 'variable') {
      const kids = this.children(p.id)
      return kids.some((k) => this.stockStatusOf(k) === 'instock') ? 'instock' : 'outofstock'
    }
    return p.stockStatus
  }

  /** Set a managed quantity (any cause), recording the change for listeners. */
  setQuantity(p: ProductRecord, q: number | null): void {
    const before = p.stockQuantity
    p.stockQuantity = q
    p.modifiedAt = this.now()
    if (before !== q) this.#emit('stockChanged', p, before)
  }

  /**
   * Apply an update body to a product or variation (single PUT after validation, or a batch item
   * with its silent coercion already done). Fires product.updated, even for a no-op.
   */
  applyUpdate(p: ProductRecord, body: Record<string, unknown>): void {
    if (typeof body.name === 'string') p.name = body.name
    if (typeof body.sku === 'string') p.sku = body.sku
    if (typeof body.regular_price === 'string') p.regularPrice = body.regular_price
    if (body.backorders === 'no' || body.backorders === 'notify' || body.backorders === 'yes') p.backorders = body.backorders
    if (body.status === 'publish' || body.status === 'draft' || body.status === 'private' || body.status === 'pending') p.status = body.status
    if (typeof body.manage_stock === 'boolean') p.manageStock = body.manage_stock
    if (!p.manageStock) {
      if (p.stockQuantity !== null) this.setQuantity(p, null)
      const ss = body.stock_status
      if (ss === 'instock' || ss === 'outofstock' || ss === 'onbackorder') p.stockStatus = ss
    } else if ('stock_quantity' in body) {
      this.setQuantity(p, body.stock_quantity === null ? 0 : (body.stock_quantity as number))
    } else if (p.stockQuantity === null) {
      this.setQuantity(p, 0)
    }
    p.modifiedAt = this.now()
    this.#emit('productUpdated', p.id)
  }

  deleteProduct(p: ProductRecord): void {
    for (const c of this.children(p.id)) this.products.delete(c.id)
    this.products.delete(p.id)
  }

  #links(self: string, collection: string, up?: string) {
    return {
      self: [{ href: `${this.homeUrl}/wp-json/wc/v3/${self}`, targetHints: allow }],
      collection: [{ href: `${this.homeUrl}/wp-json/wc/v3/${collection}` }],
      ...(up ? { up: [{ href: `${this.homeUrl}/wp-json/wc/v3/${up}` }] } : {}),
    }
  }

  #stockFields(p: ProductRecord) {
    const h = this.stockHolder(p)
    const inherits = h !== p
    return {
      manage_stock: inherits ? ('parent' as const) : p.manageStock,
      stock_quantity: h.manageStock ? h.stockQuantity : null,
      backorders: h.backorders,
      backorders_allowed: h.backorders !== 'no',
      backordered: h.manageStock && (h.stockQuantity ?? 0) <= 0 && h.backorders !== 'no',
    }
  }

  #parentName(p: ProductRecord): string {
    const parent = this.products.get(p.parentId)
    const attrs = p.attributes.map((a) => a.option ?? '').filter(Boolean)
    return parent ? `${parent.name}${attrs.length ? ` - ${attrs.join(', ')}` : ''}` : p.name
  }

  /** The product schema (GET /products/{id}, lists, webhook bodies); a variation too, with type "variation". */
  renderProduct(p: ProductRecord): Record<string, unknown> {
    const isVar = p.type === 'variation'
    const parent = isVar ? this.products.get(p.parentId) : undefined
    const name = isVar ? this.#parentName(p) : p.name
    const price = p.type === 'variable' ? '' : p.regularPrice
    const s = this.#stockFields(p)
    const permalink = isVar && parent ? `${this.homeUrl}/product/${parent.slug}/?${p.attributes.map((a) => `attribute_${slugify(a.name)}=${a.option ?? ''}`).join('&')}` : `${this.homeUrl}/product/${p.slug}/`
    const out: Record<string, unknown> = {
      id: p.id,
      name,
      slug: isVar ? slugify(name) : p.slug,
      permalink,
      date_created: wcDate(p.createdAt),
      date_created_gmt: wcDate(p.createdAt),
      date_modified: wcDate(p.modifiedAt),
      date_modified_gmt: wcDate(p.modifiedAt),
      type: p.type,
      status: p.status,
      featured: false,
      catalog_visibility: 'visible',
      description: '',
      short_description: '',
      sku: p.sku,
      price,
      regular_price: price,
      sale_price: '',
      date_on_sale_from: null,
      date_on_sale_from_gmt: null,
      date_on_sale_to: null,
      date_on_sale_to_gmt: null,
      on_sale: false,
      purchasable: p.type !== 'variable',
      total_sales: isVar ? String(p.totalSales) : p.totalSales,
      virtual: false,
      downloadable: false,
      downloads: [],
      download_limit: -1,
      download_expiry: -1,
      external_url: '',
      button_text: '',
      tax_status: 'taxable',
      tax_class: '',
      manage_stock: s.manage_stock,
      stock_quantity: s.stock_quantity,
      backorders: s.backorders,
      backorders_allowed: s.backorders_allowed,
      backordered: s.backordered,
      low_stock_amount: p.lowStockAmount,
      sold_individually: false,
      weight: '',
      dimensions: { length: '', width: '', height: '' },
      shipping_required: true,
      shipping_taxable: true,
      shipping_class: '',
      shipping_class_id: 0,
      reviews_allowed: !isVar,
      average_rating: isVar ? '0.00' : '0',
      rating_count: 0,
      upsell_ids: [],
      cross_sell_ids: [],
      parent_id: p.parentId,
      purchase_note: '',
      categories: isVar ? [] : [{ id: 15, name: 'Uncategorized', slug: 'uncategorized' }],
      brands: [],
      tags: [],
      images: [],
      attributes: isVar
        ? p.attributes.map((a) => ({ id: 0, name: a.name, slug: slugify(a.name), option: a.option ?? '' }))
        : p.attributes.map((a, i) => ({ id: 0, name: a.name, slug: a.name, position: i, visible: true, variation: true, options: a.options ?? [] })),
      default_attributes: [],
      variations: p.type === 'variable' ? this.children(p.id).map((c) => c.id) : [],
      grouped_products: [],
      menu_order: 0,
      price_html: price ? `<span class="woocommerce-Price-amount amount"><bdi><span class="woocommerce-Price-currencySymbol">&#36;</span>${price}</bdi></span>` : '',
      related_ids: [],
      meta_data: [],
      stock_status: this.stockStatusOf(p),
      has_options: p.type === 'variable',
      post_password: '',
      global_unique_id: '',
    }
    if (!isVar) {
      out.permalink_template = `${this.homeUrl}/product/%pagename%/`
      out.generated_slug = p.slug
    }
    out._links = isVar ? this.#links(`products/${p.id}`, 'products', `products/${p.parentId}`) : this.#links(`products/${p.id}`, 'products')
    return out
  }

  /** The variation schema (/products/{parent}/variations[/id]). */
  renderVariation(p: ProductRecord): Record<string, unknown> {
    const s = this.#stockFields(p)
    return {
      id: p.id,
      type: 'variation',
      date_created: wcDate(p.createdAt),
      date_created_gmt: wcDate(p.createdAt),
      date_modified: wcDate(p.modifiedAt),
      date_modified_gmt: wcDate(p.modifiedAt),
      description: '',
      permalink: `${this.homeUrl}/product/${this.products.get(p.parentId)?.slug ?? ''}/?${p.attributes.map((a) => `attribute_${slugify(a.name)}=${a.option ?? ''}`).join('&')}`,
      sku: p.sku,
      global_unique_id: '',
      price: p.regularPrice,
      regular_price: p.regularPrice,
      sale_price: '',
      date_on_sale_from: null,
      date_on_sale_from_gmt: null,
      date_on_sale_to: null,
      date_on_sale_to_gmt: null,
      on_sale: false,
      status: p.status,
      purchasable: true,
      virtual: false,
      downloadable: false,
      downloads: [],
      download_limit: -1,
      download_expiry: -1,
      tax_status: 'taxable',
      tax_class: '',
      manage_stock: s.manage_stock,
      stock_quantity: s.stock_quantity,
      stock_status: this.stockStatusOf(p),
      backorders: s.backorders,
      backorders_allowed: s.backorders_allowed,
      backordered: s.backordered,
      low_stock_amount: p.lowStockAmount,
      weight: '',
      dimensions: { length: '', width: '', height: '' },
      shipping_class: '',
      shipping_class_id: 0,
      image: null,
      attributes: p.attributes.map((a) => ({ id: 0, name: a.name, slug: slugify(a.name), option: a.option ?? '' })),
      menu_order: 0,
      meta_data: [],
      name: p.attributes.map((a) => a.option ?? '').join(', ') || p.name,
      parent_id: p.parentId,
      _links: this.#links(`products/${p.parentId}/variations/${p.id}`, `products/${p.parentId}/variations`, `products/${p.parentId}`),
    }
  }

  // ------------------------------------------------------------------------------------ orders

  /** Create an order (REST semantics: no availability check; stock reduced if it starts paid). */
  createOrder(input: { status?: string; setPaid?: boolean; billing?: Record<string, string>; lines: Array<{ product: ProductRecord; quantity: number }> }): OrderRecord {
    const now = this.now()
    const id = this.#nextPostId++
    const lines: OrderLine[] = input.lines.map(({ product, quantity }) => {
      const isVar = product.type === 'variation'
      const parent = isVar ? this.products.get(product.parentId) : undefined
      const price = Number(product.regularPrice) || 0
      return {
        id: this.#nextLineId++,
        productId: isVar ? product.parentId : product.id,
        variationId: isVar ? product.id : 0,
        quantity,
        sku: product.sku,
        name: isVar ? this.#parentName(product) : product.name,
        price,
        parentName: parent ? parent.name : null,
        attrs: product.attributes.map((a) => ({ key: slugify(a.name), value: a.option ?? '' })),
        reducedStock: null,
        restockRefunded: 0,
        refundedQty: 0,
      }
    })
    const order: OrderRecord = {
      id,
      status: 'pending',
      orderKey: `wc_order_${Math.random().toString(36).slice(2, 15)}`,
      billing: { first_name: '', last_name: '', company: '', address_1: '', address_2: '', city: '', state: '', postcode: '', country: '', email: '', phone: '', ...(input.billing ?? {}) },
      lines,
      stockReduced: false,
      refunds: [],
      notes: [],
      createdAt: now,
      modifiedAt: now,
      paidAt: null,
      completedAt: null,
    }
    this.orders.set(id, order)
    const initial = input.setPaid ? 'processing' : (input.status ?? 'pending')
    if (input.setPaid) order.paidAt = now
    this.#emit('orderCreated', id)
    this.#enterStatus(order, initial)
    this.#emit('orderUpdated', id)
    return order
  }

  /** Move an order to a status, with WooCommerce's stock side effects. Fires order.updated. */
  setOrderStatus(order: OrderRecord, status: string): void {
    if (status !== order.status) this.#enterStatus(order, status)
    order.modifiedAt = this.now()
    this.#emit('orderUpdated', order.id)
  }

  #enterStatus(order: OrderRecord, status: string): void {
    order.status = status
    order.modifiedAt = this.now()
    if (status === 'completed') order.completedAt = order.modifiedAt
    if (REDUCING.has(status) && !order.stockReduced) {
      order.stockReduced = true
      order.notes.push(`Stock levels reduced: ${this.#moveStock(order, -1)}`)
    } else if (status === 'cancelled' && order.stockReduced) {
      order.stockReduced = false
      order.notes.push(`Stock levels increased: ${this.#moveStock(order, +1)}`)
    }
  }

  /**
   * wc_reduce_stock_levels / wc_increase_stock_levels: a reduction takes each line's quantity and
   * records it as `_reduced_stock`; a cancellation puts back what `_reduced_stock` still holds
   * (the quantity less restocking refunds) and removes the meta.
   */
  #moveStock(order: OrderRecord, sign: 1 | -1): string {
    const parts: string[] = []
    for (const line of order.lines) {
      const units = sign < 0 ? (line.reducedStock === null ? line.quantity : 0) : (line.reducedStock ?? 0)
      const moved = units > 0 ? this.#moveLine(line, sign * units) : null
      if (sign < 0 && moved !== null) line.reducedStock = units
      if (sign > 0) line.reducedStock = null
      if (moved) parts.push(moved)
    }
    return parts.join(', ')
  }

  /** Move a line's product stock by `delta` (negative: taken); the note part, or null when the product does not manage stock. */
  #moveLine(line: OrderLine, delta: number): string | null {
    const p = this.products.get(line.variationId || line.productId)
    if (!p) return null
    const holder = this.stockHolder(p)
    if (!holder.manageStock) return null
    const before = holder.stockQuantity ?? 0
    this.setQuantity(holder, before + delta)
    if (delta < 0) p.totalSales += -delta
    this.#emit('productUpdated', holder.id)
    if (holder !== p) this.#emit('productUpdated', p.id)
    return `${line.name} (${p.sku}) ${before}→${holder.stockQuantity}`
  }

  /**
   * POST /orders/{id}/refunds. With `restock` (the REST default, api_restock), each refunded line
   * whose stock was reduced gets its units back (wc_restock_refunded_items): `_reduced_stock`
   * shrinks and `_restock_refunded_items` grows by the quantity. A refund of the whole remaining
   * total moves the order to `refunded` (no stock effect of its own). product.updated fires for
   * the restocked items, then order.updated.
   */
  createRefund(order: OrderRecord, input: { amount: number; reason: string; restock: boolean; lines: Array<{ line: OrderLine; quantity: number; refundTotal: number }> }): RefundRecord {
    const refund: RefundRecord = { id: this.#nextPostId++, amount: input.amount, reason: input.reason, restocked: input.restock, lines: input.lines.map((l) => ({ lineId: l.line.id, quantity: l.quantity, refundTotal: l.refundTotal })), createdAt: this.now() }
    order.refunds.push(refund)
    for (const { line, quantity } of input.lines) {
      line.refundedQty += quantity
      if (!input.restock || quantity <= 0 || !line.reducedStock) continue
      const p = this.products.get(line.variationId || line.productId)
      const holder = p ? this.stockHolder(p) : undefined
      const before = holder?.stockQuantity ?? 0
      if (this.#moveLine(line, quantity) === null) continue
      line.reducedStock -= quantity
      line.restockRefunded += quantity
      order.notes.push(`Item #${line.variationId || line.productId} stock increased from ${before} to ${before + quantity}.`)
    }
    order.modifiedAt = this.now()
    const refunded = order.refunds.reduce((n, r) => n + r.amount, 0)
    if (refunded >= this.orderTotal(order) - 0.005 && order.status !== 'refunded') this.#enterStatus(order, 'refunded')
    this.#emit('orderUpdated', order.id)
    return refund
  }

  /**
   * A line's quantity edited on an order that already reduced stock moves the difference
   * (wc_maybe_adjust_line_item_product_stock): the line should hold quantity − restocked-refunded
   * units; `_reduced_stock` is set to that. Orders that took no stock just change the number.
   */
  setLineQuantity(order: OrderRecord, line: OrderLine, quantity: number): void {
    if (REDUCING.has(order.status) && line.reducedStock !== null) {
      const want = quantity - line.restockRefunded
      const diff = want - line.reducedStock
      if (diff !== 0 && this.#moveLine(line, -diff) !== null) {
        order.notes.push(`Adjusted stock: ${line.name} (${line.sku}) ${line.reducedStock}→${want}`)
        line.reducedStock = want
      }
    }
    line.quantity = quantity
    order.modifiedAt = this.now()
  }

  orderTotal(o: OrderRecord): number {
    return o.lines.reduce((s, l) => s + l.price * l.quantity, 0)
  }

  renderRefund(o: OrderRecord, r: RefundRecord): Record<string, unknown> {
    return {
      id: r.id,
      date_created: wcDate(r.createdAt),
      date_created_gmt: wcDate(r.createdAt),
      amount: r.amount.toFixed(2),
      reason: r.reason,
      refunded_by: 1,
      refunded_payment: false,
      meta_data: [],
      line_items: r.lines.map((rl, i) => {
        const l = o.lines.find((x) => x.id === rl.lineId)!
        return {
          id: 1000 + r.id * 10 + i,
          name: l.name,
          product_id: l.productId,
          variation_id: l.variationId,
          quantity: -rl.quantity,
          tax_class: '',
          subtotal: (-rl.refundTotal).toFixed(2),
          subtotal_tax: '0.00',
          total: (-rl.refundTotal).toFixed(2),
          total_tax: '0.00',
          taxes: [],
          meta_data: [{ id: 1, key: '_refunded_item_id', value: String(l.id), display_key: '_refunded_item_id', display_value: String(l.id) }],
          sku: l.sku,
          price: -l.price,
        }
      }),
      shipping_lines: [],
      tax_lines: [],
      fee_lines: [],
      _links: {
        self: [{ href: `${this.homeUrl}/wp-json/wc/v3/orders/${o.id}/refunds/${r.id}`, targetHints: allow }],
        collection: [{ href: `${this.homeUrl}/wp-json/wc/v3/orders/${o.id}/refunds` }],
        up: [{ href: `${this.homeUrl}/wp-json/wc/v3/orders/${o.id}` }],
      },
    }
  }

  renderOrder(o: OrderRecord): Record<string, unknown> {
    const total = this.orderTotal(o).toFixed(2)
    return {
      id: o.id,
      parent_id: 0,
      status: o.status,
      currency: 'USD',
      version: '10.0.2',
      prices_include_tax: false,
      date_created: wcDate(o.createdAt),
      date_modified: wcDate(o.modifiedAt),
      discount_total: '0.00',
      discount_tax: '0.00',
      shipping_total: '0.00',
      shipping_tax: '0.00',
      cart_tax: '0.00',
      total,
      total_tax: '0.00',
      customer_id: 0,
      order_key: o.orderKey,
      billing: o.billing,
      shipping: { first_name: '', last_name: '', company: '', address_1: '', address_2: '', city: '', state: '', postcode: '', country: '', phone: '' },
      payment_method: '',
      payment_method_title: '',
      transaction_id: '',
      customer_ip_address: '',
      customer_user_agent: '',
      created_via: 'rest-api',
      customer_note: '',
      date_completed: wcDate(o.completedAt),
      date_paid: wcDate(o.paidAt),
      cart_hash: '',
      number: String(o.id),
      meta_data: [],
      line_items: o.lines.map((l) => ({
        id: l.id,
        name: l.name,
        product_id: l.productId,
        variation_id: l.variationId,
        quantity: l.quantity,
        tax_class: '',
        subtotal: (l.price * l.quantity).toFixed(2),
        subtotal_tax: '0.00',
        total: (l.price * l.quantity).toFixed(2),
        total_tax: '0.00',
        taxes: [],
        meta_data: [
          ...l.attrs.map((a, i) => ({ id: i + 1, key: a.key, value: a.value, display_key: a.key.charAt(0).toUpperCase() + a.key.slice(1), display_value: a.value })),
          ...(l.reducedStock === null ? [] : [{ id: 100 + l.id * 2, key: '_reduced_stock', value: String(l.reducedStock), display_key: '_reduced_stock', display_value: String(l.reducedStock) }]),
          ...(l.restockRefunded > 0 ? [{ id: 101 + l.id * 2, key: '_restock_refunded_items', value: String(l.restockRefunded), display_key: '_restock_refunded_items', display_value: String(l.restockRefunded) }] : []),
        ],
        sku: l.sku,
        price: l.price,
        image: l.variationId ? { id: 0, src: '' } : { id: '', src: '' },
        parent_name: l.parentName,
      })),
      tax_lines: [],
      shipping_lines: [],
      fee_lines: [],
      coupon_lines: [],
      refunds: [...o.refunds].reverse().map((r) => ({ id: r.id, reason: r.reason, total: (-r.amount).toFixed(2) })),
      payment_url: `${this.homeUrl}/checkout/order-pay/${o.id}/?pay_for_order=true&key=${o.orderKey}`,
      is_editable: o.status === 'pending' || o.status === 'on-hold',
      needs_payment: o.status === 'pending' || o.status === 'failed',
      needs_processing: true,
      date_created_gmt: wcDate(o.createdAt),
      date_modified_gmt: wcDate(o.modifiedAt),
      date_completed_gmt: wcDate(o.completedAt),
      date_paid_gmt: wcDate(o.paidAt),
      currency_symbol: '$',
      _links: {
        self: [{ href: `${this.homeUrl}/wp-json/wc/v3/orders/${o.id}`, targetHints: allow }],
        collection: [{ href: `${this.homeUrl}/wp-json/wc/v3/orders` }],
        email_templates: [{ embeddable: true, href: `${this.homeUrl}/wp-json/wc/v3/orders/${o.id}/actions/email_templates` }],
      },
    }
  }

  // ---------------------------------------------------------------------------------- webhooks

  createWebhook(w: { name?: string; topic: string; deliveryUrl: string; secret?: string; status?: WebhookRecord['status'] }, randomSecret: () => string): WebhookRecord {
    const now = this.now()
    const rec: WebhookRecord = {
      id: this.#nextWebhookId++,
      name: w.name ?? `Webhook created on ${new Date(now).toUTCString()}`,
      status: w.status ?? 'active',
      topic: w.topic,
      deliveryUrl: w.deliveryUrl,
      secret: w.secret ?? randomSecret(),
      failureCount: 0,
      createdAt: now,
      modifiedAt: now,
    }
    this.webhooks.set(rec.id, rec)
    return rec
  }

  renderWebhook(w: WebhookRecord): Record<string, unknown> {
    const [resource, event] = w.topic.split('.') as [string, string]
    return {
      id: w.id,
      name: w.name,
      status: w.status,
      topic: w.topic,
      resource,
      event,
      hooks: TOPIC_HOOKS[w.topic] ?? [],
      delivery_url: w.deliveryUrl,
      date_created: wcDate(w.createdAt),
      date_created_gmt: wcDate(w.createdAt),
      date_modified: wcDate(w.modifiedAt),
      date_modified_gmt: wcDate(w.modifiedAt),
      _links: this.#links(`webhooks/${w.id}`, 'webhooks'),
    }
  }
}
