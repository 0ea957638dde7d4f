/** @module service/event-stream: reading the outbox in order, for live streams (SSE). */
import type { EventFilter } from '../domain/events.js'
import { cursorAfter, readEventPage, streamStart, type EventPage, type StreamCursor } from '../store/outbox-repo.js'
import type { ServiceDeps } from './deps.js'

export type { StreamCursor }

/** The next events after the cursor, gap-free (see StreamCursor). */
export function readStream(deps: ServiceDeps, after: StreamCursor, filter: Partial<EventFilter>, limit: number): Promise<EventPage> {
  // Alert events (#15) share the outbox to ride the delivery machinery; streams show stock events only.
  return readEventPage(deps.store.db, deps.store.caps, after, { events: ['stock.changed'], ...filter }, limit)
}

/** Where a stream starts: after `lastEventId` when resuming, else after everything already final. */
export function openStream(deps: ServiceDeps, lastEventId: number | undefined): Promise<StreamCursor> {
  return lastEventId === undefined ? streamStart(deps.store.db, deps.store.caps) : cursorAfter(deps.store.db, deps.store.caps, lastEventId)
}
