// The client side of SASL SCRAM (RFC 5802) without channel binding, and PLAIN (RFC 4616).
// A load test measures the server, so the client's PBKDF2 (thousands of HMACs per login) is done
// once per account and cached, or seeded by whoever created the accounts.
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';

export type ScramHash = 'sha1' | 'sha256';

export const SCRAM_MECHANISMS: Record<string, ScramHash> = {
  'SCRAM-SHA-1': 'sha1',
  'SCRAM-SHA-256': 'sha256',
};

const HASH_BYTES: Record<ScramHash, number> = { sha1: 20, sha256: 32 };

/** Refuse absurd server parameters: a hostile or broken server must not pin our CPU. */
const MAX_ITERATIONS = 1_000_000;

/**
 * SaltedPassword by (hash, username, password, salt, iterations): the password is part of the key,
 * so a wrong password is never answered from the cache with the right one's proof. Bounded: beyond `maxEntries` the oldest
 * entry is dropped (it is recomputed if needed again).
 */
export class SaltedPasswordCache {
  private readonly entries = new Map<string, Buffer>();
  private readonly pending = new Map<string, Promise<Buffer>>();
  hits = 0;
  misses = 0;

  constructor(readonly maxEntries = 200_000) {}

  private static key(hash: ScramHash, username: string, password: string, saltBase64: string, iterations: number): string {
    return `${hash}\u0000${username}\u0000${password}\u0000${saltBase64}\u0000${iterations}`;
  }

  /** Seeds an entry computed elsewhere (e.g. while writing the server's account records). */
  set(hash: ScramHash, username: string, password: string, saltBase64: string, iterations: number, saltedPassword: Buffer): void {
    const key = SaltedPasswordCache.key(hash, username, password, saltBase64, iterations);
    this.entries.delete(key);
    this.entries.set(key, saltedPassword);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The cached value, or PBKDF2 on libuv's thread pool (one computation per key at a time). */
  derive(hash: ScramHash, username: string, password: string, saltBase64: string, iterations: number): Promise<Buffer> {
    const key = SaltedPasswordCache.key(hash, username, password, saltBase64, iterations);
    const cached = this.entries.get(key);
    if (cached) {
      this.hits++;
      return Promise.resolve(cached);
    }
    const inFlight = this.pending.get(key);
    if (inFlight) return inFlight;
    this.misses++;
    const computed = new Promise<Buffer>((resolve, reject) => {
      // RFC 5802 §2.2 Hi() is PBKDF2 with HMAC and dkLen = the hash size. Passwords are used as
      // given (no SASLprep): the load client's passwords are ASCII.
      pbkdf2(password, Buffer.from(saltBase64, 'base64'), iterations, HASH_BYTES[hash], hash, (err, derived) => (err ? reject(err) : resolve(derived)));
    }).then(
      (derived) => {
        this.pending.delete(key);
        this.set(hash, username, password, saltBase64, iterations, derived);
        return derived;
      },
      (err: unknown) => {
        this.pending.delete(key);
        throw err;
      },
    );
    this.pending.set(key, computed);
    return computed;
  }
}

/** RFC 5802 §5.1: "=" and "," in a username are written =3D and =2C. */
function saslName(username: string): string {
  return username.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

function parseAttributes(message: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const part of message.split(',')) {
    if (part.length < 2 || part[1] !== '=') throw new Error('SCRAM: malformed server message');
    attributes.set(part[0]!, part.slice(2));
  }
  return attributes;
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** One SCRAM exchange: `first()`, then `respond(serverFirst)`, then `verify(serverFinal)`. */
export class ScramClient {
  private readonly gs2Header = 'n,,'; // RFC 5802 §7: no channel binding, no authzid
  private clientFirstBare = '';
  private expectedServerSignature: Buffer | undefined;

  constructor(
    private readonly hash: ScramHash,
    private readonly username: string,
    private readonly password: string,
    private readonly cache: SaltedPasswordCache,
    /** Fixed only by tests (RFC 5802 §5's example); random otherwise. */
    private readonly clientNonce = randomBytes(18).toString('base64'),
  ) {}

  first(): string {
    this.clientFirstBare = `n=${saslName(this.username)},r=${this.clientNonce}`;
    return this.gs2Header + this.clientFirstBare;
  }

  async respond(serverFirst: string): Promise<string> {
    const attributes = parseAttributes(serverFirst);
    const nonce = attributes.get('r');
    const salt = attributes.get('s');
    const iterations = Number(attributes.get('i'));
    if (attributes.has('m')) throw new Error('SCRAM: unsupported mandatory extension');
    // RFC 5802 §5.1: the server nonce must extend ours, or this is not our exchange.
    if (!nonce || !nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length) throw new Error('SCRAM: bad server nonce');
    if (!salt) throw new Error('SCRAM: missing salt');
    if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) throw new Error('SCRAM: bad iteration count');
    const saltedPassword = await this.cache.derive(this.hash, this.username, this.password, salt, iterations);
    const withoutProof = `c=${Buffer.from(this.gs2Header).toString('base64')},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const clientKey = createHmac(this.hash, saltedPassword).update('Client Key').digest();
    const storedKey = createHash(this.hash).update(clientKey).digest();
    const clientSignature = createHmac(this.hash, storedKey).update(authMessage).digest();
    const serverKey = createHmac(this.hash, saltedPassword).update('Server Key').digest();
    this.expectedServerSignature = createHmac(this.hash, serverKey).update(authMessage).digest();
    return `${withoutProof},p=${xor(clientKey, clientSignature).toString('base64')}`;
  }

  /** RFC 5802 §3: the server proves it knows the ServerKey; anything else is a failure. */
  verify(serverFinal: string): boolean {
    if (!this.expectedServerSignature) return false;
    const attributes = parseAttributes(serverFinal);
    const signature = attributes.get('v');
    if (attributes.has('e') || !signature) return false;
    const received = Buffer.from(signature, 'base64');
    return received.length === this.expectedServerSignature.length && timingSafeEqual(received, this.expectedServerSignature);
  }
}

/** RFC 4616 PLAIN initial response: [authzid] NUL authcid NUL passwd. */
export function plainResponse(username: string, password: string): string {
  return `\u0000${username}\u0000${password}`;
}
