// XEP-0160 offline messages: stored when a user has no available resource, delivered when a
// resource sends initial presence. Delivery asks the gateway for XEP-0198 delivery reports
// (docs/service-protocol.md §9) and removes a message from the store only once it is delivered,
// so a crash of the service, the gateway or the client loses nothing (it may deliver twice).
import type { JID } from '@ambrosia/jid';
import type { SendOutcome } from '@ambrosia/service-sdk';
import { xml, type Element } from '@ambrosia/xml';
import type { ImContext, UserSession } from './context.js';
import { NS } from './namespaces.js';
import { parseStored } from './stored.js';

/** Flushes running on this instance, by bare JID: one at a time per user, bounded overall. */
const running = new WeakMap<ImContext, Map<string, Promise<void>>>();

export function runningFlushes(ctx: ImContext): Map<string, Promise<void>> {
  let map = running.get(ctx);
  if (map === undefined) running.set(ctx, (map = new Map()));
  return map;
}

/** XEP-0203 stamp, UTC with milliseconds dropped as XEP-0082 allows. */
export function isoStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function withDelay(stanza: Element, from: string, stamp: number): Element {
  stanza.append(xml('delay', { xmlns: NS.delay, from, stamp: isoStamp(stamp) }, 'Offline Storage'));
  return stanza;
}

/** Starts delivering the user's offline messages to `session` in the background. */
export function startOfflineFlush(ctx: ImContext, user: JID, session: UserSession): void {
  if (!ctx.features.offline) return;
  const flushes = runningFlushes(ctx);
  const account = user.toBareString();
  // Two resources coming online together: the first takes the queue, the second gets what is left next time.
  if (flushes.has(account)) return;
  if (flushes.size >= ctx.limits.maxConcurrentFlushes) {
    ctx.report(new Error(`offline flush for ${account} skipped: ${flushes.size} flushes running (maxConcurrentFlushes)`));
    return;
  }
  const flush = flushOffline(ctx, account, user, session)
    .then(() => undefined)
    .catch((e: unknown) => ctx.report(e))
    .finally(() => flushes.delete(account));
  flushes.set(account, flush);
}

async function withTimeout(promise: Promise<SendOutcome>, ms: number): Promise<SendOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<SendOutcome>((resolve) => {
    timer = setTimeout(() => resolve('unknown'), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function flushOffline(ctx: ImContext, account: string, user: JID, session: UserSession): Promise<number> {
  let delivered = 0;
  for (let pageNumber = 0; pageNumber < ctx.limits.offlinePagesPerFlush; pageNumber++) {
    const page = await ctx.store.offline.peek(account, { max: ctx.limits.offlineBatch });
    if (page.length === 0) break;
    // Sent in order without waiting in between (the SDK keeps the order of one session's lane);
    // the reports come back as the client acknowledges.
    const outcomes = await Promise.all(
      page.map((message) => {
        let stanza: Element;
        try {
          stanza = withDelay(parseStored(message.xml), user.domain, message.stamp);
        } catch (e) {
          ctx.report(e);
          return Promise.resolve<SendOutcome>('delivered'); // unreadable: never deliverable, do not block the queue
        }
        return withTimeout(ctx.deliver(session, stanza, { deliveryReport: true }), ctx.limits.offlineReportTimeoutMs);
      }),
    );
    // Only the delivered prefix is removed: order is kept and nothing unconfirmed is lost.
    let prefix = 0;
    while (prefix < outcomes.length && (outcomes[prefix] === 'delivered' || outcomes[prefix] === 'accepted')) prefix++;
    if (prefix > 0) await ctx.store.offline.ack(account, (page[prefix - 1] as { id: string }).id);
    delivered += prefix;
    if (prefix < page.length) break;
  }
  return delivered;
}
