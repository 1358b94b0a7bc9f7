// Weighted rendezvous hashing (highest random weight, Thaler & Ravishankar 1998; the weighted
// form "-w / ln(u)" of Schindelhauer & Schomaker): every gateway ranks a domain's instances for
// a routing key the same way, with no shared state. A key moves only when its own best instance
// leaves (or a better one arrives), so an instance leaving moves its keys and nobody else's, and
// an instance of weight 2 gets about twice the keys of one of weight 1.

/** Two independent 32-bit hashes of a string: 53 bits of the key's uniform draw come from them. */
export interface StringHash {
  readonly high: number;
  readonly low: number;
}

const SEED_HIGH = 0x811c9dc5;
const SEED_LOW = 0x2f0c6a3b;

/** The 32-bit finaliser of MurmurHash3 (public domain): every input bit flips ~half the output bits. */
function avalanche(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over UTF-16 code units, then the avalanche: cheap, and stable across processes. */
function hash32(text: string, seed: number): number {
  let h = seed;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return avalanche(h ^ text.length);
}

export function hashString(text: string): StringHash {
  return { high: hash32(text, SEED_HIGH), low: hash32(text, SEED_LOW) };
}

const TWO_POW_21 = 2 ** 21;
const TWO_POW_53 = 2 ** 53;

/** A uniform draw in (0, 1) for the pair (key, instance). */
export function pairDraw(key: StringHash, instance: StringHash): number {
  const high = avalanche((key.high ^ instance.high) + Math.imul(key.low, 0x9e3779b1));
  const low = avalanche((key.low ^ instance.low) + Math.imul(high, 0x7feb352d));
  // 32 + 21 bits: exactly representable in a double.
  return (high * TWO_POW_21 + (low >>> 11) + 0.5) / TWO_POW_53;
}

/** The weighted score: larger wins. ln(u) < 0, so the score is positive for a positive weight. */
export function rendezvousScore(key: StringHash, instance: StringHash, weight: number): number {
  if (!(weight > 0)) return 0;
  return -weight / Math.log(pairDraw(key, instance));
}

export interface RendezvousCandidate {
  readonly hash: StringHash;
  /** Compared only when two scores are equal, so the choice never depends on list order. */
  readonly id: string;
}

/**
 * The candidate with the highest score for `key`. `weightOf` gives each candidate's weight
 * (0 or less: never chosen while another has a positive weight).
 */
export function pickByRendezvous<T extends RendezvousCandidate>(key: StringHash, candidates: readonly T[], weightOf: (candidate: T) => number): T | undefined {
  let best: T | undefined;
  let bestScore = -1;
  for (const candidate of candidates) {
    const score = rendezvousScore(key, candidate.hash, weightOf(candidate));
    if (score > bestScore || (score === bestScore && best !== undefined && candidate.id < best.id)) {
      best = candidate;
      bestScore = score;
    }
  }
  return best;
}
