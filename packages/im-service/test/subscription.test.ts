// RFC 6121 Appendix A, table by table: every subscription state and every subscription stanza,
// outbound (the user sends it, A.2) and inbound (the contact sends it, A.3).
import type { ContactChange, ContactState, Subscription } from '@ambrosia/im-store';
import { describe, expect, it } from 'vitest';
import { inboundSubscription, outboundSubscription, type SubscriptionType } from '../src/index.js';

type State = 'None' | 'None+PendingOut' | 'None+PendingIn' | 'None+PendingOut+In' | 'To' | 'To+PendingIn' | 'From' | 'From+PendingOut' | 'Both';

const STATES: Record<State, { subscription: Subscription; ask: boolean; pendingIn: boolean }> = {
  None: { subscription: 'none', ask: false, pendingIn: false },
  'None+PendingOut': { subscription: 'none', ask: true, pendingIn: false },
  'None+PendingIn': { subscription: 'none', ask: false, pendingIn: true },
  'None+PendingOut+In': { subscription: 'none', ask: true, pendingIn: true },
  To: { subscription: 'to', ask: false, pendingIn: false },
  'To+PendingIn': { subscription: 'to', ask: false, pendingIn: true },
  From: { subscription: 'from', ask: false, pendingIn: false },
  'From+PendingOut': { subscription: 'from', ask: true, pendingIn: false },
  Both: { subscription: 'both', ask: false, pendingIn: false },
};

function contact(state: State, approved = false): ContactState {
  const s = STATES[state];
  const hasItem = state !== 'None' && state !== 'None+PendingIn' ? true : approved;
  return {
    jid: 'contact@example.net',
    item: hasItem ? { jid: 'contact@example.net', groups: [], subscription: s.subscription, ask: s.ask, approved } : null,
    pendingIn: s.pendingIn ? { jid: 'contact@example.net', stamp: 1 } : null,
    revision: '1',
    rosterVersion: '1-1',
  };
}

function apply(current: ContactState, change: ContactChange | undefined): State {
  const item = change?.item === undefined ? current.item : change.item;
  const pendingIn = change?.pendingIn === undefined ? current.pendingIn !== null : change.pendingIn !== null;
  const sub = item?.subscription ?? 'none';
  const ask = item?.ask ?? false;
  const found = (Object.entries(STATES) as Array<[State, (typeof STATES)[State]]>).find(([, s]) => s.subscription === sub && s.ask === ask && s.pendingIn === pendingIn);
  if (found === undefined) throw new Error(`no Appendix A state for ${sub} ask=${ask} pendingIn=${pendingIn}`);
  return found[0];
}

// [state before, state after] per table; '=' means "no state change".
const OUTBOUND: Record<SubscriptionType, Record<State, State | '='>> = {
  // A.2.1
  subscribe: {
    None: 'None+PendingOut',
    'None+PendingOut': '=',
    'None+PendingIn': 'None+PendingOut+In',
    'None+PendingOut+In': '=',
    To: '=',
    'To+PendingIn': '=',
    From: 'From+PendingOut',
    'From+PendingOut': '=',
    Both: '=',
  },
  // A.2.2 (None, None+PendingOut and To become pre-approvals, tested below)
  subscribed: {
    None: '=',
    'None+PendingOut': '=',
    'None+PendingIn': 'From',
    'None+PendingOut+In': 'From+PendingOut',
    To: '=',
    'To+PendingIn': 'Both',
    From: '=',
    'From+PendingOut': '=',
    Both: '=',
  },
  // A.2.3
  unsubscribe: {
    None: '=',
    'None+PendingOut': 'None',
    'None+PendingIn': '=',
    'None+PendingOut+In': 'None+PendingIn',
    To: 'None',
    'To+PendingIn': 'None+PendingIn',
    From: '=',
    'From+PendingOut': 'From',
    Both: 'From',
  },
  // A.2.4
  unsubscribed: {
    None: '=',
    'None+PendingOut': '=',
    'None+PendingIn': 'None',
    'None+PendingOut+In': 'None+PendingOut',
    To: '=',
    'To+PendingIn': 'To',
    From: 'None',
    'From+PendingOut': 'None+PendingOut',
    Both: 'To',
  },
};

const INBOUND: Record<SubscriptionType, Record<State, State | '='>> = {
  // A.3.1
  subscribe: {
    None: 'None+PendingIn',
    'None+PendingOut': 'None+PendingOut+In',
    'None+PendingIn': '=',
    'None+PendingOut+In': '=',
    To: 'To+PendingIn',
    'To+PendingIn': '=',
    From: '=',
    'From+PendingOut': '=',
    Both: '=',
  },
  // A.3.2
  subscribed: {
    None: '=',
    'None+PendingOut': 'To',
    'None+PendingIn': '=',
    'None+PendingOut+In': 'To+PendingIn',
    To: '=',
    'To+PendingIn': '=',
    From: '=',
    'From+PendingOut': 'Both',
    Both: '=',
  },
  // A.3.3
  unsubscribe: {
    None: '=',
    'None+PendingOut': '=',
    'None+PendingIn': 'None',
    'None+PendingOut+In': 'None+PendingOut',
    To: '=',
    'To+PendingIn': 'To',
    From: 'None',
    'From+PendingOut': 'None+PendingOut',
    Both: 'To',
  },
  // A.3.4
  unsubscribed: {
    None: '=',
    'None+PendingOut': 'None',
    'None+PendingIn': '=',
    'None+PendingOut+In': 'None+PendingIn',
    To: 'None',
    'To+PendingIn': 'None+PendingIn',
    From: '=',
    'From+PendingOut': 'From',
    Both: 'From',
  },
};

