/**
 * A TCP proxy in front of a real server, to take "the database" away and bring it back on the
 * same address: `down()` stops listening and cuts every open connection (a crash or a network
 * cut, as the client sees it); `up()` listens again on the same port.
 */
import net from 'node:net'

export interface TcpProxy {
  readonly port: number
  down(): Promise<void>
  up(): Promise<void>
  close(): Promise<void>
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>()
  let server: net.Server | null = null
  let port = 0

  const listen = async () => {
    const s = net.createServer((client) => {
      const upstream = net.connect(target.port, target.host)
      for (const sock of [client, upstream]) {
        sockets.add(sock)
        sock.on('close', () => sockets.delete(sock))
        sock.on('error', () => {
          client.destroy()
          upstream.destroy()
        })
      }
      client.pipe(upstream)
      upstream.pipe(client)
    })
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject)
      s.listen(port, '127.0.0.1', () => resolve())
    })
    port = (s.address() as net.AddressInfo).port
    server = s
  }

  const down = async () => {
    const s = server
    server = null
    for (const sock of sockets) sock.destroy()
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()))
  }

  await listen()
  return {
    get port() {
      return port
    },
    down,
    up: listen,
    close: down,
  }
}
