// What the gateway benchmarks' parent processes share: a request/answer over a forked child's IPC
// channel, and a memory reading taken after the heap has settled. Not a benchmark itself (the
// bench runner takes only bench/*.mjs).

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Sends `message` to `child` and resolves with its first reply that has `key`. */
export function ask(child, message, key) {
  return new Promise((resolve) => {
    const onMessage = (reply) => {
      if (reply[key] !== undefined) {
        child.off('message', onMessage);
        resolve(reply);
      }
    };
    child.on('message', onMessage);
    child.send(message);
  });
}

/** Two full collections (gc exposed at run time when the process was not started with --expose-gc). */
export function collect() {
  let gc = globalThis.gc;
  if (gc === undefined) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc');
  }
  gc();
  gc();
}

/** Waits `quietMs` for the sockets to settle, collects, and reads process.memoryUsage(). */
export async function settle(quietMs) {
  await new Promise((resolve) => setTimeout(resolve, quietMs));
  collect();
  return process.memoryUsage();
}
