export { GET } from "@/app/api/v1/auth/jwks/route";

export const dynamic = "force-dynamic";
