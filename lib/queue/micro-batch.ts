/**
 * Group commit in the application: calls that arrive while `maxInFlight` batches are already
 * running wait and go together in the next batch (one statement, one transaction, one round
 * trip). A lone call runs at once, so an idle system adds no latency; under load, N concurrent
 * callers cost about N / batch-size database transactions instead of N. `run` answers one
 * result per item, in order — a value, or an Error for that item alone; if `run` itself throws,
 * every item of its batch gets that error.
 */
export class MicroBatcher<I, O> {
  private pending: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private inFlight = 0;
  /** batches run and items carried, for tests and tuning */
  readonly stats = { batches: 0, items: 0 };

  constructor(
    private readonly run: (items: I[]) => Promise<(O | Error)[]>,
    private readonly opts: { maxInFlight: number; maxBatch: number },
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.opts.maxInFlight && this.pending.length > 0) {
      const batch = this.pending.splice(0, this.opts.maxBatch);
      this.inFlight++;
      this.stats.batches++;
      this.stats.items += batch.length;
      let work: Promise<(O | Error)[]>;
      try {
        work = this.run(batch.map((b) => b.item));
      } catch (err) {
        work = Promise.reject(err);
      }
      work
        .then(
          (outs) =>
            batch.forEach((b, i) => {
              const o = outs[i];
              if (o instanceof Error) b.reject(o);
              else if (i >= outs.length) b.reject(new Error("MicroBatcher: no result for an item"));
              else b.resolve(o as O);
            }),
          (err: unknown) => batch.forEach((b) => b.reject(err)),
        )
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }
}
