"use client";

import { signIn } from "next-auth/react";
import { useId, useRef, useState, type FormEvent } from "react";

interface FieldErrors {
  username?: string;
  password?: string;
}

/** The credentials form: labelled fields, errors tied to their inputs, the form error announced. */
export function SignInForm({ callbackUrl, initialError }: { callbackUrl: string; initialError: string | null }) {
  const id = useId();
  const [formError, setFormError] = useState<string | null>(initialError);
  const [fieldErrors, setFieldErrors] = useState<FieldErrors>({});
  const [pending, setPending] = useState(false);
  const usernameRef = useRef<HTMLInputElement>(null);
  const passwordRef = useRef<HTMLInputElement>(null);

  const ids = {
    formError: `${id}-form-error`,
    username: `${id}-username`,
    usernameError: `${id}-username-error`,
    password: `${id}-password`,
    passwordError: `${id}-password-error`,
  };

  async function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const data = new FormData(e.currentTarget);
    const username = String(data.get("username") ?? "").trim();
    const password = String(data.get("password") ?? "");

    const errors: FieldErrors = {};
    if (!username) errors.username = "Enter your username.";
    if (!password) errors.password = "Enter your password.";
    setFieldErrors(errors);
    if (errors.username || errors.password) {
      setFormError(null);
      (errors.username ? usernameRef : passwordRef).current?.focus();
      return;
    }

    setPending(true);
    setFormError(null);
    try {
      const res = await signIn("credentials", { username, password, redirect: false, callbackUrl });
      if (res?.ok && !res.error) {
        // A full navigation, so every server-rendered part of the page sees the new session cookie.
        window.location.assign(callbackUrl);
        return;
      }
      setFormError(
        // next-auth reports a refused password as "CredentialsSignin"; an outage as another code.
        res?.error === "CredentialsSignin"
          ? "Unknown username or wrong password."
          : "Sign-in is not available right now. Please try again in a moment.",
      );
    } catch {
      setFormError("We couldn't reach the server. Check your connection and try again.");
    }
    setPending(false);
    if (passwordRef.current) passwordRef.current.value = "";
    passwordRef.current?.focus();
  }

  const describedBy = (fieldErrorId: string, hasFieldError: boolean) =>
    [hasFieldError ? fieldErrorId : null, formError ? ids.formError : null].filter(Boolean).join(" ") || undefined;

  return (
    <form noValidate onSubmit={onSubmit} className="card space-y-5">
      {formError && (
        <p
          id={ids.formError}
          role="alert"
          className="rounded-md border-l-8 border-error-dark bg-error-lighter px-4 py-3 font-semibold"
        >
          {formError}
        </p>
      )}

      <div className="space-y-1">
        <label htmlFor={ids.username} className="block font-bold">
          Username
        </label>
        {fieldErrors.username && (
          <p id={ids.usernameError} className="font-semibold text-error-dark">
            {fieldErrors.username}
          </p>
        )}
        <input
          ref={usernameRef}
          id={ids.username}
          name="username"
          type="text"
          autoComplete="username"
          autoCapitalize="none"
          spellCheck={false}
          required
          aria-invalid={fieldErrors.username || formError ? true : undefined}
          aria-describedby={describedBy(ids.usernameError, !!fieldErrors.username)}
          className="block w-full rounded border-2 border-ink px-3 py-2 text-lg aria-invalid:border-error-dark"
        />
      </div>

      <div className="space-y-1">
        <label htmlFor={ids.password} className="block font-bold">
          Password
        </label>
        {fieldErrors.password && (
          <p id={ids.passwordError} className="font-semibold text-error-dark">
            {fieldErrors.password}
          </p>
        )}
        <input
          ref={passwordRef}
          id={ids.password}
          name="password"
          type="password"
          autoComplete="current-password"
          required
          aria-invalid={fieldErrors.password || formError ? true : undefined}
          aria-describedby={describedBy(ids.passwordError, !!fieldErrors.password)}
          className="block w-full rounded border-2 border-ink px-3 py-2 text-lg aria-invalid:border-error-dark"
        />
      </div>

      <button type="submit" className="btn btn-primary w-full text-lg" disabled={pending}>
        {pending ? "Signing in…" : "Sign in"}
      </button>
    </form>
  );
}
