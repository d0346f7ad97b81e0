"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";
import { signOut } from "next-auth/react";
import { useState } from "react";
import type { Principal } from "@/lib/auth/principal";

const roleLabels: Record<Principal["role"], string> = {
  veteran: "Veteran",
  operator: "Operator",
  admin: "Administrator",
};

interface NavLink {
  href: string;
  label: string;
  /** other paths that belong to this link's section */
  sections?: string[];
}

function linksFor(principal: Principal | null): NavLink[] {
  if (!principal) return [{ href: "/", label: "Home" }];
  if (principal.role === "veteran") {
    return [
      { href: "/", label: "Home" },
      { href: "/portal", label: "My claims" },
    ];
  }
  // Operators and admins land on the board; service pages live under /board.
  const board: NavLink = { href: "/", label: "Board", sections: ["/board"] };
  const operations: NavLink[] = [
    board,
    { href: "/circuits", label: "Circuits" },
    { href: "/traffic", label: "Traffic" },
    { href: "/review", label: "Claims" },
    { href: "/queues", label: "Queues" },
    { href: "/audit", label: "Audit" },
  ];
  if (principal.role === "admin") {
    return [
      ...operations,
      { href: "/admin/services", label: "Registry", sections: ["/admin/services", "/admin/registry"] },
      { href: "/admin/limits", label: "Rate limits" },
    ];
  }
  return operations;
}

/** The site header: product name, role-aware links, who is signed in, sign in / sign out. */
export function NavBar({ principal }: { principal: Principal | null }) {
  const pathname = usePathname();
  const [signingOut, setSigningOut] = useState(false);
  const links = linksFor(principal);

  const inSection = (href: string) => pathname === href || pathname.startsWith(`${href}/`);
  const isCurrent = (l: NavLink) =>
    (l.href === "/" ? pathname === "/" : inSection(l.href)) || (l.sections ?? []).some(inSection);

  return (
    <header className="bg-primary-darker text-white">
      <div className="mx-auto flex max-w-5xl flex-wrap items-center justify-between gap-x-8 gap-y-3 px-4 py-4 sm:px-6">
        <Link href="/" className="flex items-baseline gap-3 text-white no-underline hover:text-white">
          <span className="text-xl font-bold tracking-tight">HMS-SYS</span>
          <span className="hidden text-sm text-primary-lighter sm:inline">Claims and services</span>
        </Link>

        <nav aria-label="Main" className="flex flex-1 items-center">
          <ul className="flex flex-wrap items-center gap-1">
            {links.map((l) => (
              <li key={l.href}>
                <Link
                  href={l.href}
                  aria-current={isCurrent(l) ? "page" : undefined}
                  className="block rounded px-3 py-2 font-semibold text-white no-underline hover:bg-primary-dark hover:text-white aria-[current=page]:underline aria-[current=page]:decoration-2 aria-[current=page]:underline-offset-8"
                >
                  {l.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>

        <div className="flex items-center gap-4 text-sm">
          {principal ? (
            <>
              <p>
                <span className="sr-only">Signed in as </span>
                <span className="font-semibold">{principal.username}</span>{" "}
                <span className="text-primary-lighter">({roleLabels[principal.role]})</span>
              </p>
              <button
                type="button"
                className="btn btn-secondary px-3 py-1.5 text-sm"
                disabled={signingOut}
                onClick={() => {
                  setSigningOut(true);
                  void signOut({ callbackUrl: "/" });
                }}
              >
                {signingOut ? "Signing out…" : "Sign out"}
              </button>
            </>
          ) : (
            pathname !== "/signin" && (
              <Link href="/signin" className="btn btn-secondary px-3 py-1.5 text-sm">
                Sign in
              </Link>
            )
          )}
        </div>
      </div>
    </header>
  );
}
