/** A real SMTP server in the test process (smtp-server) on 127.0.0.1: records every mail it accepts. */
import { SMTPServer } from 'smtp-server'

export interface Mail {
  readonly from: string
  readonly to: ReadonlyArray<string>
  readonly raw: string
  readonly subject: string
}

export class SmtpSink {
  readonly mails: Mail[] = []
  /** Answer every DATA with this SMTP code instead of accepting (e.g. 451, 550). */
  refuseWith: number | null = null
  readonly #server: SMTPServer
  #port = 0

  private constructor() {
    this.#server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = []
        stream.on('data', (c: Buffer) => chunks.push(c))
        stream.on('end', () => {
          if (this.refuseWith !== null) {
            const err = Object.assign(new Error('refused by the test'), { responseCode: this.refuseWith })
            callback(err)
            return
          }
          const raw = Buffer.concat(chunks).toString('utf8')
          const subject = /^Subject: (.*(?:\r?\n[ \t].*)*)/im.exec(raw)?.[1]?.replace(/\r?\n[ \t]/g, ' ') ?? ''
          this.mails.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw, subject })
          callback()
        })
      },
    })
  }

  static async start(): Promise<SmtpSink> {
    const s = new SmtpSink()
    await new Promise<void>((resolve) => s.#server.listen(0, '127.0.0.1', () => resolve()))
    s.#port = (s.#server.server.address() as { port: number }).port
    return s
  }

  get port(): number {
    return this.#port
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()))
  }
}
