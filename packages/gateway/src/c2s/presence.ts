// RFC 6121 §4.2 / §4.7: what a client's broadcast presence says about its session, for the
// registry's session record (services pick the resources to deliver to by it).

import type { Element } from '@ambrosia/xml';

const NS_CLIENT = 'jabber:client';

/**
 * For a presence without 'to' (RFC 6121 §4.2.2 initial / §4.4 updates, §4.5 unavailable): its
 * availability and priority; undefined for any other stanza (directed presence, subscriptions,
 * probes, errors).
 */
export function broadcastPresence(stanza: Element): { available: boolean; priority: number } | undefined {
  if (stanza.name !== 'presence' || stanza.attrs.to !== undefined) return undefined;
  const type = stanza.attrs.type as string | undefined;
  if (type === 'unavailable') return { available: false, priority: 0 };
  if (type !== undefined) return undefined;
  return { available: true, priority: priorityOf(stanza) };
}

/**
 * RFC 6121 §4.7.2.3: an integer from -128 to +127, 0 when absent. A value outside that range or
 * not an integer is treated as absent (the RFC gives no rule; 0 is what an absent one means).
 */
export function priorityOf(stanza: Element): number {
  const child = stanza.getChild('priority', NS_CLIENT) ?? stanza.getChild('priority');
  if (child === undefined) return 0;
  const text = child.getText().trim();
  if (!/^[+-]?\d{1,4}$/.test(text)) return 0;
  const value = Number(text);
  return value >= -128 && value <= 127 ? value : 0;
}
