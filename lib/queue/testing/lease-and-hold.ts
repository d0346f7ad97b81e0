/**
 * A queue consumer for the kill -9 test (queue.int.test.ts): leases up to `max` messages with a
 * short visibility over HTTP, prints their ids as one JSON line, then holds the leases (never acks)
 * until it is killed.
 *   node --import tsx lib/queue/testing/lease-and-hold.ts <baseUrl> <token> <queue> <max> <visibilitySeconds>
 */
export {};
const [baseUrl, token, queue, max, visibility] = process.argv.slice(2);
if (!baseUrl || !token || !queue) {
  console.error("usage: lease-and-hold.ts <baseUrl> <token> <queue> [max] [visibilitySeconds]");
  process.exit(2);
}
const res = await fetch(`${baseUrl}/api/v1/queues/${queue}/lease`, {
  method: "POST",
  headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
  body: JSON.stringify({ max: Number(max ?? 10), visibilitySeconds: Number(visibility ?? 2) }),
});
if (res.status !== 200) {
  console.error(`lease failed: ${res.status} ${await res.text()}`);
  process.exit(1);
}
const { messages } = (await res.json()) as { messages: { id: string }[] };
process.stdout.write(JSON.stringify({ ids: messages.map((m) => m.id) }) + "\n");
// Hold the leases: "processing" forever, until SIGKILL.
setInterval(() => {}, 60_000);
