// RFC 5893 §2, the Bidi Rule, for one label or PRECIS string.

import { bidiClass, type BidiClass } from './unicode.js';

/** RFC 5893 §1.4: R, AL and AN make a label (and its domain name) right-to-left. */
export function hasRightToLeft(cps: readonly number[]): boolean {
  for (const cp of cps) {
    if (cp < 0x590) continue; // nothing before the Hebrew block is R, AL or AN
    const c = bidiClass(cp);
    if (c === 'R' || c === 'AL' || c === 'AN') return true;
  }
  return false;
}

const RTL_ALLOWED = new Set<BidiClass>(['R', 'AL', 'AN', 'EN', 'ES', 'CS', 'ET', 'ON', 'BN', 'NSM']);
const LTR_ALLOWED = new Set<BidiClass>(['L', 'EN', 'ES', 'CS', 'ET', 'ON', 'BN', 'NSM']);

export function satisfiesBidiRule(cps: readonly number[]): boolean {
  if (cps.length === 0) return false;
  const classes = cps.map(bidiClass);
  // 1. The first character must be L, R or AL; R or AL make the label RTL, L makes it LTR.
  const first = classes[0]!;
  const rtl = first === 'R' || first === 'AL';
  if (!rtl && first !== 'L') return false;
  // 2 and 5. Only these classes may appear.
  const allowed = rtl ? RTL_ALLOWED : LTR_ALLOWED;
  if (!classes.every((c) => allowed.has(c))) return false;
  // 3 and 6. The end, ignoring trailing NSM, must be R, AL, EN or AN (RTL) / L or EN (LTR).
  let last = classes.length - 1;
  while (last > 0 && classes[last] === 'NSM') last--;
  const end = classes[last]!;
  if (rtl) {
    if (end !== 'R' && end !== 'AL' && end !== 'EN' && end !== 'AN') return false;
    // 4. In an RTL label EN and AN must not both be present.
    if (classes.includes('EN') && classes.includes('AN')) return false;
    return true;
  }
  return end === 'L' || end === 'EN';
}
