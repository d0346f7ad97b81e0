"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import type { ReactNode } from "react";
import { BreakerBadges } from "../circuits/breaker-badges";
import { isApiError } from "../queries/api-error";
import { circuitQueries } from "../queries/circuits";
import {
  defaultGatewayAccess,
  registryApi,
  registryQueries,
  serviceEditHref,
  type ServiceView,
} from "../queries/registry";
import { LoadingStatus } from "../query-states";
import { describeGatewayAccess } from "../services/gateway-access-words";
import { Ago, Since } from "./ago";
import { FailuresTable } from "./failures-table";
import { HealthBadge, MaintenanceBadge, healthStyles } from "./health-status";
import { HistoryChart } from "./history-chart";
import { InstanceTable } from "./instance-table";
import { formatAbsolute, formatLatency } from "./relative-time";
import { capitalise } from "./words";

/**
 * One service, live: status and why, its breakers and failover, the instances (drain / enable,
 * force / release breakers), the check history chart and the latest failures. Admins also get
 * the maintenance switch and the edit link.
 */
export function ServiceDetail({ name, tenant, isAdmin }: { name: string; tenant: string | null; isAdmin: boolean }) {
  const query = useQuery(registryQueries.service(name, tenant));

  if (query.isPending) {
    return (
      <div className="space-y-6">
        <h1 className="text-4xl font-bold tracking-tight break-words">{name}</h1>
        <LoadingStatus text="Loading the service…" />
      </div>
    );
  }

  if (!query.data) {
    const err = query.error;
    const notFound = isApiError(err) && err.status === 404;
    const forbidden = isApiError(err) && err.status === 403;
    return (
      <div className="space-y-6">
        <h1 className="text-4xl font-bold tracking-tight break-words">{name}</h1>
        <div role="alert" className="space-y-3 rounded-md border-l-8 border-error-dark bg-error-lighter p-4">
          <p className="font-bold">
            {notFound
              ? "There is no such service."
              : forbidden
                ? "This service is not yours to see."
                : "We couldn’t load this service."}
          </p>
          <p>
            {notFound
              ? `No service named “${name}” is registered${tenant ? ` for ${tenant}` : ""}. It may have been removed or renamed.`
              : (err?.message ?? "Please try again in a moment.")}
          </p>
          <p className="flex flex-wrap gap-3">
            {!notFound && !forbidden && (
              <button type="button" className="btn btn-secondary" onClick={() => void query.refetch()}>
                Try again
              </button>
            )}
            <Link href="/" className="btn btn-primary">
              Back to the board
            </Link>
          </p>
        </div>
      </div>
    );
  }

  const svc = query.data;
  const effectiveTenant = tenant ?? null;

  return (
    <div className="space-y-10">
      <ServiceHeader svc={svc} tenant={effectiveTenant} isAdmin={isAdmin} refreshFailed={query.isRefetchError} />

      <section aria-labelledby="instances-heading" className="space-y-3">
        <h2 id="instances-heading" className="text-2xl font-bold">
          Instances
        </h2>
        <InstanceTable service={svc} tenant={effectiveTenant} labelledBy="instances-heading" />
      </section>

      <section aria-labelledby="history-heading" className="space-y-3">
        <h2 id="history-heading" className="text-2xl font-bold">
          Check history
        </h2>
        <HistoryChart service={svc.name} tenant={effectiveTenant} />
      </section>

      <section aria-labelledby="failures-heading" className="space-y-3">
        <h2 id="failures-heading" className="text-2xl font-bold">
          Recent failures
        </h2>
        <FailuresTable service={svc.name} tenant={effectiveTenant} labelledBy="failures-heading" />
      </section>
    </div>
  );
}

