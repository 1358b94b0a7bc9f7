// The pure parts: lane dispatch and its bounds, the key memory, backoff, option checks.
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/backoff.js';
import { KeyMemory } from '../src/key-memory.js';
import { LaneDispatcher, type LaneItem, type Source } from '../src/lanes.js';
import { resolveSettings } from '../src/options.js';

class CountingSource implements Source {
  paused = 0;
  pauses = 0;
  pause(): void {
    this.paused++;
    this.pauses++;
  }
  resume(): void {
    this.paused--;
  }
}

function item(lane: string, source: Source, log: string[], name: string, gate?: Promise<void>, stale = false): LaneItem {
  return {
    lane,
    source,
    stale: () => stale,
    abandon: () => log.push(`abandon ${name}`),
    run: async () => {
      log.push(`start ${name}`);
      await (gate ?? Promise.resolve());
      log.push(`end ${name}`);
    },
  };
}

describe('LaneDispatcher', () => {
  it('serialises a lane, interleaves lanes round-robin, and respects concurrency', async () => {
    const dispatcher = new LaneDispatcher({ concurrency: 1, maxTotal: 100, maxPerLane: 100 });
    const source = new CountingSource();
    const log: string[] = [];
    for (const name of ['a1', 'a2', 'a3']) dispatcher.push(item('a', source, log, name));
    for (const name of ['b1', 'b2']) dispatcher.push(item('b', source, log, name));
    await dispatcher.idle();
    // One slot: a1, then b1 (lane b's turn), then a2, b2, a3.
    expect(log.filter((line) => line.startsWith('start'))).toEqual(['start a1', 'start b1', 'start a2', 'start b2', 'start a3']);
    expect(dispatcher.stats()).toMatchObject({ queued: 0, running: 0, lanes: 0 });
  });

  it('pauses the source of a lane over its bound and resumes it at half', async () => {
    const dispatcher = new LaneDispatcher({ concurrency: 4, maxTotal: 1000, maxPerLane: 4 });
    const source = new CountingSource();
    const log: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    for (let n = 0; n < 8; n++) dispatcher.push(item('hot', source, log, `h${n}`, gate));
    expect(source.paused).toBe(1);
    expect(source.pauses).toBe(1);
    release();
    await dispatcher.idle();
    expect(source.paused).toBe(0);
  });

  it('pauses every source that pushes past the total bound, once each', async () => {
    const dispatcher = new LaneDispatcher({ concurrency: 1, maxTotal: 4, maxPerLane: 100 });
    const one = new CountingSource();
    const two = new CountingSource();
    const log: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    for (let n = 0; n < 6; n++) dispatcher.push(item(`l${n}`, n % 2 === 0 ? one : two, log, `i${n}`, gate));
    expect([one.paused, two.paused]).toEqual([1, 1]);
    release();
    await dispatcher.idle();
    expect([one.paused, two.paused]).toEqual([0, 0]);
  });

  it('abandons stale items instead of running them', async () => {
    const dispatcher = new LaneDispatcher({ concurrency: 2, maxTotal: 100, maxPerLane: 100 });
    const source = new CountingSource();
    const log: string[] = [];
    dispatcher.push(item('a', source, log, 'fresh'));
    dispatcher.push(item('a', source, log, 'stale', undefined, true));
    await dispatcher.idle();
    expect(log).toEqual(['start fresh', 'end fresh', 'abandon stale']);
    expect(dispatcher.stats().abandoned).toBe(1);
  });
});

describe('KeyMemory', () => {
  it('remembers handled keys up to its capacity, least recently used first out', () => {
    const keys = new KeyMemory(2);
    for (const key of ['a', 'b']) {
      expect(keys.begin(key)).toBe('new');
      keys.settle(key);
    }
    expect(keys.begin('a')).toBe('done'); // touches a
    expect(keys.begin('c')).toBe('new');
    keys.settle('c'); // evicts b
    expect(keys.begin('b')).toBe('new');
    expect(keys.begin('a')).toBe('done');
  });

  it('tells waiting duplicates whether the original was handled or abandoned', () => {
    const keys = new KeyMemory(10);
    const outcomes: boolean[] = [];
    expect(keys.begin('k')).toBe('new');
    expect(keys.begin('k')).toBe('pending');
    keys.afterSettled('k', (handled) => outcomes.push(handled));
    keys.forget('k');
    expect(keys.begin('k')).toBe('new');
    keys.afterSettled('k', (handled) => outcomes.push(handled));
    keys.settle('k');
    keys.afterSettled('k', (handled) => outcomes.push(handled));
    expect(outcomes).toEqual([false, true, true]);
  });
});

describe('backoff', () => {
  it('doubles up to the cap, with jitter in the upper half', () => {
    const options = { initialMs: 100, maxMs: 1000 };
    expect(backoffDelay(0, options, () => 0)).toBe(50);
    expect(backoffDelay(0, options, () => 1)).toBe(100);
    expect(backoffDelay(3, options, () => 1)).toBe(800);
    expect(backoffDelay(10, options, () => 0)).toBe(500);
    expect(backoffDelay(1000, options, () => 1)).toBe(1000);
  });
});

describe('options', () => {
  const tls = { cert: 'x', key: 'y', ca: 'z' };
  it('refuses what cannot work', () => {
    expect(() => resolveSettings({ registrations: [], tls, gateways: [{ host: 'h', port: 1 }] })).toThrow(/at least one/);
    expect(() => resolveSettings({ registrations: [{ domain: 'Example.ORG', type: 'client' }], tls, gateways: [{ host: 'h', port: 1 }] })).toThrow(/canonical/);
    expect(() => resolveSettings({ registrations: [{ domain: 'example.org', type: 'client', weight: 0 }], tls, gateways: [{ host: 'h', port: 1 }] })).toThrow(/weight/);
    expect(() => resolveSettings({ registrations: [{ domain: 'example.org', type: 'client' }], tls, gateways: [{ host: 'h', port: 0 }] })).toThrow(/port/);
    expect(() => resolveSettings({ registrations: [{ domain: 'example.org', type: 'client' }], tls: { ...tls, key: '' }, gateways: [{ host: 'h', port: 1 }] })).toThrow(/tls.key/);
    expect(() => resolveSettings({ registrations: [{ domain: 'example.org', type: 'client' }], tls, gateways: [{ host: 'h', port: 1 }], concurrency: 0 })).toThrow(/concurrency/);
  });

  it('fills in defaults: an instance name, a 4 096-message window', () => {
    const settings = resolveSettings({ registrations: [{ domain: 'example.org', type: 'client' }], tls, gateways: [{ host: 'h', port: 1 }] });
    expect(settings.instance).toMatch(/-\d+-[0-9a-f]{6}$/);
    expect(settings.receiveLimits.maxUnackedMessages).toBe(4096);
    expect(settings.concurrency).toBe(256);
  });
});
