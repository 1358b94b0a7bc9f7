// The hooks every test file that runs `ambrosia` as child processes shares: before its tests the
// CLI is built and a fixture started; after them the file's clients are closed, its recording
// service stopped, every `ambrosia` process killed and the fixture closed.
import { afterAll, beforeAll } from 'vitest';
import { ensureBuilt, killAll } from './ambrosia-process.js';
import { createFixture, type Fixture, type RecordingService } from './fixture.js';
import type { RawClient } from './raw-client.js';

export interface ProcessTestHooks {
  /** Handed the fixture once it is started (before the first test). */
  started(fixture: Fixture): void;
  /** The file's clients; whatever it holds at the end is closed. */
  clients: readonly RawClient[];
  /** The file's recording service, if it started one, stopped at the end. */
  service?: () => RecordingService | undefined;
}

export function useProcessTest(hooks: ProcessTestHooks): void {
  let fixture: Fixture | undefined;
  beforeAll(async () => {
    ensureBuilt();
    fixture = await createFixture();
    hooks.started(fixture);
  }, 300_000);

  afterAll(async () => {
    for (const client of hooks.clients) client.close();
    await hooks.service?.()?.stop();
    await killAll();
    await fixture?.close();
  });
}
