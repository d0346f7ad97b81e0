import Link from "next/link";

/** What a signed-in non-admin sees on an admin page: plain words and a way back. */
export function AdminOnly({ role }: { role: string }) {
  return (
    <div role="alert" className="max-w-2xl space-y-3 rounded-md border-l-8 border-warning bg-warning-lighter p-4">
      <h1 className="text-2xl font-bold">This page is for administrators</h1>
      <p>
        You are signed in with an {role} account. Administrators register and change services; operators watch and act
        on them from the board.
      </p>
      <p>
        <Link href="/">Go to the service board</Link>
      </p>
    </div>
  );
}
