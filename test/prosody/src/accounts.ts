// Writes Prosody accounts straight into mod_storage_internal's files, in the record format of
// mod_auth_internal_hashed (Prosody 0.12): <data>/<host>/accounts/<user>.dat is a Lua chunk
// returning { iteration_count, salt, stored_key, server_key } with hex keys. Thousands of users
// this way take a second; `prosodyctl register` would take a process start per user.
import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { mkdir, writeFile, chown } from 'node:fs/promises';
import { join } from 'node:path';

export interface ProsodyAccount {
  username: string;
  password: string;
}

/** What a SCRAM-SHA-1 client needs to skip its own PBKDF2 for this account. */
export interface ProsodyScramRecord {
  username: string;
  password: string;
  /** The salt exactly as Prosody sends it (base64 of the stored salt string's bytes). */
  saltBase64: string;
  iterations: number;
  /** SCRAM-SHA-1 SaltedPassword (RFC 5802 §3), 20 bytes. */
  saltedPassword: Buffer;
}

/**
 * util/datamanager.lua's `encode`: every byte that is not an ASCII letter or digit becomes
 * %xx (lower-case hex). `localhost` stays `localhost`; `example.com` becomes `example%2ecom`.
 */
export function encodeProsodyPathPart(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const isAlnum = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);
    out += isAlnum ? String.fromCharCode(byte) : `%${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** A Lua string literal (only what we write: printable ASCII in our salts and hex keys). */
function luaString(s: string): string {
  return JSON.stringify(s); // JSON escapes of printable ASCII are valid Lua escapes
}

function pbkdf2Sha1(password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(password, salt, iterations, 20, 'sha1', (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Usernames Prosody would store unchanged: nodeprep is the identity on lower-case ASCII. */
const SIMPLE_USERNAME = /^[a-z0-9._-]{1,64}$/;

/**
 * Writes one account file per user and returns each one's SCRAM record. PBKDF2 runs on libuv's
 * thread pool, `parallel` at a time.
 */
export async function writeProsodyAccounts(
  dataDir: string,
  domain: string,
  accounts: readonly ProsodyAccount[],
  options: { iterations?: number; owner?: { uid: number; gid: number }; parallel?: number } = {},
): Promise<ProsodyScramRecord[]> {
  const iterations = options.iterations ?? 4096;
  const parallel = options.parallel ?? 8;
  const hostDir = join(dataDir, encodeProsodyPathPart(domain));
  const accountsDir = join(hostDir, 'accounts');
  await mkdir(accountsDir, { recursive: true });
  const records: ProsodyScramRecord[] = new Array(accounts.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < accounts.length) {
      const index = next++;
      const account = accounts[index]!;
      if (!SIMPLE_USERNAME.test(account.username)) throw new RangeError(`username ${JSON.stringify(account.username)} is not plain lower-case ASCII`);
      // Prosody uses a UUID string as the salt; any string works, its bytes are the salt.
      const salt = randomBytes(12).toString('hex');
      const saltedPassword = await pbkdf2Sha1(account.password, Buffer.from(salt, 'latin1'), iterations);
      const clientKey = createHmac('sha1', saltedPassword).update('Client Key').digest();
      const storedKey = createHash('sha1').update(clientKey).digest('hex');
      const serverKey = createHmac('sha1', saltedPassword).update('Server Key').digest('hex');
      const body =
        'return {\n' +
        `\t["iteration_count"] = ${iterations};\n` +
        `\t["salt"] = ${luaString(salt)};\n` +
        `\t["server_key"] = ${luaString(serverKey)};\n` +
        `\t["stored_key"] = ${luaString(storedKey)};\n` +
        '};\n';
      const file = join(accountsDir, `${encodeProsodyPathPart(account.username)}.dat`);
      await writeFile(file, body, { mode: 0o640 });
      if (options.owner) await chown(file, options.owner.uid, options.owner.gid);
      records[index] = {
        username: account.username,
        password: account.password,
        saltBase64: Buffer.from(salt, 'latin1').toString('base64'),
        iterations,
        saltedPassword,
      };
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, accounts.length) }, worker));
  if (options.owner) {
    await chown(hostDir, options.owner.uid, options.owner.gid);
    await chown(accountsDir, options.owner.uid, options.owner.gid);
  }
  return records;
}
