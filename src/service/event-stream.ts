/** @module service/event-stream: reading the outbox in order, for live streams (SSE). */
import type { EventFilter, OutboxEvent } from '../domain/events.js'
import { lastEventSeq, listEventsAfter } from '../store/outbox-repo.js'
import type { ServiceDeps } from './deps.js'

export function readEventsAfter(deps: ServiceDeps, afterSeq: number, filter: Partial<EventFilter>, limit: number): Promise<OutboxEvent[]> {
  return listEventsAfter(deps.store.db, deps.store.caps, afterSeq, filter, limit)
}

/** The sequence a new stream without Last-Event-ID starts after: only events from now on. */
export function currentEventSeq(deps: ServiceDeps): Promise<number> {
  return lastEventSeq(deps.store.db)
}
