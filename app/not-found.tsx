import Link from "next/link";

export default function NotFound() {
  return (
    <div className="max-w-2xl space-y-4">
      <p className="font-mono text-muted">404</p>
      <h1 className="text-4xl font-bold tracking-tight">Page not found</h1>
      <p className="text-lg">
        We can’t find the page you asked for. It may have moved, or the address may have a typo.
      </p>
      <ul className="list-inside list-disc space-y-1">
        <li>
          <Link href="/">Go to the home page</Link>
        </li>
        <li>
          <Link href="/portal">See your claims</Link>
        </li>
      </ul>
    </div>
  );
}
