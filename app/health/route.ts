// `GET /health` is the contract's short alias of `GET /api/v1/health`.
export { GET } from "@/app/api/v1/health/route";

export const dynamic = "force-dynamic";
