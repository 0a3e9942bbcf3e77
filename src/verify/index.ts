/**
 * `gatehouse/verify`: the verifier of `@gatehouse/verify` (packages/verify), re-exported with its
 * Fastify typing (`request.tokenPrincipal`). In this repository the `gatehouse-source` condition
 * resolves the workspace link to the package's source; installed, to its build.
 */

export {
  createVerifier,
  type Guards,
  type HeadersLike,
  type Hook,
  type HookReply,
  type HookRequest,
  type RecentAuthOptions,
  type RequestVerdict,
  type Requirement,
  type TokenPrincipal,
  type VerifiedClaims,
  type Verifier,
  type VerifierGuards,
  type VerifierOptions,
  VerifyError,
  type VerifyErrorCode,
} from '@gatehouse/verify';
export { fastifyGuards } from '@gatehouse/verify/fastify';
