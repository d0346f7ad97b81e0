const demoUsers = [
  { username: "vet-a", what: "veteran, agency A" },
  { username: "vet-b", what: "veteran, agency B" },
  { username: "operator-a", what: "operator, agency A" },
  { username: "operator-b", what: "operator, agency B" },
  { username: "admin", what: "administrator, all agencies" },
];

/** The demo accounts, shown only in demo mode (the seeded password is the default unless changed). */
export function DemoLogins() {
  return (
    <aside aria-labelledby="demo-logins-heading" className="rounded-md border-l-8 border-primary bg-info-lighter p-4">
      <h2 id="demo-logins-heading" className="text-base font-bold">
        Demo accounts
      </h2>
      <p className="mt-1 text-sm">
        This is a demonstration system. Sign in with one of these usernames and the password{" "}
        <code className="rounded bg-white px-1 font-mono">demo-pass</code> (unless your administrator set{" "}
        <code className="font-mono">HMS_DEMO_PASSWORD</code>).
      </p>
      <ul className="mt-2 grid gap-x-6 gap-y-1 text-sm sm:grid-cols-2">
        {demoUsers.map((u) => (
          <li key={u.username}>
            <code className="font-mono font-semibold">{u.username}</code> — {u.what}
          </li>
        ))}
      </ul>
    </aside>
  );
}
