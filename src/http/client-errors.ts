/**
 * @module http/client-errors: requests Node refuses before any route sees them (headers too large,
 * unparseable HTTP). Node's own answer is a bare status line; ours is a problem document like
 * every other refusal (#12), written straight to the socket since no request object exists.
 */
import { maxHeaderSize, type Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { ERROR_CATALOG, type ErrorCode } from '../domain/errors.js'
import { PROBLEM_TYPE_BASE } from './problem.js'

const REASON: Readonly<Record<number, string>> = { 400: 'Bad Request', 431: 'Request Header Fields Too Large' }

export function problemForClientError(errorCode: string | undefined, maxHeaderBytes: number): string {
  const code: ErrorCode = errorCode === 'HPE_HEADER_OVERFLOW' ? 'request_headers_too_large' : 'malformed_request'
  const { status, title } = ERROR_CATALOG[code]
  const detail =
    code === 'request_headers_too_large'
      ? `The request line and headers exceed ${maxHeaderBytes} bytes; send fewer or shorter headers (large data belongs in the body)`
      : 'The request is not valid HTTP/1.1'
  const body = JSON.stringify({ type: PROBLEM_TYPE_BASE + code.replaceAll('_', '-'), title, status, detail, instance: '/', code })
  return `HTTP/1.1 ${status} ${REASON[status]}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
}

/** Answer Node's client errors with problem documents. */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // A reset or a socket already answered has nobody to read a reply.
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy()
      return
    }
    socket.end(problemForClientError(err.code, maxHeaderSize))
  })
}
