// The sasl package (layer 1) and the errors package (layer 1) each list RFC 6120 §6.5's SASL
// failure conditions, because neither may import the other. This pins the two lists together.
import { describe, expect, it } from 'vitest';
import { SASL_CONDITIONS } from '@ambrosia/sasl';
import { SASL_FAILURE_CONDITIONS } from '@ambrosia/errors';

describe('SASL failure conditions', () => {
  it('are the same in the sasl and errors packages', () => {
    expect([...SASL_CONDITIONS].sort()).toEqual([...SASL_FAILURE_CONDITIONS].sort());
    expect(SASL_CONDITIONS).toHaveLength(11);
  });
});
