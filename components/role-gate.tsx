import Link from "next/link";

/** What a signed-in veteran sees on an operators' page: the page's own heading and a way to their claims. */
export function NotForVeterans({ title }: { title: string }) {
  return (
    <div role="alert" className="max-w-2xl space-y-3 rounded-md border-l-8 border-warning bg-warning-lighter p-4">
      <h1 className="text-2xl font-bold">{title}</h1>
      <p>
        You are signed in as a veteran. <Link href="/portal">Go to your claims</Link>.
      </p>
    </div>
  );
}
