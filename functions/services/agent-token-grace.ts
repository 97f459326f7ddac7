// The grace period of an agent-token rotation: its default, its bounds and their check. Apart from
// agent-tokens.ts (which re-exports them) so that the operators' console can read and check them
// without loading the database and Vault code a rotation needs.
import { z } from 'zod';

/** How long a rotated-out token keeps working by default, and at most (a rotation may say 0: at once). */
export const DEFAULT_GRACE_SECONDS = 600;
export const MAX_GRACE_SECONDS = 3600;
export const graceSecondsSchema = z
  .number()
  .int('must be a whole number of seconds')
  .min(0, 'must be 0 to 3600')
  .max(MAX_GRACE_SECONDS, 'must be 0 to 3600');
