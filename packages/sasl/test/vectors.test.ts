// Published test vectors: RFC 5802 §5 (SCRAM-SHA-1), RFC 7677 §3 (SCRAM-SHA-256) and the
// XEP-0474 §5.3 example (SCRAM-SHA-1-PLUS with tls-exporter and the "h" attribute).

import { describe, expect, it } from 'vitest';
import {
  downgradeProtectionHash,
  downgradeProtectionInput,
  makeScramCredentials,
  SaslServer,
  type CredentialRecord,
  type SaslContext,
} from '../src/index.js';
import { expectChallenge, expectSuccess } from './helpers.js';

function fixedLookup(record: CredentialRecord): SaslContext['lookup'] {
  return async (username) => (username === 'user' ? { kind: 'found', username, record } : { kind: 'unknown' });
}

describe('RFC 5802 §5: SCRAM-SHA-1 user/pencil', () => {
  it('reproduces every message of the example exchange', async () => {
    const record = await makeScramCredentials('pencil', {
      hashes: ['SHA-1'],
      iterations: 4096,
      salt: Buffer.from('QSXCR+Q6sek8bf92', 'base64'),
    });
    const server = new SaslServer({ nonce: () => '3rfcNHYJY1ZVvWVs7j', downgradeProtection: false });
    const ctx: SaslContext = {
      secure: false,
      channelBindings: {},
      offeredMechanisms: ['SCRAM-SHA-1'],
      lookup: fixedLookup(record),
    };
    const serverFirst = expectChallenge(await server.start('SCRAM-SHA-1', Buffer.from('n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL'), ctx));
    expect(serverFirst.toString()).toBe('r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096');
    const final = expectSuccess(
      await server.step(Buffer.from('c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=')),
    );
    expect(final.data?.toString()).toBe('v=rmF9pqV8S7suAoZWja4dJRkFsKQ=');
    expect(final.identity).toEqual({ kind: 'user', mechanism: 'SCRAM-SHA-1', username: 'user' });
  });
});

describe('RFC 7677 §3: SCRAM-SHA-256 user/pencil', () => {
  it('reproduces every message of the example exchange', async () => {
    const record = await makeScramCredentials('pencil', {
      hashes: ['SHA-256'],
      iterations: 4096,
      salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'),
    });
    const server = new SaslServer({ nonce: () => '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0', downgradeProtection: false });
    const ctx: SaslContext = {
      secure: false,
      channelBindings: {},
      offeredMechanisms: ['SCRAM-SHA-256'],
      lookup: fixedLookup(record),
    };
    const serverFirst = expectChallenge(await server.start('SCRAM-SHA-256', Buffer.from('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'), ctx));
    expect(serverFirst.toString()).toBe(
      'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
    );
    const final = expectSuccess(
      await server.step(
        Buffer.from(
          'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
        ),
      ),
    );
    expect(final.data?.toString()).toBe('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
  });
});

describe('XEP-0474 §5.3: SCRAM-SHA-1-PLUS with the downgrade-protection hash', () => {
  const mechanisms = ['SCRAM-SHA-1', 'SCRAM-SHA-1-PLUS'];
  const channelBindingTypes = ['tls-server-end-point', 'tls-exporter'];

  it('hashes the sorted lists with the 0x1E and 0x1F delimiters', () => {
    expect(downgradeProtectionInput(mechanisms, channelBindingTypes)).toBe(
      'SCRAM-SHA-1\x1eSCRAM-SHA-1-PLUS\x1ftls-exporter\x1etls-server-end-point',
    );
    expect(downgradeProtectionHash('SHA-1', mechanisms, channelBindingTypes)).toBe('G6k/rBLDqgOhRRaCuuatSDFkJ08=');
    // Without XEP-0440 there is no 0x1F part at all.
    expect(downgradeProtectionInput(['SCRAM-SHA-256', 'PLAIN'], undefined)).toBe('PLAIN\x1eSCRAM-SHA-256');
  });

  it('reproduces the example exchange, including a client extension attribute', async () => {
    const record = await makeScramCredentials('pencil', {
      hashes: ['SHA-1'],
      iterations: 4096,
      salt: Buffer.from('QSXCR+Q6sek8bf92', 'base64'),
    });
    const server = new SaslServer({ nonce: () => 'a09117a6-ac50-4f2f-93f1-93799c2bddf6' });
    const ctx: SaslContext = {
      secure: true,
      channelBindings: { 'tls-exporter': Buffer.from('THIS IS FAKE CB DATA') },
      offeredMechanisms: mechanisms,
      advertisedChannelBindingTypes: channelBindingTypes,
      lookup: fixedLookup(record),
    };
    const initial = Buffer.from(
      'cD10bHMtZXhwb3J0ZXIsLG49dXNlcixyPTEyQzRDRDVDLUUzOEUtNEE5OC04RjZELTE1QzM4RjUxQ0NDNg==',
      'base64',
    );
    const serverFirst = expectChallenge(await server.start('SCRAM-SHA-1-PLUS', initial, ctx));
    expect(serverFirst.toString('base64')).toBe(
      'cj0xMkM0Q0Q1Qy1FMzhFLTRBOTgtOEY2RC0xNUMzOEY1MUNDQzZhMDkxMTdhNi1hYzUwLTRmMmYtOTNmMS05Mzc5OWMyYmRkZjYscz1RU1hDUitRNnNlazhiZjkyLGk9NDA5NixoPUc2ay9yQkxEcWdPaFJSYUN1dWF0U0RGa0owOD0=',
    );
    const response = Buffer.from(
      'Yz1jRDEwYkhNdFpYaHdiM0owWlhJc0xGUklTVk1nU1ZNZ1JrRkxSU0JEUWlCRVFWUkIscj0xMkM0Q0Q1Qy1FMzhFLTRBOTgtOEY2RC0xNUMzOEY1MUNDQzZhMDkxMTdhNi1hYzUwLTRmMmYtOTNmMS05Mzc5OWMyYmRkZjYseD0xOUM2NTMyRi0xQ0Y0LTRBMjctQTE4RC1EQzlDRUE0MUJCQjMscD1NL1NJRGpUK2RmY3hVaDg5alpFeXBSdkZ4QjQ9',
      'base64',
    );
    const final = expectSuccess(await server.step(response));
    expect(final.data?.toString()).toBe('v=MQrMPvv7yv4x4Cq4W4Ih25EqS2c=');
  });
});
