// Per-lane serial dispatch (docs/service-protocol.md §7.3 on the receiving side): the items of
// one lane (a client session, or a bare JID) run one at a time in arrival order; up to
// `concurrency` lanes run at once, taking turns round-robin so a busy lane cannot starve others.
//
// Bounds: the queue never drops. When a lane holds more than `maxPerLane` items, or all lanes
// together more than `maxTotal`, the source that delivered the item is told to stop reading
// (`Source.pause`) until the lane, or the total, is back to half its bound.

/** What feeds items: a gateway connection, which can stop reading its transport. */
export interface Source {
  pause(): void;
  resume(): void;
}

export interface LaneItem {
  lane: string;
  source: Source;
  /** Runs the item; never rejects (the item reports its own failures). */
  run(): Promise<void>;
  /** True when the item must not run any more (its channel ended: it will be redelivered elsewhere). */
  stale(): boolean;
  /** Called instead of run() for a stale item. */
  abandon(): void;
}

export interface LaneLimits {
  concurrency: number;
  maxTotal: number;
  maxPerLane: number;
}

interface Lane {
  key: string;
  items: LaneItem[];
  /** Index of the next item in `items` (a head index instead of shift(): O(1) dequeue). */
  head: number;
  running: boolean;
  /** Sources paused because this lane is over its bound; resumed at half. */
  pausedSources: Source[];
}

export interface LaneStats {
  queued: number;
  running: number;
  lanes: number;
  abandoned: number;
  pausedForTotal: boolean;
}

export class LaneDispatcher {
  private readonly lanes = new Map<string, Lane>();
  /** Lanes with work waiting for a concurrency slot, in turn order. */
  private readonly ready: Lane[] = [];
  private readyHead = 0;
  private running = 0;
  private queued = 0;
  private abandoned = 0;
  /** Sources paused because the total is over its bound (each once), resumed at half. */
  private readonly totalPaused = new Set<Source>();
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly limits: LaneLimits) {}

  /** Items queued or running. */
  get size(): number {
    return this.queued;
  }

  stats(): LaneStats {
    return { queued: this.queued, running: this.running, lanes: this.lanes.size, abandoned: this.abandoned, pausedForTotal: this.totalPaused.size > 0 };
  }

  push(item: LaneItem): void {
    let lane = this.lanes.get(item.lane);
    if (lane === undefined) {
      lane = { key: item.lane, items: [], head: 0, running: false, pausedSources: [] };
      this.lanes.set(item.lane, lane);
    }
    const wasEmpty = lane.items.length === lane.head;
    lane.items.push(item);
    this.queued++;
    if (lane.items.length - lane.head > this.limits.maxPerLane && !lane.pausedSources.includes(item.source)) {
      lane.pausedSources.push(item.source);
      item.source.pause();
    }
    if (this.queued > this.limits.maxTotal && !this.totalPaused.has(item.source)) {
      this.totalPaused.add(item.source);
      item.source.pause();
    }
    if (wasEmpty && !lane.running) this.enqueueReady(lane);
    this.pump();
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.queued === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private enqueueReady(lane: Lane): void {
    this.ready.push(lane);
  }

  private nextReady(): Lane | undefined {
    if (this.readyHead >= this.ready.length) return undefined;
    const lane = this.ready[this.readyHead++];
    if (this.readyHead > 1024 && this.readyHead * 2 > this.ready.length) {
      this.ready.splice(0, this.readyHead);
      this.readyHead = 0;
    }
    return lane;
  }

  private pump(): void {
    while (this.running < this.limits.concurrency) {
      const lane = this.nextReady();
      if (lane === undefined) return;
      const item = this.take(lane);
      if (item === undefined) continue;
      if (item.stale()) {
        this.abandoned++;
        item.abandon();
        this.finish(lane);
        continue;
      }
      lane.running = true;
      this.running++;
      item.run().then(
        () => this.settled(lane),
        () => this.settled(lane),
      );
    }
  }

  private take(lane: Lane): LaneItem | undefined {
    if (lane.head >= lane.items.length) return undefined;
    const item = lane.items[lane.head]!;
    lane.items[lane.head++] = undefined as unknown as LaneItem;
    if (lane.head > 64 && lane.head * 2 > lane.items.length) {
      lane.items.splice(0, lane.head);
      lane.head = 0;
    }
    return item;
  }

  private settled(lane: Lane): void {
    lane.running = false;
    this.running--;
    this.finish(lane);
    this.pump();
  }

  /** One item of `lane` is done (run or abandoned): release bounds, requeue or drop the lane. */
  private finish(lane: Lane): void {
    this.queued--;
    const remaining = lane.items.length - lane.head;
    if (lane.pausedSources.length > 0 && remaining <= this.limits.maxPerLane / 2) {
      for (const source of lane.pausedSources.splice(0)) source.resume();
    }
    if (this.totalPaused.size > 0 && this.queued <= this.limits.maxTotal / 2) {
      const sources = [...this.totalPaused];
      this.totalPaused.clear();
      for (const source of sources) source.resume();
    }
    if (remaining > 0) {
      // Round-robin: the lane goes to the back of the turn order (fairness across lanes).
      if (!lane.running) this.enqueueReady(lane);
    } else if (!lane.running) {
      this.lanes.delete(lane.key);
    }
    if (this.queued === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const waiter of waiters) waiter();
    }
  }
}
