// A byte-rate shaper for a readable socket: every chunk read is charged to a token bucket; when
// the bucket is in debt, reading pauses (TCP backpressure reaches the peer through the kernel's
// receive window) and resumes when the debt is repaid. One timer per socket at most.
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import type { TokenBucket } from './token-bucket.js';

/** What the shaper needs of a socket (a net.Socket, a TLSSocket, any Readable): 'data', 'close', pause, resume. */
export interface ShapeableSocket {
  // `any[]` so that every EventEmitter's listener signature matches structurally.
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
  pause(): unknown;
  resume(): unknown;
}

export interface ShapeSocketOptions {
  /** Must be the bucket's clock, so the wait it computes and the timer agree. */
  readonly clock?: Clock;
}

/**
 * Returned by {@link shapeSocket}. Once a socket is shaped, the application pauses and resumes
 * reading through `pauseReading()`/`resumeReading()` (its own backpressure), never directly on
 * the socket: reading flows only when neither the application nor the bucket holds it.
 */
export class SocketShaper {
  private timer: TimerHandle | undefined = undefined;
  private heldByApplication = false;
  private stopped = false;
  /** Bytes charged to the bucket so far. */
  bytes = 0;
  /** Times reading was paused for the rate. */
  throttles = 0;

  constructor(
    private readonly socket: ShapeableSocket,
    private readonly bucket: TokenBucket,
    private readonly clock: Clock,
  ) {
    socket.on('data', this.onData);
    socket.on('close', this.stop);
  }

  /** True while reading is paused because the bucket is in debt. */
  get throttled(): boolean {
    return this.timer !== undefined;
  }

  pauseReading(): void {
    this.heldByApplication = true;
    this.socket.pause();
  }

  resumeReading(): void {
    this.heldByApplication = false;
    if (!this.throttled && !this.stopped) this.socket.resume();
  }

  /** Detaches from the socket and cancels the timer; reading is resumed unless the application holds it. */
  readonly stop = (): void => {
    if (this.stopped) return;
    this.stopped = true;
    this.socket.off('data', this.onData);
    this.socket.off('close', this.stop);
    const wasThrottled = this.throttled;
    this.cancelTimer();
    if (wasThrottled && !this.heldByApplication) this.socket.resume();
  };

  private readonly onData = (chunk: Buffer | string): void => {
    const size = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    this.bytes += size;
    const wait = this.bucket.take(size);
    if (wait <= 0 || this.throttled) return;
    this.throttles++;
    this.socket.pause();
    this.timer = this.clock.setTimeout(this.onTimer, wait);
  };

  private readonly onTimer = (): void => {
    this.timer = undefined;
    if (this.stopped) return;
    // Rounding can leave a sliver of debt: wait for it rather than overspend.
    const wait = this.bucket.waitTime(0);
    if (wait > 0) {
      this.timer = this.clock.setTimeout(this.onTimer, wait);
      return;
    }
    if (!this.heldByApplication) this.socket.resume();
  };

  private cancelTimer(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }
}

/**
 * Shapes the bytes read from `socket` to the bucket's rate. Bytes delivered by time t stay
 * within `burst + rate·t + one read` (a chunk already read cannot be un-read; Node reads at most
 * 64 KiB at a time). The shaper stops by itself when the socket closes.
 */
export function shapeSocket(socket: ShapeableSocket, bucket: TokenBucket, options: ShapeSocketOptions = {}): SocketShaper {
  return new SocketShaper(socket, bucket, options.clock ?? systemClock);
}
