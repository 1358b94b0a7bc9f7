// An in-memory transport: two connected Duplex streams with real backpressure, so channels can
// be tested (and embedded in one process) without sockets. A side that stops reading makes the
// other side's writes buffer and its write() return false, exactly like a closed TCP window.
import { Duplex } from 'node:stream';

export interface DuplexPairOptions {
  /** Bytes a side buffers for its reader before the writer is held back. Default 64 KiB. */
  highWaterMark?: number;
}

class PairedDuplex extends Duplex {
  peer!: PairedDuplex;
  /** The peer's write callback, held until this side's reader wants more. */
  private heldWrite: (() => void) | undefined = undefined;

  constructor(highWaterMark: number) {
    super({ readableHighWaterMark: highWaterMark, writableHighWaterMark: highWaterMark, allowHalfOpen: false });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const peer = this.peer;
    if (peer.destroyed) {
      callback();
      return;
    }
    if (peer.push(chunk)) callback();
    else peer.heldWrite = () => callback();
  }

  override _read(): void {
    const held = this.heldWrite;
    if (held !== undefined) {
      this.heldWrite = undefined;
      held();
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.peer.destroyed) this.peer.push(null);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const held = this.heldWrite;
    this.heldWrite = undefined;
    held?.();
    // Like a TCP reset: the other side sees its transport close.
    if (!this.peer.destroyed) this.peer.destroy();
    callback(error);
  }
}

/** Two connected in-memory Duplex streams: what one writes, the other reads. */
export function createDuplexPair(options: DuplexPairOptions = {}): [Duplex, Duplex] {
  const highWaterMark = options.highWaterMark ?? 64 * 1024;
  const a = new PairedDuplex(highWaterMark);
  const b = new PairedDuplex(highWaterMark);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
