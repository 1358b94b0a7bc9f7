// A load child process (see runner.ts): one Fleet, driven over IPC one request at a time.
import { Fleet } from './fleet.js';
import { seededCache, type WorkerReply, type WorkerRequest } from './runner.js';

let fleet: Fleet | undefined;

async function handle(request: WorkerRequest): Promise<unknown> {
  switch (request.op) {
    case 'init':
      fleet = new Fleet(request.target, seededCache(request.seeds));
      return null;
    case 'open':
      return requireFleet().open(request.accounts, request.options);
    case 'exchange':
      return requireFleet().exchange(request.options);
    case 'close':
      await requireFleet().closeAll();
      return null;
  }
}

function requireFleet(): Fleet {
  if (!fleet) throw new Error('not initialised');
  return fleet;
}

process.on('message', (request: WorkerRequest) => {
  handle(request).then(
    (result) => process.send?.({ id: request.id, ok: true, result } satisfies WorkerReply),
    (error: unknown) => process.send?.({ id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) } satisfies WorkerReply),
  );
});

// The parent went away (stop() or a crash): close what is open, bounded, and leave.
process.on('disconnect', () => {
  const timer = setTimeout(() => process.exit(0), 20_000);
  timer.unref();
  void (fleet?.closeAll() ?? Promise.resolve()).finally(() => process.exit(0));
});
