import type { AddressInfo, Socket } from 'node:net';
import { connect, createServer, type ConnectionOptions, type PeerCertificate, type TLSSocket, type TlsOptions } from 'node:tls';
import { authorisedChannelPeer, type PeerAuthorisation } from '../src/index.js';

export interface HandshakeOutcome {
  server: { accepted: boolean; authorizationError?: string | undefined; protocol?: string | null; peer?: PeerAuthorisation | undefined; peerCertificate?: PeerCertificate; servername?: string | false | null; error?: Error };
  client: { accepted: boolean; authorized?: boolean; protocol?: string | null; peerCertificate?: PeerCertificate; error?: Error };
}

/** No outcome within this bound means a hung handshake: report it instead of waiting forever. */
const OUTCOME_TIMEOUT_MS = 10_000;

/**
 * One real TLS connection on 127.0.0.1. The server records what it saw and writes "ok" to an
 * accepted peer; the client counts as accepted only once that "ok" arrives. In TLS 1.3 the
 * client finishes its side of the handshake before the server has checked the client's
 * certificate, so "secureConnect" alone would not show a rejection by the server.
 */
export async function handshake(
  serverOptions: TlsOptions,
  clientOptions: ConnectionOptions,
  extra: { host?: string; onServerSocket?: (socket: TLSSocket) => void; onClientSocket?: (socket: TLSSocket) => void } = {},
): Promise<HandshakeOutcome> {
  let settleServer!: (value: HandshakeOutcome['server']) => void;
  const serverOutcome = new Promise<HandshakeOutcome['server']>((resolve) => (settleServer = resolve));
  const server = createServer(serverOptions, (socket) => {
    socket.on('error', () => {});
    extra.onServerSocket?.(socket);
    settleServer({
      accepted: true,
      protocol: socket.getProtocol(),
      peer: authorisedChannelPeer(socket),
      peerCertificate: socket.getPeerCertificate(),
      servername: socket.servername,
    });
    socket.end('ok');
  });
  // A client certificate that fails verification is dropped by Node without an error of its
  // own; the reason is left on the socket as authorizationError (an OpenSSL X509_V_ERR code).
  server.on('tlsClientError', (error, socket) => settleServer({ accepted: false, error, authorizationError: socket.authorizationError as unknown as string | undefined }));
  const rawSockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    rawSockets.add(socket);
    socket.on('close', () => rawSockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const clientOutcome = new Promise<HandshakeOutcome['client']>((resolve) => {
    const socket = connect({ host: extra.host ?? '127.0.0.1', port, ...clientOptions });
    extra.onClientSocket?.(socket);
    let authorized: boolean | undefined;
    let protocol: string | null | undefined;
    let peerCertificate: PeerCertificate | undefined;
    socket.on('secureConnect', () => {
      authorized = socket.authorized;
      protocol = socket.getProtocol();
      peerCertificate = socket.getPeerCertificate();
    });
    socket.on('data', (chunk: Buffer) => {
      if (chunk.toString() === 'ok') resolve({ accepted: true, authorized, protocol, peerCertificate });
      socket.destroy();
    });
    socket.on('error', (error) => {
      resolve({ accepted: false, error });
      socket.destroy();
    });
    socket.on('close', () => resolve({ accepted: false, authorized, protocol, error: new Error('closed without the server accepting') }));
  });

  const timeout = <T>(fallback: T) =>
    new Promise<T>((resolve) => {
      const timer = setTimeout(() => resolve(fallback), OUTCOME_TIMEOUT_MS);
      timer.unref();
    });
  const [serverResult, clientResult] = await Promise.all([
    Promise.race([serverOutcome, timeout<HandshakeOutcome['server']>({ accepted: false, error: new Error('server saw no outcome') })]),
    Promise.race([clientOutcome, timeout<HandshakeOutcome['client']>({ accepted: false, error: new Error('client saw no outcome') })]),
  ]);
  for (const socket of rawSockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return { server: serverResult, client: clientResult };
}

/** OpenSSL's reason for a failed handshake, from either side, for assertions. */
export function failureText(outcome: HandshakeOutcome): string {
  const parts = [outcome.server.error, outcome.client.error].filter((e): e is Error => e !== undefined);
  const texts = parts.map((e) => `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`);
  if (outcome.server.authorizationError) texts.unshift(`server: ${outcome.server.authorizationError}`);
  return texts.join(' | ');
}
