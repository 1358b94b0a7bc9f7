// One transport connection carrying a channel (docs/service-protocol.md §1): the frame decoder,
// a write batcher, and one refreshed timer that drives heartbeats and every deadline (§12).
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { ChannelError, LinkErrorCode } from './errors.js';
import { FLAGS_SINGLE, FRAME_HEADER_SIZE, FrameDecoder, writeFrameHeader } from './frame.js';
import { type LinkMessage, encodeMessage } from './messages.js';

export interface LinkHandler {
  frame(link: Link, type: number, flags: number, id: number, payload: Buffer): void;
  /** The decoder found a protocol violation; no more frames will come. */
  decodeError(link: Link, error: ChannelError): void;
  /** The transport ended, closed or failed. Called at most once, never after close(). */
  lost(link: Link, code: LinkErrorCode, cause?: unknown): void;
  /** The transport accepts writes again. */
  drained(link: Link): void;
  /** Periodic: heartbeats and deadlines. `now` is performance.now(). */
  tick(link: Link, now: number): void;
}

/** Frames are gathered into buffers of this size and written one buffer at a time. */
const BATCH_SIZE = 64 * 1024;
/** After ERROR/CLOSE the transport is ended; if the peer does not finish within this, destroyed. */
const END_GRACE_MS = 1_000;

export function monotonicNow(): number {
  return performance.now();
}

export class Link {
  readonly transport: Duplex;
  private handler: LinkHandler;
  private readonly decoder: FrameDecoder;
  private batch: Buffer = Buffer.allocUnsafe(BATCH_SIZE);
  private batchStart = 0;
  private batchUsed = 0;
  private timer: NodeJS.Timeout | undefined = undefined;
  private tickMs: number;
  private readonly onData: (chunk: Buffer) => void;
  private readonly onDrain: () => void;
  private readonly onEnd: () => void;
  private readonly onClose: () => void;
  private readonly onError: (error: unknown) => void;

  /** The transport refused more data (write returned false) and has not drained yet. */
  blocked = false;
  blockedSince = 0;
  wroteSinceTick = false;
  receivedSinceTick = false;
  lastReceiveAt: number;
  /** No more handler calls; writes are ignored. */
  closed = false;
  /** ERROR or CLOSE was written: nothing may follow (§14.2). */
  finished = false;
  bytesRead = 0;
  bytesWritten = 0;

  constructor(transport: Duplex, handler: LinkHandler, maxFramePayload: number, tickMs: number) {
    this.transport = transport;
    this.handler = handler;
    this.tickMs = tickMs;
    this.lastReceiveAt = monotonicNow();
    this.decoder = new FrameDecoder(
      {
        frame: (type, flags, id, payload) => {
          if (!this.closed) this.handler.frame(this, type, flags, id, payload);
        },
        error: (error) => {
          if (!this.closed) this.handler.decodeError(this, error);
        },
      },
      maxFramePayload,
    );
    this.onData = (chunk: Buffer) => {
      if (this.closed) return;
      this.receivedSinceTick = true;
      this.bytesRead += chunk.length;
      this.decoder.push(chunk);
    };
    this.onDrain = () => {
      if (this.closed) return;
      this.blocked = false;
      this.handler.drained(this);
    };
    this.onEnd = () => this.lose('link-closed');
    this.onClose = () => this.lose('link-closed');
    this.onError = (error: unknown) => this.lose('link-closed', error);
    transport.on('data', this.onData);
    transport.on('drain', this.onDrain);
    transport.on('end', this.onEnd);
    transport.on('close', this.onClose);
    transport.on('error', this.onError);
    this.startTimer();
    if (transport.destroyed) queueMicrotask(() => this.lose('link-closed'));
  }

  setHandler(handler: LinkHandler): void {
    this.handler = handler;
  }

  setMaxFramePayload(value: number): void {
    this.decoder.setMaxFramePayload(value);
  }

  setTickInterval(ms: number): void {
    if (ms === this.tickMs) return;
    this.tickMs = ms;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.startTimer();
  }

