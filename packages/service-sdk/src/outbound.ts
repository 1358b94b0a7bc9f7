// Outbound: a stanza onto a gateway's channel, resolved at the gateway's ack or its delivery report
// (docs/service-protocol.md §4.2 to-gateway, §9), waiting while the channel's queue is full (§11.4).
import { isChannelError, type StanzaInput } from '@ambrosia/service-protocol';
import type { SendOutcome } from './api.js';
import { ServiceSdkError, asError } from './errors.js';
import type { GatewayConnection, PendingSend } from './gateway-connection.js';

/** Senders waiting for a full channel, all channels together, and their bound. */
export interface SenderGate {
  waiting: number;
  readonly max: number;
}

/**
 * Queues the stanza on the connection's channel and resolves at the gateway's ack ('accepted')
 * or, with a delivery report, at the report (§9). Waits while the channel's send queue is
 * above its high-water mark (§11.4), at most `maxWaitingSenders` senders at once.
 */
export function transmit(connection: GatewayConnection, input: StanzaInput, lane: string, deliveryReport: boolean, senders: SenderGate): Promise<SendOutcome> {
  return new Promise<SendOutcome>((resolve, reject) => {
    let settled = false;
    let waiting = false;
    const stopWaiting = (): void => {
      if (!waiting) return;
      waiting = false;
      senders.waiting--;
    };
    const pending: PendingSend = { giveUp: (error) => finish(() => reject(error)) };
    const finish = (action: () => void): void => {
      if (settled) return;
      settled = true;
      stopWaiting(); // a sender given up no longer counts against maxWaitingSenders
      connection.untrack(pending);
      action();
    };
    const go = (): void => {
      if (settled) return;
      let acked: Promise<void>;
      try {
        acked = connection.endpoint.send(input, {
          lane,
          ...(deliveryReport ? { onDelivery: (outcome: SendOutcome) => finish(() => resolve(outcome)) } : {}),
        });
      } catch (error) {
        finish(() => reject(new ServiceSdkError('invalid-stanza', asError(error).message, { cause: error })));
        return;
      }
      acked.then(
        () => {
          if (!deliveryReport) finish(() => resolve('accepted'));
          // Awaiting the report: the endpoint bounds it and reports `unknown` if the channel ends.
          else connection.untrack(pending);
        },
        (error: unknown) => {
          if (isChannelError(error) && error.code === 'message-too-large') finish(() => reject(new ServiceSdkError('invalid-stanza', error.message, { cause: error })));
          else if (isChannelError(error) && error.code === 'queue-full') finish(() => reject(new ServiceSdkError('queue-full', error.message, { cause: error })));
          else finish(() => reject(error));
        },
      );
    };
    connection.track(pending);
    connection.ensureGiveUpArmed();
    if (connection.endpoint.writable && !connection.hasCapacityWaiters) {
      go();
      return;
    }
    if (senders.waiting >= senders.max) {
      finish(() => reject(new ServiceSdkError('queue-full', `the channel to gateway ${connection.gatewayId} is full and ${senders.waiting} senders already wait (maxWaitingSenders)`)));
      return;
    }
    senders.waiting++;
    waiting = true;
    connection.waitForCapacity(() => {
      stopWaiting();
      go();
    });
  });
}

/** Rendezvous (highest random weight) score of a gateway for a destination: 32-bit FNV-1a, stable across processes. */
export function rendezvousScore(gatewayId: string, destination: string): number {
  const text = `${gatewayId}\u0000${destination}`;
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
