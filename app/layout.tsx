import type { Metadata, Viewport } from "next";
import type { ReactNode } from "react";
import { NavBar } from "@/components/nav-bar";
import { currentPrincipal } from "@/lib/auth/session";
import { Providers } from "./providers";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "HMS-SYS", template: "%s · HMS-SYS" },
  description: "Upload and follow disability claims; the control tower of the HMS service platform.",
};

export const viewport: Viewport = { themeColor: "#162e51" };

export default async function RootLayout({ children }: { children: ReactNode }) {
  const principal = await currentPrincipal();
  return (
    <html lang="en">
      <body className="flex min-h-screen flex-col bg-white text-ink antialiased">
        <a
          href="#main"
          className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:px-4 focus:py-2 focus:font-bold"
        >
          Skip to main content
        </a>
        <Providers>
          <NavBar principal={principal} />
          <main id="main" tabIndex={-1} className="mx-auto w-full max-w-5xl flex-1 px-4 py-8 sm:px-6 sm:py-10">
            {children}
          </main>
          <footer className="border-t border-line bg-surface">
            <div className="mx-auto max-w-5xl px-4 py-6 text-sm text-muted sm:px-6">
              HMS-SYS — claim intake and service management. Questions about your claim? Contact your agency’s claims
              office.
            </div>
          </footer>
        </Providers>
      </body>
    </html>
  );
}
