/**
 * @module emulator/woocommerce/php-json: JSON the way PHP's json_encode writes it (what WordPress
 * sends): compact, slashes escaped as `\/`, non-ASCII as `\uXXXX`. Webhook signatures are computed
 * over these exact bytes, so a receiver that re-serialises the body cannot verify it.
 */
export function phpJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/\//g, '\\/')
    .replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