function ServiceHeader({
  svc,
  tenant,
  isAdmin,
  refreshFailed,
}: {
  svc: ServiceView;
  tenant: string | null;
  isAdmin: boolean;
  refreshFailed: boolean;
}) {
  const style = healthStyles[svc.status];
  const healthy = svc.instances.filter((i) => i.enabled && i.status === "green").length;
  const enabled = svc.instances.filter((i) => i.enabled).length;

  return (
    <header className={`space-y-4 rounded-md border border-l-8 border-line p-5 ${style.tile} ${style.edge}`}>
      <div className="flex flex-wrap items-start justify-between gap-4">
        <div className="min-w-0 space-y-2">
          <p className="text-sm text-muted">
            Service of <strong className="text-ink">{svc.tenant}</strong>
          </p>
          <div className="flex flex-wrap items-center gap-3">
            <h1 className="text-4xl font-bold tracking-tight break-words">{svc.name}</h1>
            <HealthBadge status={svc.status} size="lg" />
            {svc.maintenance && <MaintenanceBadge />}
            <ServiceBreakers name={svc.name} tenant={tenant} />
          </div>
          {svc.status !== "green" && (
            <p className="text-lg font-semibold" data-testid="service-reason">
              <span className="sr-only">Why: </span>
              {capitalise(svc.statusReason?.trim() || style.meaning)}
            </p>
          )}
          <p className="text-sm text-muted">
            {svc.statusChangedAt ? (
              <span title={`Since ${formatAbsolute(svc.statusChangedAt)}`}>
                {style.label} for <Since iso={svc.statusChangedAt} />
              </span>
            ) : (
              "No status change recorded yet"
            )}
            {" · "}
            {healthy}/{enabled} enabled instances healthy
            {enabled < svc.instances.length ? ` · ${svc.instances.length - enabled} drained` : ""}
          </p>
          {svc.description && <p>{svc.description}</p>}
        </div>
        {isAdmin && (
          <div className="flex flex-col items-start gap-3">
            <MaintenanceSwitch svc={svc} tenant={tenant} />
            <Link href={serviceEditHref(svc.name, svc.tenant)} className="btn btn-secondary px-3 py-1.5 text-sm">
              Edit service
            </Link>
          </div>
        )}
      </div>

      <dl className="grid grid-cols-2 gap-x-6 gap-y-2 text-sm sm:grid-cols-3 lg:grid-cols-6">
        <Fact term="Health path" value={<code className="font-mono">{svc.healthPath}</code>} />
        <Fact term="Checked every" value={`${svc.checkIntervalSeconds} s`} />
        <Fact term="Timeout" value={formatLatency(svc.timeoutMs)} />
        <Fact term="Latency budget" value={formatLatency(svc.latencyBudgetMs)} />
        <Fact
          term="Red after"
          value={`${svc.failureThreshold} failed ${svc.failureThreshold === 1 ? "check" : "checks"}`}
        />
        <Fact
          term="Trusted again after"
          value={`${svc.successThreshold} passing ${svc.successThreshold === 1 ? "check" : "checks"}`}
        />
      </dl>
      <p className="text-sm" data-testid="service-access">
        <span className="text-muted">Through the gateway: </span>
        <span className="font-semibold">{describeGatewayAccess(svc.access ?? defaultGatewayAccess)}</span>
        {svc.access && !svc.access.roles.includes("veteran") ? " Veterans are refused." : ""}
      </p>

      <p className="text-xs text-muted">
        This page refreshes every 3 seconds
        {refreshFailed ? (
          <span className="font-semibold text-error-dark"> — the last refresh failed; retrying</span>
        ) : null}
        . Last instance check: <Ago iso={latestCheck(svc)} />.
      </p>
    </header>
  );
}

/** Open / half-open / forced breakers and the gateway's failover, as on the board tile. */
function ServiceBreakers({ name, tenant }: { name: string; tenant: string | null }) {
  const { data } = useQuery(circuitQueries.service(name, tenant));
  return data ? <BreakerBadges facts={data} size="md" /> : null;
}

function latestCheck(svc: ServiceView): string | null {
  let best: string | null = null;
  for (const i of svc.instances) {
    if (i.lastCheckedAt && (!best || Date.parse(i.lastCheckedAt) > Date.parse(best))) best = i.lastCheckedAt;
  }
  return best;
}

function Fact({ term, value }: { term: string; value: ReactNode }) {
  return (
    <div>
      <dt className="text-muted">{term}</dt>
      <dd className="font-semibold">{value}</dd>
    </div>
  );
}

function MaintenanceSwitch({ svc, tenant }: { svc: ServiceView; tenant: string | null }) {
  const queryClient = useQueryClient();
  const mutation = useMutation({
    mutationFn: (maintenance: boolean) => registryApi.updateService(svc.name, tenant, { maintenance }),
    onSuccess: (view) => {
      queryClient.setQueryData(registryQueries.service(svc.name, tenant).queryKey, view);
      void queryClient.invalidateQueries({ queryKey: registryQueries.all() });
    },
  });
  const on = mutation.isPending && mutation.variables !== undefined ? mutation.variables : svc.maintenance;

  return (
    <div className="space-y-1">
      <button
        type="button"
        role="switch"
        aria-checked={on}
        disabled={mutation.isPending}
        onClick={() => mutation.mutate(!svc.maintenance)}
        className="inline-flex items-center gap-3 rounded font-bold"
      >
        <span
          aria-hidden="true"
          className={`relative inline-block h-6 w-11 rounded-full border-2 transition-colors ${
            on ? "border-primary bg-primary" : "border-ink bg-white"
          }`}
        >
          <span
            className={`absolute top-0.5 h-4 w-4 rounded-full transition-all ${on ? "left-5 bg-white" : "left-0.5 bg-ink"}`}
          />
        </span>
        Maintenance mode
        <span className="text-sm font-normal">{on ? "(on)" : "(off)"}</span>
      </button>
      <p role="status" className="max-w-[16rem] text-xs">
        {mutation.isError
          ? `Couldn’t change maintenance: ${mutation.error.message}`
          : on
            ? "Checks keep running; this service is not counted as an outage."
            : ""}
      </p>
    </div>
  );
}
