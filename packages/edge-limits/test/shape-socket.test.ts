import { EventEmitter, once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ManualClock, shapeSocket, TokenBucket, type ShapeableSocket } from '../src/index.js';

/** Waits (bounded, on the real event loop) until `condition` holds. */
async function until(condition: () => boolean, what: string, limitMs = 5000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > limitMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

describe('shapeSocket on a real socket pair', () => {
  it('delivers at most burst + rate·t + one read, and finishes in the time the rate implies', async () => {
    const RATE = 100_000; // bytes per second
    const BURST = 16_384;
    const MAX_READ = 65_536; // Node reads at most this much per 'data'
    const TOTAL = 1024 * 1024;
    const clock = new ManualClock();
    const bucket = new TokenBucket({ rate: RATE, burst: BURST, clock });

    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const client = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1' });
    const [socket] = await accepted;
    let received = 0;
    const shaper = shapeSocket(socket, bucket, { clock });
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    client.end(Buffer.alloc(TOTAL, 0x61));

    let elapsedMs = 0;
    try {
      for (let step = 0; step < 10_000 && received < TOTAL; step++) {
        // Time is frozen: reading can only go on until the bucket is in debt.
        await until(() => shaper.throttled || received === TOTAL, 'the shaper to pause or the transfer to end');
        expect(received).toBeLessThanOrEqual(BURST + (RATE * elapsedMs) / 1000 + MAX_READ);
        if (received === TOTAL) break;
        const due = clock.nextDueIn!;
        clock.advance(due);
        elapsedMs += due;
      }
      expect(received).toBe(TOTAL);
      expect(shaper.bytes).toBe(TOTAL);
      // Shaped: it took at least the time the rate implies for what the burst and one read do not cover...
      expect(elapsedMs).toBeGreaterThanOrEqual(((TOTAL - BURST - MAX_READ) * 1000) / RATE);
      // ...and not much more: each pause rounds its wait up by under 1 ms.
      expect(elapsedMs).toBeLessThanOrEqual(((TOTAL - BURST) * 1000) / RATE + shaper.throttles + 1);
      expect(shaper.throttles).toBeGreaterThan(5);
    } finally {
      client.destroy();
      socket.destroy();
      await new Promise((r) => server.close(r));
    }
    await until(() => shaper.throttled === false && clock.pending === 0, 'the shaper to stop on close');
  });
});

/** A socket stand-in recording pause/resume, to pin the ownership rules without a network. */
class FakeSocket extends EventEmitter implements ShapeableSocket {
  paused = false;
  pause(): this {
    this.paused = true;
    return this;
  }
  resume(): this {
    this.paused = false;
    return this;
  }
}

describe('SocketShaper pause ownership', () => {
  it('the timer does not resume a socket the application paused; resumeReading waits for the bucket', () => {
    const clock = new ManualClock();
    const socket = new FakeSocket();
    const shaper = shapeSocket(socket, new TokenBucket({ rate: 1000, burst: 100, clock }), { clock });
    socket.emit('data', Buffer.alloc(300)); // 200 bytes of debt: 200 ms
    expect(socket.paused).toBe(true);
    expect(shaper.throttled).toBe(true);
    shaper.pauseReading(); // the application's own backpressure
    clock.advance(200);
    expect(shaper.throttled).toBe(false);
    expect(socket.paused).toBe(true); // still held by the application
    shaper.resumeReading();
    expect(socket.paused).toBe(false);

    socket.emit('data', Buffer.alloc(50)); // 50 ms of debt again
    shaper.resumeReading(); // the application cannot override the rate
    expect(socket.paused).toBe(true);
    clock.advance(50);
    expect(socket.paused).toBe(false);
  });

  it('keeps one timer at most, and stop() clears it and lets reading go', () => {
    const clock = new ManualClock();
    const socket = new FakeSocket();
    const shaper = shapeSocket(socket, new TokenBucket({ rate: 1000, burst: 10, clock }), { clock });
    for (let i = 0; i < 5; i++) socket.emit('data', Buffer.alloc(100));
    expect(clock.pending).toBe(1);
    shaper.stop();
    expect(clock.pending).toBe(0);
    expect(socket.paused).toBe(false);
    socket.emit('data', Buffer.alloc(100)); // detached: no longer charged
    expect(shaper.bytes).toBe(500);
  });

  it('re-arms when rounding left a sliver of debt, rather than overspending', () => {
    const clock = new ManualClock();
    const socket = new FakeSocket();
    const bucket = new TokenBucket({ rate: 3, burst: 1, clock });
    shapeSocket(socket, bucket, { clock });
    socket.emit('data', Buffer.alloc(2)); // 1 token owed at 3/s: 333.3 ms, rounded up to 334
    clock.advance(334);
    expect(socket.paused).toBe(false);
    expect(bucket.available).toBeGreaterThanOrEqual(0);
  });

  it('stops by itself when the socket closes', () => {
    const clock = new ManualClock();
    const socket = new FakeSocket();
    shapeSocket(socket, new TokenBucket({ rate: 1000, burst: 10, clock }), { clock });
    socket.emit('data', Buffer.alloc(100));
    socket.emit('close');
    expect(clock.pending).toBe(0);
    expect(socket.listenerCount('data')).toBe(0);
  });
});
