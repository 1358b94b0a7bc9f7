// Types for the untyped JavaScript SASL clients the interoperability tests drive.

declare module '@xmpp/base64' {
  export function encode(binaryString: string): string;
  export function decode(base64: string): string;
}

interface JsSaslMechanism {
  readonly name: string;
  readonly clientFirst: boolean;
  response(credentials: Record<string, unknown>): string | Promise<string>;
  challenge(challenge: string): unknown;
}

declare module 'sasl-scram-sha-1' {
  const Mechanism: new (options?: { genNonce?: () => string }) => JsSaslMechanism & { _serverSignature?: Uint8Array };
  export default Mechanism;
}

declare module 'sasl-plain' {
  const Mechanism: new () => JsSaslMechanism;
  export default Mechanism;
}

declare module 'sasl-anonymous' {
  const Mechanism: new () => JsSaslMechanism;
  export default Mechanism;
}
