import type pg from "pg";

/**
 * `COPY (…) TO STDOUT` on a node-postgres client, one callback per row, without a dependency
 * (node-postgres hands the CopyData messages of a submitted query object to its
 * `handleCopyData`, which is how pg-copy-streams works too).
 *
 * Why: COPY prints each column with its cached output function and escapes the text format in
 * one tight loop, and each row arrives as one message — several times cheaper, on both sides,
 * than a result set of many columns parsed field by field. The audit verifier streams a million
 * seals this way. Rows are delivered as they arrive (TCP flow control keeps PostgreSQL producing
 * while Node hashes). `row` is a view into the driver's read buffer, valid only during the call;
 * the line is `row[0, end)` (the trailing newline excluded, without allocating a sub-view).
 * Returning `false` from `onRow` ignores the rest of the rows (they are still read off the wire).
 */
type Connection = { query(text: string): void; sendCopyFail(msg: string): void };

class CopyOutQuery {
  callback?: (err: Error | null, res?: unknown) => void;
  private stopped = false;
  private failure: unknown = null;

  constructor(
    readonly text: string,
    private readonly onRow: (row: Buffer, end: number) => boolean | void,
  ) {}

  submit(connection: Connection): void {
    connection.query(this.text);
  }

  handleCopyData(msg: { chunk: Buffer }): void {
    if (this.stopped) return;
    try {
      if (this.onRow(msg.chunk, msg.chunk.length - 1) === false) this.stopped = true;
    } catch (err) {
      this.failure = err;
      this.stopped = true;
    }
  }

  handleCopyInResponse(connection: Connection): void {
    connection.sendCopyFail("COPY FROM is not supported here");
  }

  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCommandComplete(): void {}

  handleReadyForQuery(): void {
    const cb = this.callback;
    this.callback = undefined;
    cb?.(this.failure ? (this.failure as Error) : null);
  }

  handleError(err: Error): void {
    const cb = this.callback;
    this.callback = undefined;
    cb?.(err);
  }
}

/** Runs `COPY (<select>) TO STDOUT` (text format) and calls `onRow` with each line (no newline). */
export function copyOutRows(
  client: Pick<pg.ClientBase, "query">,
  select: string,
  onRow: (row: Buffer, end: number) => boolean | void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    // Each CopyData message of the text format is one row ending in "\n".
    const q = new CopyOutQuery(`COPY (${select}) TO STDOUT`, onRow);
    q.callback = (err) => (err ? reject(err) : resolve());
    (client.query as unknown as (q: CopyOutQuery) => void)(q);
  });
}
