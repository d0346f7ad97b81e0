// `POST /claims` is the contract's short alias of `POST /api/v1/claims`.
export { POST } from "@/app/api/v1/claims/route";

export const dynamic = "force-dynamic";
