/** @module sync/destination: where events go. A destination delivers one target's due events. */
import type { OutboxEvent } from '../domain/events.js'
import type { DeliveryOutcome } from './classify.js'

export interface Destination {
  /** Deliver each event; one outcome per event, in the same order. Never throws. */
  deliver(events: ReadonlyArray<OutboxEvent>, signal: AbortSignal): Promise<DeliveryOutcome[]>
}

/** Finds the destination of a target id (a subscription, later a store); undefined when it is gone. */
export type DestinationResolver = (targetId: string) => Promise<Destination | undefined>
