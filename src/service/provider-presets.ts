/**
 * @module service/provider-presets: built-in JSONata mappings for known payload formats (#14).
 * A preset is only a starting point: `stockbridge providers add NAME --preset P` copies its
 * mapping into the provider, where it can be changed like any other. Each mapping produces
 * `{ event_id, movements: [...] }` with the field names of `POST /stock/update`; docs/providers.md
 * shows every format with a signed example.
 */
import type { SignatureEncoding } from '../security/provider-signature.js'

export interface ProviderPreset {
  readonly name: string
  readonly description: string
  /** Where the payload format comes from (a public document for real providers). */
  readonly source: string
  readonly header: string
  readonly encoding: SignatureEncoding
  readonly mapping: string
  /** A payload in this format (what the tests sign and send, and the docs show). */
  readonly example: unknown
}

// Unix seconds (number or digit string) or an ISO 8601 instant, as the seed's `timestamp`.
const SEED_INSTANT = `($type(timestamp) = "number" ? $fromMillis(timestamp * 1000) : $contains($string(timestamp), /^[0-9]{1,11}$/) ? $fromMillis($number(timestamp) * 1000) : timestamp)`

// Values shared by every item are bound once: a path from the root ($$) per item costs a lookup each.
const WAREHOUSE_SYSTEM_A = `(
  $at := ${SEED_INSTANT};
  $sync := data.sync_id;
  event_type = "stock_update" ? {
    "event_id": data.transaction_id,
    "movements": [{
      "sku": data.product_code, "warehouse_code": data.warehouse_code, "quantity": data.quantity,
      "change_type": data.change_type, "reference_id": data.transaction_id, "notes": data.notes,
      "observed_at": data.change_type = "sync" ? $at : undefined
    }]
  } :
  event_type = "stock_adjustment" ? {
    "event_id": data.transaction_id,
    "movements": [{
      "sku": data.product_code, "warehouse_code": data.warehouse_code, "quantity": data.quantity,
      "change_type": "adjustment", "reference_id": data.transaction_id, "notes": data.notes
    }]
  } :
  event_type = "inventory_sync" ? {
    "event_id": data.sync_id,
    "movements": [data.items.{
      "sku": product_code, "warehouse_code": warehouse_code, "quantity": quantity,
      "change_type": "sync", "reference_id": $sync, "observed_at": $at
    }]
  } :
  $error("event_type must be stock_update, stock_adjustment or inventory_sync")
)`

const ERP_SYSTEM_B = `(
  $kinds := { "receipt": "restock", "issue": "sale", "count": "sync", "correction": "adjustment" };
  $sent := sent_at;
  $plant := plant;
  {
    "event_id": message_id,
    "movements": [lines.(
      $kind := $lookup($kinds, movement);
      $kind ? {
        "sku": item_no, "warehouse_code": plant ? plant : $plant, "quantity": qty,
        "change_type": $kind, "reference_id": document, "notes": text,
        "observed_at": $kind = "sync" ? $sent : undefined
      } : $error("lines[" & $string(line_no) & "].movement must be receipt, issue, count or correction")
    )]
  }
)`

const SUPPLIER_PORTAL_C = `(
  $warehouse := warehouse; $feed := feed_id; $at := generated_at;
  {
    "event_id": feed_id,
    "movements": [products.{
      "sku": our_sku ? our_sku : supplier_sku,
      "warehouse_code": $warehouse,
      "quantity": available,
      "change_type": "sync",
      "reference_id": $feed,
      "observed_at": $at
    }]
  }
)`

// https://developer.shiphero.com/webhooks/inventory-update-webhook/ : on_hand arrives as a string,
// per SKU, with the warehouse the movement happened in under updated_warehouse. ShipHero signs with
// the app's API secret: base64 HMAC-SHA256 of the body in X-ShipHero-HMAC-SHA256
// (https://developer.shiphero.com/webhooks/). The warehouse code here is ShipHero's warehouse
// `identifier`; give your warehouse that code, or change the mapping.
const SHIPHERO_INVENTORY_UPDATE = `webhook_type = "Inventory Update" or webhook_type = "INVENTORY_UPDATE" or inventory[0].webhook_type = "INVENTORY_UPDATE" ? {
  "movements": [inventory[updated_warehouse].{
    "sku": sku,
    "warehouse_code": updated_warehouse.identifier,
    "quantity": $number(updated_warehouse.on_hand),
    "change_type": "sync",
    "observed_at": $type(timestamp) = "number" ? $fromMillis($round(timestamp * 1000)) : undefined
  }]
} : { "movements": [] }`

