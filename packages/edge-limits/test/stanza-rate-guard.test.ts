import { describe, expect, it } from 'vitest';
import { DEFAULT_STANZA_RATE, ManualClock, StanzaRateGuard, type StanzaVerdict } from '../src/index.js';

describe('StanzaRateGuard', () => {
  it('ok within the burst, slow beyond it, cut when the debt passes maxDebt', () => {
    const clock = new ManualClock();
    const guard = new StanzaRateGuard({ rate: 10, burst: 5, maxDebt: 3, clock });
    const verdicts: StanzaVerdict[] = [];
    for (let i = 0; i < 10; i++) verdicts.push(guard.check());
    expect(verdicts).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'slow', 'slow', 'slow', 'cut', 'cut']);
  });

  it('slow says how long to stop reading, and after that wait the session is ok again', () => {
    const clock = new ManualClock();
    const guard = new StanzaRateGuard({ rate: 10, burst: 2, clock });
    guard.check();
    guard.check();
    expect(guard.check()).toBe('slow');
    expect(guard.retryAfterMs).toBe(100);
    expect(guard.debt).toBe(1);
    clock.advance(guard.retryAfterMs + 100);
    expect(guard.check()).toBe('ok');
  });

  it('a loop running at 3× the rate is cut, a session at the rate never is', () => {
    const clock = new ManualClock();
    const looping = new StanzaRateGuard({ clock });
    const steady = new StanzaRateGuard({ clock });
    let loopVerdict: StanzaVerdict = 'ok';
    let steadyWorst: StanzaVerdict = 'ok';
    for (let ms = 0; ms < 60_000 && loopVerdict !== 'cut'; ms += 20) {
      // steady: one stanza per 20 ms = 50/s; looping: three.
      if (steady.check() !== 'ok') steadyWorst = 'slow';
      for (let i = 0; i < 3; i++) loopVerdict = looping.check();
      clock.advance(20);
    }
    expect(loopVerdict).toBe('cut');
    expect(steadyWorst).toBe('ok');
  });

  it('has documented defaults', () => {
    expect(DEFAULT_STANZA_RATE).toEqual({ rate: 50, burst: 100, maxDebt: 200 });
    expect(() => new StanzaRateGuard({ maxDebt: 0 })).toThrow(RangeError);
  });
});