describe('RFC 6121 Appendix A.2: outbound subscription stanzas', () => {
  for (const [type, table] of Object.entries(OUTBOUND) as Array<[SubscriptionType, Record<State, State | '='>]>) {
    for (const [before, after] of Object.entries(table) as Array<[State, State | '=']>) {
      it(`${type} in ${before} → ${after === '=' ? 'no change' : after}`, () => {
        const current = contact(before);
        const decision = outboundSubscription(type, current);
        const expected = after === '=' ? before : after;
        if (type === 'subscribed' && !STATES[before].pendingIn && STATES[before].subscription !== 'from' && STATES[before].subscription !== 'both') {
          // §3.4: a pre-approval instead of nothing; the subscription state itself stays.
          expect(decision.change?.item?.approved).toBe(true);
          expect(decision.route).toBe(false);
        }
        expect(apply(current, decision.change)).toBe(expected);
        if (after === '=' && !(type === 'subscribed')) expect(decision.change).toBeUndefined();
      });
    }
  }

  it('routes every outbound stanza except subscribed that approves nothing (§3.4.1, §3.1.5)', () => {
    expect(outboundSubscription('subscribed', contact('None+PendingIn')).route).toBe(true);
    expect(outboundSubscription('subscribed', contact('From')).route).toBe(false);
    for (const type of ['subscribe', 'unsubscribe', 'unsubscribed'] as const) expect(outboundSubscription(type, contact('Both')).route).toBe(true);
  });

  it('sends presence to a new subscriber and takes it back from a lost one', () => {
    expect(outboundSubscription('subscribed', contact('None+PendingIn')).sendPresence).toBe(true);
    expect(outboundSubscription('unsubscribed', contact('Both')).sendUnavailable).toBe(true);
    expect(outboundSubscription('unsubscribed', contact('None+PendingIn')).sendUnavailable).toBe(false);
  });

  it('cancels a pre-approval with unsubscribed (§3.4)', () => {
    const decision = outboundSubscription('unsubscribed', contact('None', true));
    expect(decision.change?.item?.approved).toBe(false);
  });
});

describe('RFC 6121 Appendix A.3: inbound subscription stanzas', () => {
  for (const [type, table] of Object.entries(INBOUND) as Array<[SubscriptionType, Record<State, State | '='>]>) {
    for (const [before, after] of Object.entries(table) as Array<[State, State | '=']>) {
      it(`${type} in ${before} → ${after === '=' ? 'no change' : after}`, () => {
        const current = contact(before);
        const decision = inboundSubscription(type, current, undefined);
        expect(apply(current, decision.change)).toBe(after === '=' ? before : after);
        // Delivered exactly when the state changed (a duplicate or a stray answer is not shown to the user).
        expect(decision.deliver).toBe(after !== '=');
        if (after === '=') expect(decision.change).toBeUndefined();
      });
    }
  }

  it('answers subscribe on the user’s behalf when already subscribed (§3.1.3)', () => {
    for (const state of ['From', 'From+PendingOut', 'Both'] as const) expect(inboundSubscription('subscribe', contact(state), undefined).autoReplySubscribed).toBe(true);
    expect(inboundSubscription('subscribe', contact('None'), undefined).autoReplySubscribed).toBe(false);
  });

  it('uses a pre-approval: subscribed at once, approval cleared, presence sent (§3.4.2)', () => {
    const decision = inboundSubscription('subscribe', contact('None', true), undefined);
    expect(decision.autoReplySubscribed).toBe(true);
    expect(decision.sendPresence).toBe(true);
    expect(decision.change?.item).toMatchObject({ subscription: 'from', approved: false });
    expect(inboundSubscription('subscribe', contact('To', true), undefined).change?.item?.subscription).toBe('both');
  });

  it('a new status on a pending request is kept but not delivered again', () => {
    const current = contact('None+PendingIn');
    const decision = inboundSubscription('subscribe', current, 'please');
    expect(decision.change).toEqual({ pendingIn: { status: 'please' } });
    expect(decision.deliver).toBe(false);
  });

  it('an unsubscribe from a subscriber takes the user’s presence back from them', () => {
    expect(inboundSubscription('unsubscribe', contact('Both'), undefined).sendUnavailable).toBe(true);
    expect(inboundSubscription('unsubscribe', contact('None+PendingIn'), undefined).sendUnavailable).toBe(false);
  });
});
