/** @module cli/port-check: find out whether the HTTP port is free before a start creates anything. */
import net from 'node:net'

/** Null when host:port can be bound now; else the reason (EADDRINUSE, EACCES, ...). Port 0 is always free. */
export function portProblem(host: string, port: number): Promise<string | null> {
  if (port === 0) return Promise.resolve(null)
  return new Promise((resolve) => {
    const probe = net.createServer()
    probe.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message))
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(null)))
  })
}

/** The one line a busy or forbidden port gets, with the command that starts on another port. */
export function portMessage(port: number, problem: string): string {
  const next = port >= 65535 ? 8081 : port + 1
  if (problem === 'EADDRINUSE') return `port ${port} is in use; start with PORT=${next} npm start`
  if (problem === 'EACCES') return `port ${port} needs privileges this user lacks; start with PORT=${port < 1024 ? 8080 : next} npm start`
  return `cannot listen on port ${port} (${problem}); start with PORT=${next} npm start`
}
