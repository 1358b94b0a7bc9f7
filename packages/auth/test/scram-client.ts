// A compact SCRAM-SHA-256 client (RFC 5802 §3, RFC 7677) for driving full exchanges.

import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

export class ScramSha256Client {
  private readonly bare: string;
  private serverSignature = '';
  constructor(
    private readonly username: string,
    private readonly password: string,
  ) {
    this.bare = `n=${username.replace(/=/g, '=3D').replace(/,/g, '=2C')},r=${randomBytes(12).toString('base64')}`;
  }

  first(): Buffer {
    return Buffer.from(`n,,${this.bare}`);
  }

  final(serverFirst: Buffer): Buffer {
    const text = serverFirst.toString();
    const attrs = new Map(text.split(',').map((a) => [a[0], a.slice(2)] as const));
    const salted = pbkdf2Sync(this.password, Buffer.from(attrs.get('s')!, 'base64'), Number(attrs.get('i')), 32, 'sha256');
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    const storedKey = createHash('sha256').update(clientKey).digest();
    const withoutProof = `c=biws,r=${attrs.get('r')}`;
    const authMessage = `${this.bare},${text},${withoutProof}`;
    const signature = createHmac('sha256', storedKey).update(authMessage).digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
    const serverKey = createHmac('sha256', salted).update('Server Key').digest();
    this.serverSignature = createHmac('sha256', serverKey).update(authMessage).digest('base64');
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`);
  }

  verify(serverFinal: Buffer | undefined): boolean {
    return serverFinal?.toString() === `v=${this.serverSignature}`;
  }
}
