/**
 * @module domain/delivery-url: subscription URLs that can never be delivered to. Refused when the
 * subscription is made, so they are not retried as if the failure were transient.
 */

/**
 * The ports fetch refuses to connect to ("bad ports", WHATWG Fetch §2.9); a POST there fails
 * every time without leaving the machine.
 */
const BAD_PORTS = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514,
  515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
])

/** Why a delivery to this URL can never succeed, or null when it can. */
export function undeliverableReason(url: URL): string | null {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `must use http or https, not ${url.protocol.slice(0, 20)}`
  if (url.hostname === '') return 'must name a host'
  if (url.port === '') return null
  const port = Number(url.port)
  if (port === 0) return 'port 0 cannot be connected to'
  if (BAD_PORTS.has(port)) return `port ${port} is one HTTP clients refuse to connect to (a fetch "bad port"); use another port`
  return null
}
