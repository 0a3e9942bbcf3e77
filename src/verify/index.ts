/**
 * `gatehouse/verify`: the verifier of `@gatehouse/verify` (packages/verify), re-exported with its
 * Fastify typing (`request.tokenPrincipal`). Imported from source by path: Node strips types only
 * outside node_modules, where the workspace package is linked.
 */

export { fastifyGuards } from '../../packages/verify/src/fastify.ts';
export {
  createVerifier,
  type Guards,
  type HeadersLike,
  type Hook,
  type HookReply,
  type HookRequest,
  type RequestVerdict,
  type Requirement,
  type TokenPrincipal,
  type VerifiedClaims,
  type Verifier,
  type VerifierGuards,
  type VerifierOptions,
  VerifyError,
  type VerifyErrorCode,
} from '../../packages/verify/src/index.ts';