  /** Stop decoding input (after a violation, or once ERROR/CLOSE arrived). */
  stopReading(): void {
    this.decoder.stop();
  }

  get writableLength(): number {
    return this.transport.writableLength;
  }

  private startTimer(): void {
    // One timer per link, refreshed after each tick rather than recreated (style.md, undici).
    const timer = setTimeout(() => {
      if (this.closed) return;
      this.handler.tick(this, monotonicNow());
      if (!this.closed) timer.refresh();
    }, this.tickMs);
    timer.unref();
    this.timer = timer;
  }

  /** Appends one frame to the write batch, copying its payload slices once. */
  appendFrame(type: number, flags: number, id: number, slices: readonly Buffer[], length: number): void {
    if (this.closed || this.finished) return;
    const frameSize = FRAME_HEADER_SIZE + length;
    if (this.batch.length - this.batchUsed < frameSize) {
      this.flush();
      if (frameSize > BATCH_SIZE) {
        const frame = Buffer.allocUnsafe(frameSize);
        writeFrameHeader(frame, 0, type, flags, id, length);
        let offset = FRAME_HEADER_SIZE;
        for (const slice of slices) offset += slice.copy(frame, offset);
        this.write(frame);
        return;
      }
      this.batch = Buffer.allocUnsafe(BATCH_SIZE);
      this.batchStart = this.batchUsed = 0;
    }
    const batch = this.batch;
    writeFrameHeader(batch, this.batchUsed, type, flags, id, length);
    let offset = this.batchUsed + FRAME_HEADER_SIZE;
    for (const slice of slices) offset += slice.copy(batch, offset);
    this.batchUsed = offset;
    if (this.batchUsed === batch.length) this.flush();
  }

  appendMessage(message: LinkMessage): void {
    const encoded = encodeMessage(message);
    this.appendFrame(encoded.type, FLAGS_SINGLE, 0, encoded.parts, encoded.size);
  }

  /** Writes what the batch holds. Returns false when the transport is full. */
  flush(): boolean {
    if (this.batchUsed > this.batchStart) {
      // The written region is never touched again: the next frames go after it.
      const chunk = this.batch.subarray(this.batchStart, this.batchUsed);
      this.batchStart = this.batchUsed;
      this.write(chunk);
    }
    return !this.blocked;
  }

  private write(chunk: Buffer): void {
    if (this.closed || this.transport.destroyed) return;
    this.wroteSinceTick = true;
    this.bytesWritten += chunk.length;
    if (!this.transport.write(chunk) && !this.blocked) {
      this.blocked = true;
      this.blockedSince = monotonicNow();
    }
  }

  /** Writes what is pending, ends the transport and stops all handler calls (after ERROR/CLOSE). */
  end(): void {
    if (this.closed) return;
    this.flush();
    this.finished = true;
    this.detachListeners();
    const transport = this.transport;
    if (!transport.destroyed) {
      // Discard whatever the peer still sends so its end can arrive and close the transport.
      transport.resume();
      transport.end();
      const grace = setTimeout(() => transport.destroy(), END_GRACE_MS);
      grace.unref();
      transport.once('close', () => clearTimeout(grace));
    }
  }

  /** Drops the transport at once (link lost, or replaced). */
  destroy(): void {
    if (this.closed) return;
    this.detachListeners();
    this.transport.destroy();
  }

  private lose(code: LinkErrorCode, cause?: unknown): void {
    if (this.closed) return;
    this.detachListeners();
    this.transport.destroy();
    this.handler.lost(this, code, cause);
  }

  private detachListeners(): void {
    this.closed = true;
    this.decoder.stop();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const transport = this.transport;
    transport.off('data', this.onData);
    transport.off('drain', this.onDrain);
    transport.off('end', this.onEnd);
    transport.off('close', this.onClose);
    transport.off('error', this.onError);
    // A late error from a transport we no longer use must not crash the process.
    transport.on('error', ignore);
  }
}

function ignore(): void {}
