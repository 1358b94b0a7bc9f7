// Per-session cost of the client stream state machine: heap per established session (bound,
// XEP-0198 with resumption on, idle), and the time to negotiate one from bytes (header, PLAIN,
// restart, bind, enable) with an authenticator that does no cryptography, so the figure is the
// stream's own. Runs against the built package: `npm run bench -- stream`.

const SESSIONS = 5000;
const HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>";
const LOGIN = [
  HEADER,
  `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0juliet\0secret').toString('base64')}</auth>`,
  HEADER,
  "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq><enable xmlns='urn:xmpp:sm:3' resume='true'/>",
];

/** Accepts PLAIN for anyone: the benchmark measures the stream, not SASL. */
const authenticator = {
  offeredMechanisms: () => ['PLAIN'],
  session: () => ({
    identity: undefined,
    start: async () => ({ kind: 'success', identity: { kind: 'user', mechanism: 'PLAIN', username: 'juliet' } }),
    step: async () => ({ kind: 'failure', condition: 'malformed-request' }),
    abort: () => ({ kind: 'failure', condition: 'aborted' }),
  }),
};

/** The cheapest transport possible: counts bytes, keeps nothing. */
function nullTransport() {
  return {
    remoteAddress: '127.0.0.1',
    canStartTls: false,
    written: 0,
    write(data) {
      this.written += data.length;
      return true;
    },
    startTls() {},
    pauseReading() {},
    resumeReading() {},
    close() {},
    destroy() {},
  };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

async function settle(stream) {
  for (let i = 0; i < 100 && stream.busy; i++) await turn();
}

/** Drives `count` sessions to an established, resumable state and keeps them. */
async function establish({ ClientStream, ManualClock }, count) {
  const clock = new ManualClock(0);
  const chunks = LOGIN.map((s) => Buffer.from(s, 'utf8'));
  let resource = 0;
  const hooks = {
    authenticator,
    resolveDomain: () => ({ kind: 'served' }),
    bind: async (request) => ({ kind: 'bound', jid: request.jid.withResource(`r${resource++}`) }),
    onStanza: async () => {},
    resume: () => ({ kind: 'unknown' }),
  };
  const streams = [];
  for (let i = 0; i < count; i++) {
    const stream = new ClientStream({ transport: nullTransport(), hooks, clock, tls: { channelBindings: {} } });
    for (const chunk of chunks) {
      stream.receive(chunk);
      await settle(stream);
    }
    if (stream.state !== 'established') throw new Error(`session ${i} is ${stream.state}`);
    streams.push(stream);
  }
  return streams;
}

function heapUsed() {
  globalThis.gc?.();
  globalThis.gc?.();
  return process.memoryUsage().heapUsed;
}

/** Takes the package's exports so a test can run it against the sources. */
export async function measure(api, count = SESSIONS) {
  await establish(api, 50); // warm up code paths and caches
  const before = heapUsed();
  const started = performance.now();
  const streams = await establish(api, count);
  const elapsed = performance.now() - started;
  const after = heapUsed();
  const perSession = (after - before) / streams.length;
  for (const stream of streams) stream.close();
  return [
    { name: 'stream: heap per established session (bound, XEP-0198 resumable, idle)', value: Math.round(perSession), unit: 'bytes' },
    { name: 'stream: negotiation from bytes (header, PLAIN, restart, bind, enable)', value: Math.round((count / elapsed) * 1000), unit: 'sessions/s' },
  ];
}

export async function run() {
  const api = await import('../dist/index.js');
  return measure(api);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await run()) console.log(`${r.name}: ${r.value} ${r.unit}`);
}
