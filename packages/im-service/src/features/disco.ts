// XEP-0030 service discovery for the domain and for accounts, XEP-0092 software version.
import { xml, type Element } from '@ambrosia/xml';
import type { ImContext } from '../context.js';
import { NS } from '../namespaces.js';

function features(names: readonly string[]): Element[] {
  return [...new Set(names)].sort().map((name) => xml('feature', { var: name }));
}

/** What the server (the domain JID) supports. */
export function domainInfo(ctx: ImContext, node: string | undefined): Element {
  const names: string[] = [NS.discoInfo, NS.discoItems, NS.ping, NS.version, NS.roster, NS.rosterVer];
  if (ctx.features.blocking) names.push(NS.blocking);
  if (ctx.features.carbons) names.push(NS.carbons);
  if (ctx.features.vcard) names.push(NS.vcard);
  if (ctx.features.privateXml) names.push(NS.private);
  if (ctx.features.offline) names.push(NS.offline);
  if (ctx.registrar !== undefined) names.push(NS.register);
  return xml('query', { xmlns: NS.discoInfo, node }, xml('identity', { category: 'server', type: 'im', name: ctx.software.name }), features(names));
}

/** What an account (a bare JID) supports (XEP-0030 §3.1; XEP-0313 §7 advertises the archive here). */
export function accountInfo(ctx: ImContext, node: string | undefined): Element {
  const names: string[] = [NS.discoInfo, NS.discoItems, NS.ping];
  if (ctx.features.archive) names.push(NS.mam);
  if (ctx.features.vcard) names.push(NS.vcard);
  return xml('query', { xmlns: NS.discoInfo, node }, xml('identity', { category: 'account', type: 'registered' }), features(names));
}

export function emptyItems(node: string | undefined): Element {
  return xml('query', { xmlns: NS.discoItems, node });
}

export function versionResult(ctx: ImContext): Element {
  return xml('query', { xmlns: NS.version }, xml('name', null, ctx.software.name), xml('version', null, ctx.software.version));
}
