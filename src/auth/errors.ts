/**
 * The domain errors, for modules of `auth/`. They live in `src/errors.ts`, which imports nothing,
 * so that `store/` (the ground floor) can raise them without importing the layer above it.
 */
export * from '../errors.ts';
