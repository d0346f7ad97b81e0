"use client";

import { DataTable } from "../data-table";
import { LoadMoreButton } from "../load-more-button";
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname, useSearchParams } from "next/navigation";
import { useState } from "react";
import { ConfirmDialog } from "../board/confirm-dialog";
import { HealthBadge, MaintenanceBadge } from "../board/health-status";
import { TenantPicker } from "../board/tenant-picker";
import { isApiError } from "../queries/api-error";
import {
  registryApi,
  registryQueries,
  serviceEditHref,
  servicePageHref,
  withTenant,
  type ServiceView,
} from "../queries/registry";

/** The admin's registry: every service with its status, edit and delete, plus register / import / export. */
export function ServicesList({ canPickTenant, tenants }: { canPickTenant: boolean; tenants: readonly string[] }) {
  const pathname = usePathname();
  const params = useSearchParams();
  const tenant = canPickTenant ? params.get("tenant") || null : null;
  const queryClient = useQueryClient();
  const query = useInfiniteQuery(registryQueries.services(tenant));
  const [deleting, setDeleting] = useState<ServiceView | null>(null);
  const [announcement, setAnnouncement] = useState("");

  const remove = useMutation({
    mutationFn: (svc: ServiceView) => registryApi.deleteService(svc.name, svc.tenant),
    onSuccess: async (_, svc) => {
      setDeleting(null);
      setAnnouncement(`Deleted ${svc.name}${canPickTenant ? ` (${svc.tenant})` : ""}.`);
      await queryClient.invalidateQueries({ queryKey: registryQueries.all() });
    },
  });

  const services = query.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <div className="space-y-6">
      <div className="flex flex-wrap items-end justify-between gap-4">
        <div className="space-y-1">
          <h1 className="text-4xl font-bold tracking-tight">Service registry</h1>
          <p className="text-muted">
            Register, change and remove the services the board watches and the gateway routes to.
          </p>
        </div>
        <p className="flex flex-wrap gap-2">
          <Link href="/admin/services/new" className="btn btn-primary">
            Register a service
          </Link>
          <Link href="/admin/registry" className="btn btn-secondary">
            Import registry.yml
          </Link>
          <a href={withTenant("/api/v1/registry/export", tenant)} download="registry.yml" className="btn btn-secondary">
            Export registry.yml
          </a>
        </p>
      </div>

      {canPickTenant && (
        <TenantPicker
          tenants={tenants}
          value={tenant}
          onChange={(t) =>
            // In place (useSearchParams follows the History API): no server round trip for a filter.
            window.history.replaceState(null, "", t ? `${pathname}?tenant=${encodeURIComponent(t)}` : pathname)
          }
        />
      )}

      <p role="status" className="font-semibold">
        {announcement}
      </p>

      {query.isPending ? (
        <p role="status" className="text-muted">
          Loading services…
        </p>
      ) : !query.data ? (
        <div role="alert" className="space-y-3 rounded-md border-l-8 border-error-dark bg-error-lighter p-4">
          <p className="font-bold">We couldn’t load the registry.</p>
          <p>{isApiError(query.error) ? query.error.detail : "Please try again."}</p>
          <button type="button" className="btn btn-secondary" onClick={() => void query.refetch()}>
            Try again
          </button>
        </div>
      ) : services.length === 0 ? (
        <div className="rounded-md border border-line bg-surface p-6 text-center">
          <p className="text-lg font-semibold">No services registered yet{tenant ? ` for ${tenant}` : ""}.</p>
          <p className="mt-1 text-muted">
            <Link href="/admin/services/new">Register one with the form</Link> or{" "}
            <Link href="/admin/registry">import a registry.yml</Link>.
          </p>
        </div>
      ) : (
        <>
          <DataTable
            labelledBy="services-table-caption"
            caption="Registered services"
            columns={[
              { key: "service", label: "Service" },
              canPickTenant && { key: "agency", label: "Agency" },
              { key: "status", label: "Status" },
              { key: "instances", label: "Instances", numeric: true },
              { key: "checks", label: "Checks" },
              { key: "actions", label: <span className="sr-only">Actions</span> },
            ]}
          >
            {services.map((svc) => (
              <tr key={`${svc.tenant}/${svc.name}`} className="border-t border-line align-top">
                <th scope="row" className="px-3 py-2 font-normal">
                  <Link href={servicePageHref(svc.name, svc.tenant)} className="font-mono font-semibold">
                    {svc.name}
                  </Link>
                  {svc.description && <span className="block text-xs text-muted">{svc.description}</span>}
                </th>
                {canPickTenant && <td className="px-3 py-2">{svc.tenant}</td>}
                <td className="px-3 py-2">
                  <span className="flex flex-wrap gap-1">
                    <HealthBadge status={svc.status} size="sm" />
                    {svc.maintenance && <MaintenanceBadge size="sm" />}
                  </span>
                </td>
                <td className="px-3 py-2 text-right tabular-nums">{svc.instances.length}</td>
                <td className="px-3 py-2 whitespace-nowrap">
                  <code className="font-mono">{svc.healthPath}</code> every {svc.checkIntervalSeconds} s
                </td>
                <td className="px-3 py-2">
                  <span className="flex flex-wrap justify-end gap-2">
                    <Link
                      href={serviceEditHref(svc.name, svc.tenant)}
                      className="btn btn-secondary px-3 py-1 text-sm"
                      aria-label={`Edit ${svc.name}`}
                    >
                      Edit
                    </Link>
                    <button
                      type="button"
                      className="btn px-3 py-1 text-sm text-error-dark ring-2 ring-error-dark ring-inset hover:bg-error-lighter"
                      aria-label={`Delete ${svc.name}`}
                      onClick={() => {
                        remove.reset();
                        setDeleting(svc);
                      }}
                    >
                      Delete
                    </button>
                  </span>
                </td>
              </tr>
            ))}
          </DataTable>
          <div className="flex flex-wrap items-center gap-4">
            <LoadMoreButton query={query} label="Show more services" />
            <p className="text-sm text-muted">
              Showing {services.length} {services.length === 1 ? "service" : "services"}
              {query.hasNextPage ? "" : " — that’s all of them"}.
            </p>
          </div>
        </>
      )}

      <ConfirmDialog
        open={deleting !== null}
        title={`Delete ${deleting?.name ?? "this service"}?`}
        confirmLabel="Delete service"
        destructive
        pending={remove.isPending}
        error={remove.isError ? remove.error.message : null}
        onCancel={() => setDeleting(null)}
        onConfirm={() => deleting && remove.mutate(deleting)}
      >
        <p>
          This removes <strong>{deleting?.name}</strong>
          {canPickTenant ? ` of ${deleting?.tenant}` : ""} and its {deleting?.instances.length ?? 0}{" "}
          {deleting?.instances.length === 1 ? "instance" : "instances"} from the registry, with their health history.
          The gateway stops routing to it at once.
        </p>
        <p className="text-muted">This can’t be undone, but you can register the service again.</p>
      </ConfirmDialog>
    </div>
  );
}
