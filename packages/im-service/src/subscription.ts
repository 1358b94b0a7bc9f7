// The subscription state machine of RFC 6121 §3 and Appendix A, as pure functions: given the
// user's current state for one contact and one subscription stanza, the change to store and what
// the server must do next. The store's read-modify-write (roster.update) runs them, possibly
// several times; the decision of the run that won is the one acted upon.
import type { ContactChange, ContactState, RosterItem, RosterItemInput, Subscription } from '@ambrosia/im-store';

export type SubscriptionType = 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed';

export function isSubscriptionType(type: string | undefined): type is SubscriptionType {
  return type === 'subscribe' || type === 'subscribed' || type === 'unsubscribe' || type === 'unsubscribed';
}

/** What the user's server does with a subscription stanza the user sent (Appendix A.2). */
export interface OutboundDecision {
  change: ContactChange | undefined;
  /** Route the stanza to the contact (a pre-approval is not routed, §3.4.1). */
  route: boolean;
  /** The contact gained a subscription to the user's presence: send it the user's current presence (§3.1.5). */
  sendPresence: boolean;
  /** The contact lost its subscription: send it unavailable presence from the user's resources (§3.2.2). */
  sendUnavailable: boolean;
}

/** What the user's server does with a subscription stanza the contact sent (Appendix A.3). */
export interface InboundDecision {
  change: ContactChange | undefined;
  /** Deliver the stanza to the user's available resources. */
  deliver: boolean;
  /** Answer the contact with `subscribed` on the user's behalf (already subscribed, or pre-approved: §3.1.3). */
  autoReplySubscribed: boolean;
  /** The contact gained a subscription (pre-approval used): send it the user's current presence. */
  sendPresence: boolean;
  /** The contact lost its subscription to the user: send it unavailable presence from the user's resources. */
  sendUnavailable: boolean;
}

/** The contact receives the user's presence (RFC 6121 §3: 'from' or 'both'). */
export const hasFrom = (s: Subscription): boolean => s === 'from' || s === 'both';
/** The user receives the contact's presence ('to' or 'both'). */
export const hasTo = (s: Subscription): boolean => s === 'to' || s === 'both';
const withFrom = (s: Subscription): Subscription => (s === 'none' ? 'from' : s === 'to' ? 'both' : s);
const withoutFrom = (s: Subscription): Subscription => (s === 'from' ? 'none' : s === 'both' ? 'to' : s);
const withTo = (s: Subscription): Subscription => (s === 'none' ? 'to' : s === 'from' ? 'both' : s);
const withoutTo = (s: Subscription): Subscription => (s === 'to' ? 'none' : s === 'both' ? 'from' : s);

function input(item: RosterItem | null, patch: Partial<RosterItemInput>): RosterItemInput {
  const base: RosterItemInput = item === null ? { groups: [], subscription: 'none', ask: false, approved: false } : { ...item };
  return { ...base, ...patch };
}

export function outboundSubscription(type: SubscriptionType, current: ContactState): OutboundDecision {
  const item = current.item;
  const sub = item?.subscription ?? 'none';
  const none: OutboundDecision = { change: undefined, route: true, sendPresence: false, sendUnavailable: false };
  switch (type) {
    case 'subscribe':
      // §3.1.2: create or update the item with ask='subscribe' (no change when already subscribed).
      if (hasTo(sub) || item?.ask === true) return none;
      return { ...none, change: { item: input(item, { ask: true }) } };
    case 'subscribed':
      if (current.pendingIn !== null) {
        // §3.1.5: approving a pending request.
        return {
          change: { item: input(item, { subscription: withFrom(sub), approved: false }), pendingIn: null },
          route: true,
          sendPresence: true,
          sendUnavailable: false,
        };
      }
      if (hasFrom(sub)) return { ...none, route: false };
      // §3.4.1: pre-approval, recorded and not routed.
      if (item?.approved === true) return { ...none, route: false };
      return { ...none, route: false, change: { item: input(item, { approved: true }) } };
    case 'unsubscribe':
      // §3.3.2
      if (item === null || (!hasTo(sub) && !item.ask)) return none;
      return { ...none, change: { item: input(item, { subscription: withoutTo(sub), ask: false }) } };
    case 'unsubscribed': {
      // §3.2.2 cancelling, §3.1.5 denying, §3.4 cancelling a pre-approval.
      const lostFrom = hasFrom(sub);
      if (!lostFrom && current.pendingIn === null && item?.approved !== true) return none;
      const change: ContactChange = { pendingIn: null };
      if (item !== null) change.item = input(item, { subscription: withoutFrom(sub), approved: false });
      return { change, route: true, sendPresence: false, sendUnavailable: lostFrom };
    }
  }
}

export function inboundSubscription(type: SubscriptionType, current: ContactState, status: string | undefined): InboundDecision {
  const item = current.item;
  const sub = item?.subscription ?? 'none';
  const ignore: InboundDecision = { change: undefined, deliver: false, autoReplySubscribed: false, sendPresence: false, sendUnavailable: false };
  switch (type) {
    case 'subscribe':
      // §3.1.3
      if (hasFrom(sub)) return { ...ignore, autoReplySubscribed: true };
      if (item?.approved === true) {
        return {
          ...ignore,
          change: { item: input(item, { subscription: withFrom(sub), approved: false }), pendingIn: null },
          autoReplySubscribed: true,
          sendPresence: true,
        };
      }
      if (current.pendingIn !== null && current.pendingIn.status === status) return ignore; // a duplicate
      return { ...ignore, change: { pendingIn: { status } }, deliver: current.pendingIn === null };
    case 'subscribed':
      // §3.1.6: only an answer to a request the user made counts.
      if (item === null || !item.ask || hasTo(sub)) return ignore;
      return { ...ignore, change: { item: input(item, { subscription: withTo(sub), ask: false }) }, deliver: true };
    case 'unsubscribe': {
      // §3.3.3
      if (!hasFrom(sub) && current.pendingIn === null) return ignore;
      const change: ContactChange = { pendingIn: null };
      if (item !== null && hasFrom(sub)) change.item = input(item, { subscription: withoutFrom(sub) });
      return { ...ignore, change, deliver: true, sendUnavailable: hasFrom(sub) };
    }
    case 'unsubscribed':
      // §3.2.3
      if (item === null || (!hasTo(sub) && !item.ask)) return ignore;
      return { ...ignore, change: { item: input(item, { subscription: withoutTo(sub), ask: false }) }, deliver: true };
  }
}
