// `GET /services` is the contract's short alias of `GET /api/v1/services`.
export { GET } from "@/app/api/v1/services/route";

export const dynamic = "force-dynamic";
