/**
 * Group commit for durable records written on a hot path (one per request): rows added by
 * concurrent requests are written together, in one `write` call, and each caller's promise settles
 * only when the batch holding its row has been written. The caller awaits that before answering,
 * so nothing it reports as done is lost; what the database pays per commit (a WAL append, a round
 * trip) is paid once per batch instead of once per row.
 */
export interface BatchWriterOptions<Row> {
  /**
   * Writes one batch all or nothing (a single multi-row INSERT is atomic; several statements need
   * a transaction). A rejection fails every row of the batch with that error.
   */
  readonly write: (rows: readonly Row[]) => Promise<void>;
  /** Most rows in one batch (default 128): a batch starts as soon as this many are waiting. */
  readonly maxRows?: number;
  /**
   * Most rows waiting for a batch (default 10 000): past it, `add` fails at once instead of
   * queueing behind a database that stopped answering (memory stays bounded, callers get an error).
   */
  readonly maxQueuedRows?: number;
}

export interface BatchWriter<Row> {
  /**
   * Queues `row`. Resolves once the batch holding it has been written; rejects with the batch's
   * error if that batch failed (the row is then not written, nor retried).
   */
  add(row: Row): Promise<void>;
  /** Resolves once every row added so far has been written or has failed. */
  drain(): Promise<void>;
}

interface Pending<Row> {
  readonly row: Row;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

const DEFAULT_MAX_ROWS = 128;
const DEFAULT_MAX_QUEUED_ROWS = 10_000;

/** `add` refused: too many rows already wait for the database. */
export class BatchQueueFullError extends Error {
  constructor(limit: number) {
    super(`batch writer queue full (${String(limit)} rows waiting)`);
    this.name = 'BatchQueueFullError';
  }
}

/**
 * Batches are written one at a time, in the order their rows were added. Rows added during one
 * event-loop turn (every request whose bytes arrived together) are written at the next macrotask
 * (`setImmediate`), or at once when `maxRows` are waiting; rows added while a batch is being written
 * go in the next batch, started as soon as that one settles.
 */
export function createBatchWriter<Row>(options: BatchWriterOptions<Row>): BatchWriter<Row> {
  const maxRows = options.maxRows ?? DEFAULT_MAX_ROWS;
  const maxQueuedRows = options.maxQueuedRows ?? DEFAULT_MAX_QUEUED_ROWS;
  if (!Number.isSafeInteger(maxRows) || maxRows < 1) throw new RangeError('maxRows: a positive integer');
  if (!Number.isSafeInteger(maxQueuedRows) || maxQueuedRows < maxRows)
    throw new RangeError('maxQueuedRows: an integer of at least maxRows');
  let queue: Pending<Row>[] = [];
  /** The batch being written (it never rejects: its rows' promises carry the outcome). */
  let writing: Promise<void> | undefined;
  let scheduled = false;

  async function writeBatch(batch: readonly Pending<Row>[]): Promise<void> {
    try {
      await options.write(batch.map((pending) => pending.row));
    } catch (err) {
      for (const pending of batch) pending.reject(err);
      return;
    }
    for (const pending of batch) pending.resolve();
  }

  function flush(): void {
    if (writing !== undefined || queue.length === 0) return;
    const batch = queue.length <= maxRows ? queue : queue.slice(0, maxRows);
    queue = queue.length <= maxRows ? [] : queue.slice(maxRows);
    writing = writeBatch(batch).finally(() => {
      writing = undefined;
      // Rows that arrived meanwhile have waited one write already: no reason to wait longer.
      flush();
    });
  }

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      flush();
    });
  }

  return {
    add(row) {
      if (queue.length >= maxQueuedRows) return Promise.reject(new BatchQueueFullError(maxQueuedRows));
      return new Promise<void>((resolve, reject) => {
        queue.push({ row, resolve, reject });
        if (queue.length >= maxRows) flush();
        else schedule();
      });
    },
    async drain() {
      while (writing !== undefined || queue.length > 0) {
        flush();
        await writing;
      }
    },
  };
}