export const PROVIDER_PRESETS: Readonly<Record<string, ProviderPreset>> = Object.freeze({
  warehouse_system_a: {
    name: 'warehouse_system_a',
    description: "The seed's warehouse system: stock_update, stock_adjustment and inventory_sync events",
    source: 'seed/000_a25ad641cbb689e0.txt (process_warehouse_a_webhook)',
    header: 'X-Webhook-Signature',
    encoding: 'hex',
    mapping: WAREHOUSE_SYSTEM_A,
    example: {
      event_type: 'inventory_sync',
      timestamp: '2026-12-03T08:00:00Z',
      data: { sync_id: 'SYNC-20261203-0800', items: [{ product_code: 'TEE-001-M', warehouse_code: 'MAIN', quantity: 42 }, { product_code: 'MUG-002', warehouse_code: 'MAIN', quantity: 7 }] },
    },
  },
  erp_system_b: {
    name: 'erp_system_b',
    description: 'An ERP posting goods movements: receipts, issues, counts and corrections per plant',
    source: 'defined in docs/providers.md',
    header: 'X-Webhook-Signature',
    encoding: 'hex',
    mapping: ERP_SYSTEM_B,
    example: {
      message_id: 'ERP-2026-000123',
      sent_at: '2026-12-03T08:00:00Z',
      plant: 'MAIN',
      lines: [
        { line_no: 1, item_no: 'TEE-001-M', movement: 'receipt', qty: 24, document: 'GR-5001' },
        { line_no: 2, item_no: 'MUG-002', movement: 'issue', qty: 2, document: 'DN-7781', text: 'walk-in sale' },
        { line_no: 3, item_no: 'CAP-003', movement: 'count', qty: 40, document: 'PI-12', plant: 'EAST' },
      ],
    },
  },
  supplier_portal_c: {
    name: 'supplier_portal_c',
    description: "A drop-ship supplier's availability feed: absolute counts of what it can ship",
    source: 'defined in docs/providers.md',
    header: 'X-Webhook-Signature',
    encoding: 'hex',
    mapping: SUPPLIER_PORTAL_C,
    example: {
      supplier: 'ACME-SUPPLY',
      feed_id: 'feed-20261203-0800',
      generated_at: '2026-12-03T08:00:00Z',
      warehouse: 'DROPSHIP-ACME',
      products: [
        { supplier_sku: 'ACME-TEE-M', our_sku: 'TEE-001-M', available: 120 },
        { supplier_sku: 'ACME-MUG', available: 15 },
      ],
    },
  },
  shiphero_inventory_update: {
    name: 'shiphero_inventory_update',
    description: 'ShipHero "Inventory Update" webhook: on-hand per SKU in the warehouse that changed',
    source: 'https://developer.shiphero.com/webhooks/inventory-update-webhook/',
    header: 'X-ShipHero-HMAC-SHA256',
    encoding: 'base64',
    mapping: SHIPHERO_INVENTORY_UPDATE,
    example: {
      account_id: 63898,
      account_uuid: 'QWNjb3VudDo2Mzg5OA==',
      webhook_type: 'Inventory Update',
      inventory: [
        {
          sku: 'TEE-001-M',
          inventory: '113',
          backorder_quantity: '0',
          on_hand: '148',
          virtual: false,
          sell_ahead: 20,
          qty_in_totes: 1,
          reserve: 45,
          updated_warehouse: { warehouse_id: 12345, warehouse_uuid: 'V2FyZWhvdXNlJHIKby', identifier: 'Primary', inventory: '13', backorder_quantity: '0', on_hand: '48', sell_ahead: 10, qty_in_totes: 1, reserve: 25, non_sellable: 250 },
          non_sellable: 1250,
        },
      ],
    },
  },
})

export function findPreset(name: string): ProviderPreset | undefined {
  return Object.hasOwn(PROVIDER_PRESETS, name) ? PROVIDER_PRESETS[name] : undefined
}
